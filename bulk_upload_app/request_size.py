"""How much of a request body the app reads: every size limit, and the one way it is enforced.

A body over its limit is refused before a byte is read when its Content-Length says so, and
stops being read the moment it grows past the limit otherwise, so a client can never make the
server read 500 MB under a 1 MB limit. Each entry point counts with a `BodyCounter` and answers
`TooLarge` in its own words: the wizard's upload requests (http_guard.py) and file
(uploaded_files.py), the API's multipart upload (api/receiving.py), SCIM's JSON (scim/app.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from bulk_upload_app.settings import Settings

MB = 1024 * 1024
# Multipart boundaries, part headers and the form's other fields, beside the file itself.
FORM_OVERHEAD_BYTES = 1 * MB
# A SCIM request, Bulk included: announced as Bulk's maxPayloadSize (/ServiceProviderConfig).
SCIM_BODY_BYTES = 1 * MB


def file_limit(settings: Settings) -> int:
    """An uploaded file's bytes (BULK_UPLOAD_MAX_FILE_MB)."""
    return settings.max_file_bytes


def upload_request_limit(settings: Settings) -> int:
    """A whole upload request: the file at its limit and the form around it."""
    return file_limit(settings) + FORM_OVERHEAD_BYTES


def file_limit_words(settings: Settings) -> str:
    """The file limit as an admin reads it: "100 MB"."""
    return f"{file_limit(settings) // MB} MB"


class TooLarge(Exception):
    """A body past its limit (no more of it is read)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body is over {limit} bytes")
        self.limit = limit


@dataclass
class BodyCounter:
    """A body's bytes counted as they stream in, against `limit`."""

    limit: int
    received: int = 0

    def check_declared(self, content_length: str | bytes | None) -> None:
        """TooLarge before a byte is read when the declared length is over the limit (a missing or
        malformed one is left to the count as the body streams)."""
        if content_length is None:
            return
        text = content_length.decode("latin-1") if isinstance(content_length, bytes) else content_length
        if text.strip().isdigit() and int(text) > self.limit:
            raise TooLarge(self.limit)

    def add(self, size: int) -> None:
        """Count `size` more bytes; TooLarge the moment the body passes its limit."""
        self.received += size
        if self.received > self.limit:
            raise TooLarge(self.limit)
