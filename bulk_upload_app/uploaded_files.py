"""Receiving an uploaded file: streamed to disk under a name we make, the size limit enforced
while it streams. Plain code (no Reflex), so the rules are tested without a browser."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.request_size import MB, BodyCounter, TooLarge

# The names new_upload_path makes, and the only files the retention purge may delete from the
# storage dir: an operator may point BULK_UPLOAD_STORAGE_DIR at a folder holding other things.
UPLOAD_FILE_NAME = re.compile(r"[0-9a-f]{32}\.upload")


def new_upload_path(storage_dir: Path) -> Path:
    """A fresh file in our storage dir (outside Reflex's public /_upload): nothing the browser
    sends names a path."""
    storage_dir.mkdir(parents=True, exist_ok=True)
    return storage_dir / f"{secrets.token_hex(16)}.upload"


def is_upload_file(path: Path) -> bool:
    """A file new_upload_path made (a real file, not a link or folder that merely has such a name)."""
    return UPLOAD_FILE_NAME.fullmatch(path.name) is not None and path.is_file() and not path.is_symlink()


async def receive_to_disk(chunks: AsyncIterator[Any], path: Path, max_bytes: int) -> str:
    """Write the streamed chunks to `path`; return the file name the browser gave.

    Past `max_bytes` FILE_TOO_LARGE is raised at once: no further chunk is taken, so the
    request stops being read (Reflex answers the upload request as soon as its handler is
    done) instead of a 500 MB body being read under a 1 MB limit. No file is EMPTY_FILE.
    """
    file_name, size = "", BodyCounter(max_bytes)
    with path.open("wb") as out:
        async for chunk in chunks:
            file_name = file_name or (getattr(chunk, "filename", "") or "upload")
            try:
                size.add(len(chunk.data))
            except TooLarge:
                raise FileProblem(ErrorCode.FILE_TOO_LARGE, reason=f"it is over {max_bytes // MB} MB") from None
            out.write(chunk.data)
    if not file_name:
        raise FileProblem(ErrorCode.EMPTY_FILE)
    return file_name
