"""The server's side of an upload: our own file name, the size limit enforced while streaming."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.uploaded_files import new_upload_path, receive_to_disk


@dataclass
class Chunk:
    filename: str
    data: bytes


def run(coroutine):
    """asyncio.run in its own thread: Playwright's sync API may leave a loop running in this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def stream(*chunks: Chunk):
    for chunk in chunks:
        yield chunk


def receive(tmp_path, *chunks, max_bytes=10):
    path = new_upload_path(tmp_path / "store")
    return path, run(receive_to_disk(stream(*chunks), path, max_bytes))


def test_a_file_is_stored_under_our_own_name(tmp_path):
    path, name = receive(tmp_path, Chunk("../../etc/passwd", b"abc"), Chunk("../../etc/passwd", b"def"))
    assert name == "../../etc/passwd"  # kept only as a label; it names no path
    assert path.parent == tmp_path / "store" and path.name.endswith(".upload") and len(path.stem) == 32
    assert path.read_bytes() == b"abcdef"


def test_names_are_never_reused(tmp_path):
    assert len({new_upload_path(tmp_path) for _ in range(50)}) == 50


def test_over_the_limit_nothing_more_is_written_and_nothing_more_is_read(tmp_path):
    seen = []

    async def counted():
        for part in (b"12345", b"67890", b"X" * 1000, b"Y" * 1000):
            seen.append(part)
            yield Chunk("big.csv", part)

    path = new_upload_path(tmp_path)
    with pytest.raises(FileProblem) as caught:
        run(receive_to_disk(counted(), path, 10))
    assert caught.value.code is ErrorCode.FILE_TOO_LARGE
    # The chunk that passed the limit is the last one taken: the rest of the body is never read.
    assert path.stat().st_size == 10 and len(seen) == 3


def test_exactly_the_limit_is_accepted(tmp_path):
    path, _ = receive(tmp_path, Chunk("a.csv", b"x" * 10))
    assert path.stat().st_size == 10


def test_no_file_at_all_is_empty(tmp_path):
    with pytest.raises(FileProblem) as caught:
        receive(tmp_path)
    assert caught.value.code is ErrorCode.EMPTY_FILE
