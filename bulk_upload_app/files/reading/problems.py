"""The reader's problems and the words it uses in them.

A whole-file problem is a `FileProblem` (UNSUPPORTED_FILE or FILE_TOO_LARGE, built here);
`_CallerError` carries what is not the file's fault out of the reader untouched. The small
formatters make every message count, size and name cells the same way.
"""

from __future__ import annotations

from bulk_upload_app.errors import ErrorCode, FileProblem


class _CallerError(Exception):
    """Carries an exception that is not the file's fault (is_header's bug, no process to spawn)."""

    def __init__(self, original: BaseException):
        super().__init__(str(original))
        self.original = original


def _unsupported(reason: str) -> FileProblem:
    return FileProblem(ErrorCode.UNSUPPORTED_FILE, reason=reason)


def _too_large(reason: str) -> FileProblem:
    return FileProblem(ErrorCode.FILE_TOO_LARGE, reason=reason)


def _n(value: int) -> str:
    return f"{value:,}"


def _size(num_bytes: int) -> str:
    if num_bytes < 1024:
        return f"{num_bytes:,} bytes"
    if num_bytes < 1024 * 1024:
        return f"{num_bytes / 1024:,.0f} KB"
    mb = num_bytes / (1024 * 1024)
    if mb >= 1024:
        return f"{mb / 1024:,.1f} GB"
    if mb >= 10 or mb == int(mb):
        return f"{mb:,.0f} MB"
    return f"{mb:,.1f} MB"


def col_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _col_number(letters: bytes | str) -> int:
    """A -> 1, Z -> 26, AA -> 27 (1-based, case-insensitive)."""
    if isinstance(letters, bytes):
        letters = letters.decode("ascii")
    number = 0
    for ch in letters.upper():
        number = number * 26 + (ord(ch) - 64)
    return number


def _is_panic(exc: BaseException) -> bool:
    """pyo3's PanicException (polars, calamine) derives from BaseException, not Exception."""
    return type(exc).__name__ == "PanicException"
