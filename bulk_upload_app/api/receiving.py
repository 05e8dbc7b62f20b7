"""A multipart upload received as the wizard receives one: the file part streamed straight to a
fresh file in the storage dir (uploaded_files.new_upload_path), its SHA-256 taken on the way, the
size limit enforced while it streams. Nothing is held whole in memory, and no temporary copy is
made beside ours (a framework's form parser would spool the file once more).

Past the limit the request stops being read at once, as request_size enforces every limit: the
file against the file limit, the whole body against the file limit plus the form around it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from bulk_upload_app.api.problems import Problem, invalid
from bulk_upload_app.errors import ErrorCode
from bulk_upload_app.request_size import BodyCounter, TooLarge, file_limit, file_limit_words, upload_request_limit
from bulk_upload_app.settings import get_settings
from bulk_upload_app.uploaded_files import new_upload_path

FIELD_BYTES = 64 * 1024  # a form field other than the file (settings JSON, emails)
MAX_PARTS = 32


@dataclass
class Received:
    path: Path
    file_name: str = ""
    sha256: str = ""
    size: int = 0
    fields: dict[str, list[str]] = field(default_factory=dict)

    def first(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None


def _too_large() -> Problem:
    return Problem(
        413,
        ErrorCode.FILE_TOO_LARGE,
        reason=f"uploads are limited to {file_limit_words(get_settings())}",
        headers={"Connection": "close"},
    )


async def receive_upload(request: Request) -> Received:
    """The form's file on disk and its other fields; a Problem for anything we won't take."""
    settings = get_settings()
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise Problem(
            415,
            ErrorCode.INVALID_REQUEST,
            reason="send the file as multipart/form-data with a part named file.",
        )
    body = BodyCounter(upload_request_limit(settings))
    try:
        body.check_declared(request.headers.get("content-length"))
    except TooLarge:
        raise _too_large() from None
    received = Received(path=new_upload_path(settings.storage_dir))
    try:
        await _parse(request, options[b"boundary"], received, body, BodyCounter(file_limit(settings)))
    except BaseException:
        received.path.unlink(missing_ok=True)
        raise
    if not received.file_name:
        received.path.unlink(missing_ok=True)
        raise invalid("the form has no file: send the users file in a part named file.")
    return received


@dataclass
class _Part:
    """The part being parsed, and the header being read."""

    name: str = ""
    value: bytes = b""
    header_field: bytes = b""
    header_value: bytes = b""
    count: int = 0
    headers: dict[bytes, bytes] = field(default_factory=dict)


async def _parse(request: Request, boundary: bytes, received: Received, body: BodyCounter, file: BodyCounter) -> None:
    digest = hashlib.sha256()
    pending: list[bytes] = []  # file bytes parsed from the last chunk, written off the event loop
    part = _Part()

    def on_part_begin() -> None:
        part.headers.clear()
        part.name, part.value = "", b""
        part.count += 1
        if part.count > MAX_PARTS:
            raise invalid(f"the form has more than {MAX_PARTS} parts.")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part.header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part.header_value += data[start:end]

    def on_header_end() -> None:
        part.headers[part.header_field.lower()] = part.header_value
        part.header_field, part.header_value = b"", b""

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(part.headers.get(b"content-disposition", b""))
        part.name = disposition.get(b"name", b"").decode("utf-8", "replace")
        if part.name == "file":
            if received.file_name:
                raise invalid("send one file per upload.")
            given = disposition.get(b"filename") or b"upload"
            received.file_name = (
                given.decode("utf-8", "replace").replace("\\", "/").rsplit("/", 1)[-1][-255:] or "upload"
            )

    def on_part_data(data: bytes, start: int, end: int) -> None:
        piece = data[start:end]
        if part.name == "file":
            try:
                file.add(len(piece))
            except TooLarge:
                raise _too_large() from None
            received.size = file.received
            digest.update(piece)
            pending.append(piece)
        else:
            part.value += piece
            if len(part.value) > FIELD_BYTES:
                raise invalid(f"the field {part.name[:40]!r} is longer than {FIELD_BYTES // 1024} KB.")

    def on_part_end() -> None:
        if part.name and part.name != "file":
            received.fields.setdefault(part.name[:100], []).append(part.value.decode("utf-8", "replace"))

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
        },
    )
    with received.path.open("wb") as out:
        async for chunk in request.stream():
            try:
                body.add(len(chunk))
            except TooLarge:
                raise _too_large() from None
            try:
                parser.write(chunk)
            except Problem:
                raise
            except Exception as exc:  # the parser's own errors: a malformed body
                raise invalid(f"the multipart body is malformed ({type(exc).__name__}).") from None
            if pending:
                data = b"".join(pending)
                pending.clear()
                await run_in_threadpool(out.write, data)
        parser.finalize()
    received.sha256 = digest.hexdigest()
