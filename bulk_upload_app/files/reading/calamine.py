"""Workbooks: python-calamine, in a child process (the parent's side).

`_Worker` starts `calamine_worker` (see its docstring for why and for the protocol) with
memory and CPU limits and a wall-clock timeout, feeds it the file, and turns its answer
into text columns or a `FileProblem`. It starts before the zip checks so the child parses
on the other core meanwhile; `cancel()` kills it when those checks refuse the file.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl

from bulk_upload_app.errors import FileProblem
from bulk_upload_app.files.reading.limits import _MAX_SHEET_CELLS
from bulk_upload_app.files.reading.problems import _CallerError, _n, _too_large, _unsupported

log = logging.getLogger(__package__)  # the reader logs under one name, as before its split

_WORKER_MODULE = f"{__package__}.calamine_worker"
# The directory holding the bulk_upload_app this module belongs to (reading, files, bulk_upload_app, it).
_CODE_ROOT = Path(__file__).resolve().parents[3]

_WORKER_TIMEOUT = 300  # seconds of wall time; a 1,000,000-row xlsx takes ~8 s
_WORKER_CPU = 240


def _worker_memory(size: int) -> int:
    """Address space for the child: its peak is ~40x the workbook's size (measured)."""
    return min(8 * 1024**3, 512 * 1024**2 + 64 * size)


class _Worker:
    """python-calamine in a child process, started early so the parent checks the zip meanwhile."""

    def __init__(self, data: bytes, fmt: str):
        import python_calamine

        lib_dir = str(Path(python_calamine.__file__).resolve().parent.parent)
        # -I (isolated) minus -P: -E and -s keep PYTHON* variables and the user's site-packages
        # out; with -m the child's sys.path[0] is its working directory, here the one holding
        # the parent's own bulk_upload_app, so the child runs the parent's code even when another
        # copy is installed (the virtualenv's editable install points at another checkout).
        cmd = [
            sys.executable,
            "-E",
            "-s",
            "-m",
            _WORKER_MODULE,
            fmt,
            str(_worker_memory(len(data))),
            str(_WORKER_CPU),
            str(_MAX_SHEET_CELLS),
            lib_dir,
        ]
        self.fmt = fmt
        self.data = data
        self.out = b""
        self.err = b""
        self.timed_out = False
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=_CODE_ROOT
            )
        except OSError as exc:  # the server's problem, not the file's: let it surface as such
            raise _CallerError(exc) from exc
        self.thread = threading.Thread(target=self._talk, name="calamine-worker", daemon=True)
        self.thread.start()

    def _talk(self) -> None:
        try:
            self.out, self.err = self.proc.communicate(self.data, timeout=_WORKER_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.timed_out = True
            self.proc.kill()
            self.out, self.err = self.proc.communicate()
        except Exception:  # e.g. the pipe broke because the child was killed
            self.proc.kill()
            self.proc.wait()

    def cancel(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.thread.join()

    def result(self) -> list:
        """[(sheet name, visible worksheet?, text columns or None)], or a FileProblem."""
        self.thread.join()
        if self.timed_out:
            raise _unsupported("it takes too long to open; it may be damaged")
        payload = None
        if self.proc.returncode == 0:
            try:
                payload = marshal.loads(self.out)
            except (EOFError, ValueError, TypeError):
                payload = None
        if not isinstance(payload, dict):
            if b"memory allocation" in self.err or self.proc.returncode in (-9, 137):
                raise _too_large("opening it needs more memory than an upload may use; it may be damaged")
            log.warning("spreadsheet worker ended with %s: %s", self.proc.returncode, self.err[-500:])
            raise _workbook_damaged(self.fmt)
        error = payload.get("error")
        if error == "password":
            raise _unsupported("the workbook is password-protected")
        if error == "memory":
            raise _too_large("opening it needs more memory than an upload may use")
        if error == "too_large":
            raise _too_large(
                f'the sheet "{payload["sheet"]}" spans {_n(payload["rows"])} rows and {_n(payload["cols"])} columns; '
                f"a sheet can span at most {_n(_MAX_SHEET_CELLS)} cells"
            )
        if error:
            detail = payload.get("detail", "")
            if "Cell limit exceeded" in detail:
                raise _too_large("a sheet declares more cells than a spreadsheet can hold")
            log.info("calamine could not open %s upload: %s", self.fmt, detail)
            raise _workbook_damaged(self.fmt)
        return payload["sheets"]


def _workbook_damaged(fmt: str) -> FileProblem:
    what = {"xls": "an Excel 97-2003 (.xls)", "xlsx": "an Excel (.xlsx)", "ods": "an OpenDocument (.ods)"}[fmt]
    return _unsupported(f"it looks like {what} file but is damaged or not a real spreadsheet")


def _frame_from_columns(columns: list[list[str]]) -> pl.DataFrame:
    if not columns:
        return pl.DataFrame({"row": pl.Series([], dtype=pl.Int64)})
    frame = pl.DataFrame({f"c{i}": pl.Series(col, dtype=pl.String) for i, col in enumerate(columns)})
    return frame.with_columns(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("row"))
