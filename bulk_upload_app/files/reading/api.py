"""`read_table`: the reader's one entry point and its promise - a `RawTable` or a `FileProblem`."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bulk_upload_app.errors import FileProblem
from bulk_upload_app.files.reading.limits import RawTable, ReadLimits
from bulk_upload_app.files.reading.problems import _CallerError, _is_panic, _too_large, _unsupported
from bulk_upload_app.files.reading.reader import _Reader

log = logging.getLogger(__package__)  # the reader logs under one name, as before its split


def read_table(
    data: bytes,
    filename: str,
    limits: ReadLimits | None = None,
    is_header: Callable[[list[str]], bool] | None = None,
) -> RawTable:
    """Read an upload into a `RawTable`, or raise `FileProblem`.

    `is_header(cells)` says whether a row's cells look like the template's column titles; it
    picks the header row (among the first 30 non-blank rows) and, in workbooks, the sheet.
    Without it the first non-blank row is the header and the first non-empty sheet is read.
    """
    limits = limits or ReadLimits()
    reader = _Reader(bytes(data), filename or "", limits, is_header)
    try:
        return reader.read()
    except FileProblem:
        raise
    except _CallerError as exc:  # is_header's own bug, or the server can't start a process: not the file
        raise exc.original from None
    except MemoryError:
        raise _too_large("it needs more memory to open than an upload may use") from None
    except RecursionError:
        raise _unsupported("its structure is too deeply nested to read") from None
    except Exception:  # the promise is FileProblem or a table; keep the trace for us
        log.exception("unexpected error reading upload %r (%d bytes)", filename, len(data))
        raise _unsupported("it is damaged or in a form we don't recognise") from None
    except BaseException as exc:
        if not _is_panic(exc):  # KeyboardInterrupt, SystemExit...
            raise
        log.exception("a Rust library panicked reading upload %r (%d bytes)", filename, len(data))
        raise _unsupported("it is damaged or in a form we don't recognise") from None
