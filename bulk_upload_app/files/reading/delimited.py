"""Delimited text: which delimiter, then the text as a frame of strings (polars for the simple
quote-free file, Python's csv module for the rest)."""

from __future__ import annotations

import contextlib
import csv
import gc
import io
import re
from collections import Counter
from collections.abc import Iterator
from itertools import islice

import polars as pl

from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.files.reading.limits import _WS, ReadLimits
from bulk_upload_app.files.reading.problems import _is_panic, _n, _too_large

_SEP_LINE = re.compile(r'\A[ \t]*"?sep=(.)"?[ \t]*(?:\r\n|\r|\n|\Z)', re.IGNORECASE)
_CANDIDATES = [",", ";", "\t", "|"]


def _find_delimiter(text: str, ext: str) -> tuple[str, str]:
    """Return (text without an Excel `sep=` line, delimiter)."""
    m = _SEP_LINE.match(text)
    if m and m.group(1) not in '"\r\n':
        return text[m.end() :], m.group(1)
    sample = text[: 64 * 1024]
    truncated = len(text) > len(sample)
    order = ["\t", ",", ";", "|"] if ext == ".tsv" else _CANDIDATES
    best: tuple[float, int, int] | None = None
    choice = order[0]
    for rank, delim in enumerate(order):
        rows = list(
            islice(
                csv.reader(
                    io.StringIO(sample, newline=""), delimiter=delim, quotechar='"', skipinitialspace=True, strict=False
                ),
                400,
            )
        )
        if truncated and len(rows) > 1:
            rows.pop()
        counts = [len(r) for r in rows if any(f.strip() for f in r)]
        if not counts:
            continue
        multi = [c for c in counts if c >= 2]
        if not multi:
            continue
        tally = Counter(multi)
        mode, agree = max(tally.items(), key=lambda kv: (kv[1], kv[0]))
        score = (agree / len(counts), mode, -rank)
        if best is None or score > best:
            best, choice = score, delim
    return text, choice


def _text_has_columns(text: str, delimiter: str) -> bool:
    rows = islice(
        csv.reader(
            io.StringIO(text[:65536], newline=""),
            delimiter=delimiter,
            quotechar='"',
            skipinitialspace=True,
            strict=False,
        ),
        50,
    )
    return any(sum(1 for f in r if f.strip()) >= 2 for r in rows)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Building millions of small lists triggers full GC passes that triple the time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _frame_from_text(text: str, delimiter: str, limits: ReadLimits, utf8: bytes | None = None) -> pl.DataFrame:
    """`utf8`: the upload's own bytes when `text` is exactly their UTF-8 decoding (saves encoding it again)."""
    fast = _frame_polars(text, delimiter, limits, utf8)
    if fast is not None:
        return fast
    return _frame_python_csv(text, delimiter, limits)


def _frame_polars(text: str, delimiter: str, limits: ReadLimits, utf8: bytes | None = None) -> pl.DataFrame | None:
    """Fast path for the common, simple file: no quotes at all, and only LF or CRLF line ends.

    Without quotes a CSV is plain lines split on the delimiter, which polars does exactly
    like Python's csv module (checked by a property test). Anything else - quotes, bare CR
    line ends, rows longer than the first line - goes to the csv module.
    """
    if '"' in text or len(delimiter) != 1:
        return None
    carriage_returns = text.count("\r")  # counting "\r\n" is slow: only when there are CRs at all
    if carriage_returns and carriage_returns != text.count("\r\n"):
        return None
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    try:
        frame = pl.read_csv(
            utf8 if utf8 is not None else text.encode("utf-8"),
            has_header=False,
            separator=delimiter,
            quote_char=None,
            infer_schema=False,
            empty_string_is_null=False,
            truncate_ragged_lines=False,
            raise_if_empty=False,
        )
    except Exception:
        return None
    except BaseException as exc:
        if _is_panic(exc):
            return None
        raise
    if frame.height != lines or frame.width == 0 or frame.width > limits.max_columns:
        return None
    frame = frame.rename({old: f"c{i}" for i, old in enumerate(frame.columns)})
    return frame.with_columns(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("row"))


def _frame_python_csv(text: str, delimiter: str, limits: ReadLimits) -> pl.DataFrame:
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quotechar='"',
        doublequote=True,
        skipinitialspace=True,
        strict=False,
    )
    cap = 2 * limits.max_rows + 1000  # records, blank ones included
    with _gc_paused():
        records = list(islice(reader, cap))
        if next(reader, None) is not None:
            raise _too_large(f"it has more than {_n(cap)} lines; the limit is {_n(limits.max_rows)} rows")
        widths = list(map(len, records))
        width = max(widths, default=0)
        if width > limits.max_columns:
            # Trailing empty fields are harmless (Excel pads rows with delimiters): drop them.
            for i, rec in enumerate(records):
                if len(rec) > limits.max_columns:
                    while rec and not rec[-1].strip(_WS):
                        rec.pop()
                    widths[i] = len(rec)
            width = max(widths, default=0)
            if width > limits.max_columns:
                raise _too_large(f"it has {_n(width)} columns; the limit is {_n(limits.max_columns)}")
        if width == 0:
            raise FileProblem(ErrorCode.EMPTY_FILE)
        if min(widths) != width:
            pad = [""] * width
            records = [r if len(r) == width else r + pad[: width - len(r)] for r in records]
        columns = list(zip(*records)) if records else []
        del records
        frame = pl.DataFrame({f"c{i}": pl.Series(col, dtype=pl.String) for i, col in enumerate(columns)})
    return frame.with_columns(pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("row"))
