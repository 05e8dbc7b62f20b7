"""Read an uploaded users file (CSV/TSV/TXT, XLSX, XLS, ODS) into a table of text.

`read_table` turns the raw upload into a `RawTable`: the header row's cells and one text
column per header cell, with the spreadsheet row number the admin sees next to every row.
It never guesses types: every value is text, exactly as the admin typed it (numbers that a
spreadsheet stored as numbers are rendered the way Excel shows them).

Anything wrong with the file as a whole becomes a `FileProblem`; no other exception escapes.

Safety, in the order it is applied:

1. The upload size (`ReadLimits.max_bytes`) before anything else.
2. The format from the content (magic bytes), never from the name.
3. For zip-based workbooks (xlsx, ods), before any parser sees them: the number of entries,
   the declared uncompressed total, the per-entry compression ratio, then every entry is
   inflated here in bounded chunks to check its real size and CRC against the declared ones
   (a lying header cannot smuggle a bigger stream past the limits), and the worksheet XML is
   scanned for the extent of its cells. python-calamine materialises a sheet as a dense
   rows x columns grid (32 bytes a cell): two cells at A1 and XFD1048576 in a 1.5 KB xlsx make
   it try to allocate 512 GB and abort the process; an ODS declaring repeated rows/cells does
   the same. So a sheet whose grid would be far larger than its real content is refused.
4. python-calamine itself runs in a child process with memory/CPU limits and a timeout
   (see `_Worker`): fuzzing found small corrupt .xls/.xlsx/.ods files that make it abort(),
   panic or loop forever. The child starts parsing while step 3 runs on the other core and is
   killed if step 3 refuses the file.
5. Rows, columns and cell length limits on the table read.

CSV/TSV text is decoded strictly (UTF-8, UTF-16, or Windows-1252 when it is clearly Western
European text, never with replacement characters) and parsed in-process: by polars when the
file has no quotes and plain LF/CRLF lines (most exports), else by Python's csv module.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gc
import io
import json
import logging
import marshal
import re
import struct
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
import xml.parsers.expat
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path, PurePosixPath

import polars as pl

from .errors import ErrorCode, FileProblem

__all__ = ["RawTable", "ReadLimits", "read_table"]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# Public interface
# --------------------------------------------------------------------------------------


_ODS_CONTENT_LIMIT = 200 * 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    max_bytes: int = 100 * 1024 * 1024  # checked first, on the raw upload
    max_rows: int = 1_000_000  # data rows
    max_columns: int = 200
    max_cell_chars: int = 2_000  # a longer cell -> FILE_TOO_LARGE naming the cell
    max_uncompressed_bytes: int = 512 * 1024 * 1024  # xlsx/ods zip: declared total, before parsing
    max_zip_entries: int = 2_000
    max_compression_ratio: int = 200  # zip-bomb guard, per entry, before parsing


@dataclass
class RawTable:
    header: list[str]  # header cells, whitespace runs collapsed and stripped; "" for blank
    data: pl.DataFrame  # "c0".."c{n-1}" (pl.String, never null) + "row" (pl.Int64)
    header_row: int  # spreadsheet row number of the header
    extra_values: dict[int, int]  # row -> values it spans, for rows with values beyond the header
    file_format: str  # "csv" | "tsv" | "xlsx" | "xls" | "ods" (from the content)
    sheet_name: str | None
    encoding: str | None  # text files: "utf-8", "utf-8-sig", "utf-16", "cp1252" (+ "utf-16-le/-be")
    delimiter: str | None
    notices: list[str] = field(default_factory=list)


def read_table(
    data: bytes,
    filename: str,
    limits: ReadLimits = ReadLimits(),
    is_header: Callable[[list[str]], bool] | None = None,
) -> RawTable:
    """Read an upload into a `RawTable`, or raise `FileProblem`.

    `is_header(cells)` says whether a row's cells look like the template's column titles; it
    picks the header row (among the first 30 non-blank rows) and, in workbooks, the sheet.
    Without it the first non-blank row is the header and the first non-empty sheet is read.
    """
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


def _is_panic(exc: BaseException) -> bool:
    """pyo3's PanicException (polars, calamine) derives from BaseException, not Exception."""
    return type(exc).__name__ == "PanicException"


# --------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------

_HEADER_SEARCH_ROWS = 30
# A sheet grid (rows x columns, as calamine allocates it) may hold this many cells at most,
# and no more than _SPARSE_FACTOR times the cells the sheet really has (when above the floor).
_MAX_SHEET_CELLS = 30_000_000
_SHEET_CELLS_FLOOR = 5_000_000
_SPARSE_FACTOR = 4
_EXCEL_MAX_ROWS = 1_048_576
_EXCEL_MAX_COLS = 16_384
_RATIO_MIN_BYTES = 1024 * 1024  # the compression-ratio guard applies to entries bigger than this
_CHUNK = 8 * 1024 * 1024

# Python's notion of whitespace (str.split / str.strip / str.isspace), used for every value so
# that the polars strip and Python's agree exactly.
_WS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)  # == "".join(c for c in map(chr, range(0x110000)) if c.isspace()), checked by a test
_HEADER_JUNK = "\ufeff\u200b\u200c\u200d\u2060"  # BOM / zero-width characters in titles

_SPREADSHEET_EXTS = {".xlsx", ".xlsm", ".xls", ".ods", ".xlsb", ".xltx", ".xltm"}
_DELIMITER_NAMES = {",": "commas (,)", ";": "semicolons (;)", "\t": "tabs", "|": "vertical bars (|)"}
_FORMAT_NAMES = {
    "xlsx": "an Excel workbook (.xlsx)",
    "xls": "an Excel 97-2003 workbook (.xls)",
    "ods": "an OpenDocument spreadsheet (.ods)",
    "csv": "a CSV text file",
    "tsv": "a tab-separated text file",
}


# --------------------------------------------------------------------------------------
# Errors and small helpers
# --------------------------------------------------------------------------------------


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


def _normalise_header_cell(value: str) -> str:
    return " ".join(value.strip(_HEADER_JUNK).split()).strip(_HEADER_JUNK)


# --------------------------------------------------------------------------------------
# The reader
# --------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes, filename: str, limits: ReadLimits, is_header):
        self.data = data
        self.filename = filename
        self.ext = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
        self.limits = limits
        self.is_header = is_header
        self.notices: list[str] = []

    # -- entry --------------------------------------------------------------------------

    def read(self) -> RawTable:
        data, limits = self.data, self.limits
        if len(data) > limits.max_bytes:
            raise _too_large(f"it is {_size(len(data))}; the limit is {_size(limits.max_bytes)}")
        if not data:
            raise FileProblem(ErrorCode.EMPTY_FILE)
        if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
            return self._read_zip()
        if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
            return self._read_ole()
        self._reject_known_binary()
        return self._read_text()

    def _check_header_call(self, cells: list[str]) -> bool:
        if self.is_header is None:
            return False
        try:
            return bool(self.is_header(cells))
        except Exception as exc:
            raise _CallerError(exc) from exc

    def _name_mismatch_notice(self, fmt: str) -> None:
        expected = {
            ".xlsx": "xlsx", ".xlsm": "xlsx", ".xltx": "xlsx", ".xltm": "xlsx",
            ".xls": "xls", ".ods": "ods", ".csv": "csv", ".tsv": "tsv", ".txt": "csv",
        }.get(self.ext)
        same = expected == fmt or (expected in ("csv", "tsv") and fmt in ("csv", "tsv"))
        if expected is not None and not same:
            self.notices.append(
                f'The file is named "{self.filename}" but is {_FORMAT_NAMES[fmt]}; it was read as one.'
            )

    # -- binary signatures ----------------------------------------------------------------

    def _reject_known_binary(self) -> None:
        head = self.data[:16]
        signatures = [
            (b"%PDF", "it is a PDF document, not a spreadsheet"),
            (b"\x89PNG", "it is an image, not a spreadsheet"),
            (b"GIF8", "it is an image, not a spreadsheet"),
            (b"\xff\xd8\xff", "it is an image, not a spreadsheet"),
            (b"\x1f\x8b", "it is a compressed (gzip) archive, not a spreadsheet"),
            (b"Rar!", "it is a RAR archive, not a spreadsheet"),
            (b"7z\xbc\xaf", "it is a 7-Zip archive, not a spreadsheet"),
            (b"{\\rtf", "it is a Rich Text (RTF) document, not a spreadsheet"),
        ]
        for magic, reason in signatures:
            if head.startswith(magic):
                raise _unsupported(reason)

    # -- zip: xlsx / ods ------------------------------------------------------------------

    def _read_zip(self) -> RawTable:
        zf, infos = _open_zip(self.data, self.limits)
        names = {info.filename for info in infos}
        lower = {n.lower(): n for n in names}
        if "mimetype" in names:
            mime = _zip_read_small(zf, self.data, zf.getinfo("mimetype"), 200).strip()
            if mime == b"application/vnd.oasis.opendocument.spreadsheet":
                return self._read_ods(zf, infos)
            if mime.startswith(b"application/vnd.oasis.opendocument.text"):
                raise _unsupported("it is an OpenDocument text document, not a spreadsheet")
            if mime.startswith(b"application/vnd.oasis.opendocument"):
                raise _unsupported("it is an OpenDocument file but not a spreadsheet (.ods)")
        if "xl/workbook.bin" in lower:
            raise _unsupported("it is an Excel Binary Workbook (.xlsb); save it as .xlsx instead")
        if any(n.startswith("xl/") for n in lower):
            return self._read_xlsx(zf, infos)
        if any(n.startswith("word/") for n in lower):
            raise _unsupported("it is a Word document, not a spreadsheet")
        if any(n.startswith("ppt/") for n in lower):
            raise _unsupported("it is a PowerPoint presentation, not a spreadsheet")
        if "index.xml" in lower or any(n.startswith("index/") for n in lower):
            raise _unsupported("it is an Apple Numbers file; export it from Numbers as CSV or Excel")
        raise _unsupported("it is a ZIP archive, not a spreadsheet")

    def _read_xlsx(self, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> RawTable:
        # The cheap checks on the zip's directory are done. calamine now parses in its
        # sandboxed child while this process verifies every stream and measures the sheets;
        # if anything is wrong the child is killed before its result is used.
        worker = _Worker(self.data, "xlsx")
        try:
            errors_by_sheet = self._check_xlsx_parts(zf, infos)
        except BaseException:
            worker.cancel()
            raise
        self._name_mismatch_notice("xlsx")
        return self._read_workbook(worker, errors_by_sheet)

    def _check_xlsx_parts(self, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> dict:
        sheet_parts = _xlsx_sheet_parts(zf, self.data)
        known = {info.filename for info in infos}
        part_names = set(sheet_parts.values())
        if not part_names or not part_names <= known:
            # Could not map sheets to parts: scan every XML part that is not obviously metadata.
            part_names = {
                n for n in known
                if n.lower().endswith(".xml") and n.lower().startswith("xl/")
                and not n.lower().startswith(("xl/theme/", "xl/styles", "xl/sharedstrings"))
            }
        scans: dict[str, _XlsxSheetScan] = {}
        for info in infos:
            if info.filename not in part_names:
                for _ in _inflate_entry(self.data, info, self.limits):
                    pass
                continue
            scan = _XlsxSheetScan()
            for buf, end in _row_aligned(_inflate_entry(self.data, info, self.limits)):
                scan.feed(buf, end)
            label = _sheet_label(info.filename, sheet_parts)
            if scan.canonical:
                scan.check(self.limits, label, lambda info=info: _inflate_entry(self.data, info, self.limits))
            else:
                exact = _ExactXlsxScan()
                for chunk in _inflate_entry(self.data, info, self.limits):
                    exact.feed(chunk)
                exact.close()
                _check_extent(label, exact.n_cells, exact.max_row + 1, exact.max_col + 1, self.limits)
            scans[info.filename] = scan
        return {
            name: scans[part].error_cells for name, part in sheet_parts.items()
            if part in scans and scans[part].error_cells
        }

    def _read_ods(self, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> RawTable:
        if "META-INF/manifest.xml" in {i.filename for i in infos}:
            manifest = b"".join(_inflate_entry(self.data, zf.getinfo("META-INF/manifest.xml"), self.limits))
            if b"encryption-data" in manifest:
                raise _unsupported("the spreadsheet is password-protected")
        worker = _Worker(self.data, "ods")  # parses while the streams are verified here
        try:
            content = None
            for info in infos:
                if info.filename == "content.xml":
                    # The ODS checks need the whole XML in memory: cap it, so a file under the zip
                    # guards can't cost a gigabyte (a 500 MB content.xml peaked at 1,070 MB).
                    parts, size = [], 0
                    for chunk in _inflate_entry(self.data, info, self.limits):
                        size += len(chunk)
                        if size > _ODS_CONTENT_LIMIT:
                            raise FileProblem(ErrorCode.FILE_TOO_LARGE, reason=(
                                f"its sheet data is over {_ODS_CONTENT_LIMIT // 2**20} MB, the most we read from an "
                                "OpenDocument file; save it as .xlsx or .csv"))
                        parts.append(chunk)
                    content = b"".join(parts)
                    del parts
                else:
                    for _ in _inflate_entry(self.data, info, self.limits):
                        pass
            if content is None:
                raise _unsupported("the OpenDocument spreadsheet is damaged (it has no content)")
            _check_ods_content(content, self.limits)
            del content
        except BaseException:
            worker.cancel()
            raise
        self._name_mismatch_notice("ods")
        return self._read_workbook(worker, {})

    # -- OLE: xls, or a password-protected OOXML ------------------------------------------

    def _read_ole(self) -> RawTable:
        streams = _ole_stream_names(self.data)
        if "EncryptionInfo" in streams or "EncryptedPackage" in streams:
            raise _unsupported("the workbook is password-protected")
        if "WordDocument" in streams:
            raise _unsupported("it is a Word document, not a spreadsheet")
        if "PowerPoint Document" in streams:
            raise _unsupported("it is a PowerPoint presentation, not a spreadsheet")
        self._name_mismatch_notice("xls")
        return self._read_workbook(_Worker(self.data, "xls"), {})

    # -- workbooks (via python-calamine) ----------------------------------------------------

    def _read_workbook(self, worker: _Worker, error_cells: dict[str, dict[tuple[int, int], str]]) -> RawTable:
        sheets = worker.result()
        chosen: tuple[str, pl.DataFrame] | None = None
        first_nonempty: tuple[str, pl.DataFrame] | None = None
        matched = False
        for name, visible, columns in sheets:
            if not visible or not columns:
                continue
            for (r, c), text in (error_cells.get(name) or {}).items():
                if c < len(columns) and r < len(columns[c]) and columns[c][r] == "":
                    columns[c][r] = text
            frame = _frame_from_columns(columns)
            nonblank = frame.filter(pl.any_horizontal(pl.col(c).str.strip_chars(_WS) != "" for c in frame.columns[:-1]))
            if nonblank.height == 0:
                continue
            if first_nonempty is None:
                first_nonempty = (name, frame)
            if self.is_header is None:
                chosen = first_nonempty
                break
            if self._frame_has_header(nonblank.head(_HEADER_SEARCH_ROWS)):
                chosen = (name, frame)
                matched = True
                break
        if chosen is None:
            chosen = first_nonempty
        if chosen is None:
            raise FileProblem(ErrorCode.EMPTY_FILE)
        name, frame = chosen
        if len(sheets) > 1:
            if matched:
                why = "the first sheet with the template's column titles"
            elif self.is_header is not None:
                why = "the first sheet with data; no sheet has the template's column titles"
            else:
                why = "the first sheet with data"
            self.notices.append(f'Read the sheet "{name}" ({why}).')
        return self._assemble(frame, worker.fmt, sheet_name=name, encoding=None, delimiter=None)

    def _frame_has_header(self, head: pl.DataFrame) -> bool:
        for row in head.select(pl.exclude("row")).rows():
            cells = [v.strip(_WS) for v in row]
            while cells and not cells[-1]:
                cells.pop()
            if self._check_header_call([_normalise_header_cell(c) for c in cells]):
                return True
        return False

    # -- text -------------------------------------------------------------------------------

    def _read_text(self) -> RawTable:
        text, encoding = _decode_text(self.data)
        if encoding == "cp1252":
            self.notices.append("The file is encoded as Windows-1252; it was converted.")
        elif encoding.startswith("utf-16"):
            self.notices.append("The file is encoded as UTF-16; it was converted.")
        if not text.strip(_WS):
            raise FileProblem(ErrorCode.EMPTY_FILE)
        _reject_markup_and_binary_text(text)
        text, delimiter = _find_delimiter(text, self.ext)
        fmt = "tsv" if delimiter == "\t" else "csv"
        if self.ext in _SPREADSHEET_EXTS:
            # A "spreadsheet" that is really text: fine if it holds a table (web apps often
            # export CSV/TSV with an .xls name), not if it is one line of prose.
            if not _text_has_columns(text, delimiter):
                raise _unsupported(
                    f'it is named "{self.filename}" but is not a spreadsheet (it contains plain text)'
                )
            self.notices.append(
                f'The file is named "{self.filename}" but is {_FORMAT_NAMES[fmt]}; it was read as one.'
            )
        else:
            expected = "\t" if self.ext == ".tsv" else ","
            if delimiter != expected and self.ext != ".txt":
                self.notices.append(f"The values are separated by {_DELIMITER_NAMES.get(delimiter, repr(delimiter))}.")
            elif self.ext == ".txt" and delimiter != "\t":
                self.notices.append(f"The values are separated by {_DELIMITER_NAMES.get(delimiter, repr(delimiter))}.")
        frame = _frame_from_text(text, delimiter, self.limits)
        return self._assemble(frame, fmt, sheet_name=None, encoding=encoding, delimiter=delimiter)

    # -- common: frame of raw strings -> RawTable -------------------------------------------------

    def _assemble(self, frame: pl.DataFrame, fmt: str, *, sheet_name, encoding, delimiter) -> RawTable:
        limits = self.limits
        cols = [c for c in frame.columns if c != "row"]
        if not cols or frame.height == 0:
            raise FileProblem(ErrorCode.EMPTY_FILE)
        frame = frame.with_columns(pl.col(c).fill_null("").str.strip_chars(_WS) for c in cols)

        too_long = frame.filter(pl.any_horizontal(pl.col(c).str.len_chars() > limits.max_cell_chars for c in cols))
        if too_long.height:
            first = too_long.row(0, named=True)
            for i, c in enumerate(cols):
                if len(first[c]) > limits.max_cell_chars:
                    raise _too_large(
                        f"cell {col_letter(i)}{first['row']} has {_n(len(first[c]))} characters; "
                        f"a cell can hold at most {_n(limits.max_cell_chars)}"
                    )

        width = pl.max_horizontal(
            pl.when(pl.col(c) != "").then(pl.lit(i + 1, pl.Int64)).otherwise(pl.lit(0, pl.Int64))
            for i, c in enumerate(cols)
        )
        first_col = pl.min_horizontal(pl.when(pl.col(c) != "").then(pl.lit(i, pl.Int64)) for i, c in enumerate(cols))
        frame = frame.with_columns(_w=width, _f=first_col).filter(pl.col("_w") > 0)
        if frame.height == 0:
            raise FileProblem(ErrorCode.EMPTY_FILE)
        stats = frame.select(pl.col("_w").max().alias("w"), pl.col("_f").min().alias("f")).row(0)
        max_width, lead = int(stats[0]), int(stats[1])
        if max_width - lead > limits.max_columns:
            raise _too_large(f"it has {_n(max_width - lead)} columns; the limit is {_n(limits.max_columns)}")

        # The header: among the first non-blank rows, the first that looks like the titles.
        candidates = frame.head(_HEADER_SEARCH_ROWS).select(*cols, "row", "_w").rows()
        pick = 0
        if self.is_header is not None:
            for i, cand in enumerate(candidates):
                cells = [_normalise_header_cell(v) for v in cand[lead : cand[-1]]]
                if self._check_header_call(cells):
                    pick = i
                    break
        header_vals = candidates[pick]
        header_row, header_w = int(header_vals[-2]), int(header_vals[-1])
        header = [_normalise_header_cell(v) for v in header_vals[lead:header_w]]
        if pick:
            skipped = [int(c[-2]) for c in candidates[:pick]]
            span = f"{skipped[0]}" if len(skipped) == 1 else f"{skipped[0]}–{skipped[-1]}"
            noun = "Row" if len(skipped) == 1 else "Rows"
            verb = "was" if len(skipped) == 1 else "were"
            self.notices.append(f"{noun} {span} above the column titles {verb} ignored.")

        body = frame.filter(pl.col("row") > header_row)
        if body.height > limits.max_rows:
            raise _too_large(f"it has {_n(body.height)} rows; the limit is {_n(limits.max_rows)}")
        if body.height == 0:
            raise FileProblem(ErrorCode.NO_DATA_ROWS)
        extra = body.filter(pl.col("_w") > header_w).select("row", pl.col("_w") - lead)
        extra_values = {int(r): int(w) for r, w in extra.iter_rows()}
        out = body.select(
            *(pl.col(cols[lead + j]).alias(f"c{j}") for j in range(len(header))),
            pl.col("row").cast(pl.Int64),
        )
        return RawTable(
            header=header,
            data=out,
            header_row=header_row,
            extra_values=extra_values,
            file_format=fmt,
            sheet_name=sheet_name,
            encoding=encoding,
            delimiter=delimiter,
            notices=self.notices,
        )


def _sheet_label(part: str, sheet_parts: dict[str, str]) -> str:
    for name, p in sheet_parts.items():
        if p == part:
            return f'the sheet "{name}"'
    return "a sheet"


# --------------------------------------------------------------------------------------
# Text decoding
# --------------------------------------------------------------------------------------

_ENCODING_REASON = (
    "its text encoding isn't recognised (it is not UTF-8 or Windows-1252); "
    'in Excel use "Save As" and choose "CSV UTF-8"'
)


def _decode_text(data: bytes) -> tuple[str, str]:
    """Decode a text upload strictly. Never substitutes a character."""
    if data.startswith(codecs.BOM_UTF32_LE) and len(data) % 4 == 0 and data[2:4] == b"\0\0":
        raise _unsupported(_ENCODING_REASON + " (it is UTF-32)")
    if data.startswith(codecs.BOM_UTF8):
        try:
            text = data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _unsupported(_bad_utf8_reason(exc, 3)) from None
        encoding = "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise _unsupported("it says it is UTF-16 text but contains invalid characters") from None
        encoding = "utf-16"
    elif b"\0" in data:
        guess = _bomless_utf16(data)
        if guess is None:
            pos = data.index(b"\0")
            raise _unsupported(f"it contains binary data (a NUL byte at position {_n(pos)}), so it isn't a text file")
        text, encoding = guess
    else:
        try:
            text = data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                raise _unsupported(_ENCODING_REASON) from None
            if _looks_like_mojibake(text):
                raise _unsupported(_ENCODING_REASON)
            encoding = "cp1252"
    if "\0" in text:
        raise _unsupported("it contains binary data (a NUL character), so it isn't a text file")
    return text, encoding


def _bad_utf8_reason(exc: UnicodeDecodeError, offset: int) -> str:
    byte = exc.object[exc.start]
    return (
        f"it starts like UTF-8 text but isn't valid UTF-8 (byte 0x{byte:02X} at position {_n(exc.start + offset)}); "
        'in Excel use "Save As" and choose "CSV UTF-8"'
    )


def _bomless_utf16(data: bytes) -> tuple[str, str] | None:
    """UTF-16 without a BOM shows as a NUL in every other byte; decode it only when that is clear."""
    sample = data[: 64 * 1024]
    sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 4 or len(data) % 2:
        return None
    pairs = len(sample) // 2
    even_nul = sample[0::2].count(0)
    odd_nul = sample[1::2].count(0)
    if odd_nul >= 0.3 * pairs and even_nul <= 0.02 * pairs:
        codec = "utf-16-le"
    elif even_nul >= 0.3 * pairs and odd_nul <= 0.02 * pairs:
        codec = "utf-16-be"
    else:
        return None
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return None
    if "\0" in text:
        return None
    return text, codec


# Characters that legitimately sit inside a Western word (apostrophes, middle dot, ordinals...).
_WORD_SYMBOLS = set("\u2019\u2018\u00b4`\u00b7\u00b0\u00ba\u00aa\u00b2\u00b3\u00b9")
_GLUED_SUPERSCRIPTS = set("\u00b9\u00bc\u00bd\u00be")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f\s]+")


def _looks_like_mojibake(text: str) -> bool:
    """Is this 'Windows-1252' text really another encoding (Greek, Cyrillic, CJK, Mac Roman...)?

    Decoding as cp1252 never fails, so look at the words holding non-ASCII characters. In
    Western European text (French, Spanish, German, Portuguese, Nordic names) they are
    isolated accented letters inside ASCII words (Année, Descripción, Größe, Conceição). Text
    in another 8-bit or multibyte encoding read as cp1252 gives words made of runs of accented
    letters (Greek "Ëåùíéäáò", Cyrillic "Ïðèâåò"), symbols jammed between letters (Big5
    "´ºÂI", Mac Roman "Descripci—n", Polish "Za¿ó³æ") or capitals inside lowercase words (Mac
    Roman "JŸrgen"). If a fifth of those words look like that, refuse.
    """
    words = 0
    odd = 0
    size = len(text)
    last_start = -1
    for match in _NON_ASCII_RUN.finditer(text):
        start, end = match.span()
        lo = max(0, start - 40)
        while start > lo and not _is_separator(text[start - 1]):
            start -= 1
        if start == last_start:
            continue  # another run in the same word
        last_start = start
        hi = min(size, end + 40)
        while end < hi and not _is_separator(text[end]):
            end += 1
        token = text[start:end]
        words += 1
        if _odd_token(token):
            odd += 1
        if words >= 4000:
            break
    return words > 0 and odd >= max(1, 0.2 * words)


def _is_separator(ch: str) -> bool:
    return ch.isspace() or (ch < "\x80" and not ch.isalnum())


def _odd_token(token: str) -> bool:
    run = 0
    last = len(token) - 1
    for i, ch in enumerate(token):
        if ord(ch) < 0x80:
            run = 0
            continue
        run += 1
        if run >= 3:
            return True
        prev = token[i - 1] if i else ""
        if 0 < i < last and not ch.isalpha() and ch not in _WORD_SYMBOLS:
            return True
        if ch in _GLUED_SUPERSCRIPTS and prev.isalpha():
            return True  # "Gêœl¹" (Polish ą); "m²" stays fine
        if ch.isupper() and prev.isalpha() and i < last and token[i + 1].islower():
            return True  # "JŸrgen", "MŸller" (Mac Roman ü)
    return False


_CONTROL = re.compile(r"[\x01-\x08\x0e-\x1f\x7f]")


def _reject_markup_and_binary_text(text: str) -> None:
    head = text[:4096].lstrip(_WS + "\ufeff").lower()
    if head.startswith(("<!doctype html", "<html")) or ("<html" in head[:1024] and "<table" in head):
        raise _unsupported("it is a web page (HTML), not a spreadsheet; open it in Excel and save it as .xlsx")
    if head[:1] in ("{", "[") and len(text) <= 64 * 1024 * 1024:
        try:
            json.loads(text)
        except ValueError:
            pass
        else:
            raise _unsupported("it is a JSON file, not a spreadsheet")
    if head.startswith("<?xml") or head.startswith("<workbook"):
        if "urn:schemas-microsoft-com:office:spreadsheet" in text[:8192]:
            raise _unsupported("it is an Excel 2003 XML spreadsheet, an old format; open it in Excel and save it as .xlsx")
        raise _unsupported("it is an XML file, not a spreadsheet")
    sample = text[:65536]
    controls = len(_CONTROL.findall(sample))
    if controls >= 8 and controls > 0.05 * len(sample):
        raise _unsupported("it contains binary data, so it isn't a text file")


# --------------------------------------------------------------------------------------
# Delimiters and CSV parsing
# --------------------------------------------------------------------------------------

_SEP_LINE = re.compile(r'\A[ \t]*"?sep=(.)"?[ \t]*(?:\r\n|\r|\n|\Z)', re.IGNORECASE)
_CANDIDATES = [",", ";", "\t", "|"]


def _find_delimiter(text: str, ext: str) -> tuple[str, str]:
    """Return (text without an Excel `sep=` line, delimiter)."""
    m = _SEP_LINE.match(text)
    if m and m.group(1) not in '"\r\n':
        return text[m.end():], m.group(1)
    sample = text[: 64 * 1024]
    truncated = len(text) > len(sample)
    order = ["\t", ",", ";", "|"] if ext == ".tsv" else _CANDIDATES
    best: tuple[float, int, int] | None = None
    choice = order[0]
    for rank, delim in enumerate(order):
        rows = list(islice(csv.reader(io.StringIO(sample, newline=""), delimiter=delim, quotechar='"',
                                       skipinitialspace=True, strict=False), 400))
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
    rows = islice(csv.reader(io.StringIO(text[:65536], newline=""), delimiter=delimiter, quotechar='"',
                             skipinitialspace=True, strict=False), 50)
    return any(sum(1 for f in r if f.strip()) >= 2 for r in rows)


def _frame_from_text(text: str, delimiter: str, limits: ReadLimits) -> pl.DataFrame:
    fast = _frame_polars(text, delimiter, limits)
    if fast is not None:
        return fast
    return _frame_python_csv(text, delimiter, limits)


def _frame_polars(text: str, delimiter: str, limits: ReadLimits) -> pl.DataFrame | None:
    """Fast path for the common, simple file: no quotes at all, and only LF or CRLF line ends.

    Without quotes a CSV is plain lines split on the delimiter, which polars does exactly
    like Python's csv module (checked by a property test). Anything else - quotes, bare CR
    line ends, rows longer than the first line - goes to the csv module.
    """
    if '"' in text or text.count("\r") != text.count("\r\n") or len(delimiter) != 1:
        return None
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    try:
        frame = pl.read_csv(
            text.encode("utf-8"),
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
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"',
                        doublequote=True, skipinitialspace=True, strict=False)
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


# --------------------------------------------------------------------------------------
# Workbooks: python-calamine, in a child process
# --------------------------------------------------------------------------------------
#
# python-calamine is fast and right about dates, 1904 workbooks, formulas' cached values,
# _xHHHH_ escapes and ODS repeats - but it trusts the file. Fuzzing found 5 KB .xls and .xlsx
# files that make it abort the whole process (a Rust allocation of 96-150 GB taken from a
# record count), panic, or loop forever (an ODS table without its end tag). Such a file
# would take the web worker down with it. So calamine runs in a short-lived child process
# with memory and CPU limits; the child turns cells into text and sends back text columns.
# The code below is the child's whole program; the parent also executes it (see
# _WORKER_NAMESPACE) so there is one definition of how a cell becomes text.

_WORKER_SOURCE = r'''
import datetime as _dt
import gc as _gc
import io as _io
import marshal as _marshal
import os as _os
import sys as _sys
import tempfile as _tempfile
from decimal import Decimal as _Decimal


def _fmt_float(value):
    """Like Excel: at most 15 significant digits, integers without ".0", never exponent form."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = "%.15g" % value
    if "e" in text or "E" in text:
        text = format(_Decimal(text), "f")
    if text in ("-0", "-0.0"):
        return "0"
    return text


def _fmt_duration(value):
    """A duration as Excel shows it with [h]:mm:ss (255:10:10), not as a date in 1900."""
    total = value.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    micro = round((total - int(total)) * 1_000_000)
    hours, rest = divmod(int(total), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours}:{minutes:02d}:{secs:02d}"
    if micro:
        text += f".{micro:06d}".rstrip("0")
    return text


def _cell_text(value):
    kind = value.__class__
    if kind is str:
        return value
    if kind is float:
        return _fmt_float(value)
    if kind is bool:
        return "TRUE" if value else "FALSE"
    if kind is int:
        return str(value)
    if kind is _dt.datetime:
        if value.microsecond:
            return value.isoformat(sep=" ")
        if value.hour == value.minute == value.second == 0:
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if kind is _dt.date:
        return value.isoformat()
    if kind is _dt.time:
        return value.isoformat()
    if kind is _dt.timedelta:
        return _fmt_duration(value)
    if value is None:
        return ""
    return str(value)


def _text_columns(rows):
    """Rows of calamine values -> columns of text (a column at a time: fast for floats)."""
    if not rows:
        return []
    width = max(map(len, rows))
    if min(map(len, rows)) != width:
        rows = [r if len(r) == width else list(r) + [""] * (width - len(r)) for r in rows]
    return [
        [
            v if v.__class__ is str
            else str(int(v)) if v.__class__ is float and v.is_integer() and -1e15 < v < 1e15
            else _cell_text(v)
            for v in col
        ]
        for col in zip(*rows)
    ]


def _open(pc, data, fmt):
    try:
        return pc.CalamineWorkbook.from_object(_io.BytesIO(data))
    except pc.PasswordError:
        raise
    except pc.CalamineError:
        # The in-memory open tries each format and reports only "Cannot detect file format",
        # hiding e.g. an encrypted .xls; a file with the right extension gives the real error.
        with _tempfile.NamedTemporaryFile(suffix="." + fmt) as tmp:
            tmp.write(data)
            tmp.flush()
            return pc.CalamineWorkbook.from_path(tmp.name)


def _read_all(pc, data, fmt, max_cells):
    book = _open(pc, data, fmt)
    sheets = []
    for meta in book.sheets_metadata:
        visible = meta.visible == pc.SheetVisibleEnum.Visible and meta.typ == pc.SheetTypeEnum.WorkSheet
        columns = None
        if visible:
            sheet = book.get_sheet_by_name(meta.name)
            end = sheet.end
            columns = []
            if end is not None:
                rows, cols = end[0] + 1, end[1] + 1
                if rows * cols > max_cells or rows > 1_048_576 or cols > 16_384:
                    return {"error": "too_large", "sheet": meta.name, "rows": rows, "cols": cols}
                columns = _text_columns(sheet.to_python(skip_empty_area=False))
        sheets.append((meta.name, visible, columns))
    return {"sheets": sheets}


def _main(fmt, memory, cpu_seconds, max_cells, lib_dir):
    _gc.disable()  # a short-lived process building millions of small objects
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    except (ImportError, ValueError, OSError):
        pass
    if lib_dir and lib_dir not in _sys.path:
        _sys.path.insert(0, lib_dir)
    import python_calamine as pc

    data = _sys.stdin.buffer.read()
    try:
        out = _read_all(pc, data, fmt, max_cells)
    except pc.PasswordError:
        out = {"error": "password"}
    except MemoryError:
        out = {"error": "memory"}
    except BaseException as exc:  # CalamineError, a Rust panic (PanicException), anything
        out = {"error": "damaged", "detail": f"{type(exc).__name__}: {exc}"[:500]}
    _sys.stdout.buffer.write(_marshal.dumps(out))
    _sys.stdout.flush()
    _os._exit(0)  # skip freeing millions of objects one by one


if __name__ == "__main__":
    _main(_sys.argv[1], int(_sys.argv[2]), int(_sys.argv[3]), int(_sys.argv[4]), _sys.argv[5])
'''

_WORKER_NAMESPACE: dict = {"__name__": "bulk_upload_app.importer.reading._worker"}
exec(compile(_WORKER_SOURCE, "<reading worker>", "exec"), _WORKER_NAMESPACE)  # noqa: S102 - our own source
_fmt_float = _WORKER_NAMESPACE["_fmt_float"]
_fmt_duration = _WORKER_NAMESPACE["_fmt_duration"]
_cell_text = _WORKER_NAMESPACE["_cell_text"]
_text_columns = _WORKER_NAMESPACE["_text_columns"]

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
        cmd = [sys.executable, "-I", "-c", _WORKER_SOURCE, fmt, str(_worker_memory(len(data))),
               str(_WORKER_CPU), str(_MAX_SHEET_CELLS), lib_dir]
        self.fmt = fmt
        self.data = data
        self.out = b""
        self.err = b""
        self.timed_out = False
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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


# --------------------------------------------------------------------------------------
# Zip containers: limits, verified inflation
# --------------------------------------------------------------------------------------


def _open_zip(data: bytes, limits: ReadLimits) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    declared = _eocd_entry_count(data)
    if declared is not None and declared > limits.max_zip_entries:
        raise _too_large(f"the workbook contains {_n(declared)} internal files; the limit is {_n(limits.max_zip_entries)}")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError, struct.error, IndexError,
            KeyError, NotImplementedError, UnicodeDecodeError):
        raise _unsupported("it looks like an Excel or OpenDocument file but is damaged (it can't be unzipped)") from None
    if len(infos) > limits.max_zip_entries:
        raise _too_large(f"the workbook contains {_n(len(infos))} internal files; the limit is {_n(limits.max_zip_entries)}")
    total = sum(info.file_size for info in infos)
    if total > limits.max_uncompressed_bytes:
        raise _too_large(
            f"it would expand to {_size(total)} when opened; the limit is {_size(limits.max_uncompressed_bytes)}"
        )
    for info in infos:
        if info.flag_bits & 0x1:
            raise _unsupported("the workbook is password-protected")
        if info.file_size > _RATIO_MIN_BYTES and info.file_size > limits.max_compression_ratio * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise _too_large(
                f"part of it expands {_n(ratio)}-fold when opened (the limit is {_n(limits.max_compression_ratio)}-fold), "
                "which is how zip bombs work"
            )
    return zf, infos


def _eocd_entry_count(data: bytes) -> int | None:
    pos = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if pos < 0 or pos + 22 > len(data):
        return None
    total = struct.unpack_from("<H", data, pos + 10)[0]
    return None if total == 0xFFFF else total


def _inflate_entry(data: bytes, info: zipfile.ZipInfo, limits: ReadLimits) -> Iterator[bytes]:
    """Yield an entry's bytes, inflated here in bounded chunks, verifying size and CRC.

    Zip headers declare sizes the archive does not have to honour; the parsers downstream
    trust the stream. Reading it here first (bounded by the declared size) is what makes the
    declared-size limits real.
    """
    damaged = _unsupported("it looks like an Excel or OpenDocument file but is damaged (a part of it is corrupt)")
    off = info.header_offset
    if data[off : off + 4] != b"PK\x03\x04":
        raise damaged
    name_len, extra_len = struct.unpack_from("<HH", data, off + 26)
    start = off + 30 + name_len + extra_len
    comp = memoryview(data)[start : start + info.compress_size]
    if len(comp) != info.compress_size:
        raise damaged
    crc = 0
    produced = 0
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size:
            raise damaged
        for pos in range(0, len(comp), _CHUNK):
            chunk = bytes(comp[pos : pos + _CHUNK])
            crc = zlib.crc32(chunk, crc)
            produced += len(chunk)
            yield chunk
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-15)
        pos = 0
        while not inflater.eof:
            if inflater.unconsumed_tail:
                src = inflater.unconsumed_tail
            elif pos < len(comp):
                src = comp[pos : pos + _CHUNK]
                pos += len(src)
            else:
                raise damaged  # the stream ends before its end marker
            try:
                out = inflater.decompress(src, _CHUNK)
            except zlib.error:
                raise damaged from None
            produced += len(out)
            if produced > info.file_size:
                raise _too_large(
                    f"part of it is larger than it declares ({info.filename}), which is how zip bombs work"
                )
            if out:
                crc = zlib.crc32(out, crc)
                yield out
    else:
        raise _unsupported("it uses a compression method Excel does not use, so it can't be read safely")
    if produced != info.file_size or (crc & 0xFFFFFFFF) != info.CRC:
        raise damaged


def _zip_read_small(zf: zipfile.ZipFile, data: bytes, info: zipfile.ZipInfo, cap: int) -> bytes:
    if info.file_size > cap:
        return b""
    return b"".join(_inflate_entry(data, info, ReadLimits()))


_DTD = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


def _small_xml(zf: zipfile.ZipFile, data: bytes, name: str) -> ET.Element | None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > 16 * 1024 * 1024:
        return None
    raw = b"".join(_inflate_entry(data, info, ReadLimits()))
    if _DTD.search(raw):
        raise _unsupported("the workbook contains XML declarations that Excel never writes")
    try:
        return ET.fromstring(raw)
    except (ET.ParseError, LookupError, ValueError):  # LookupError: an unknown declared encoding
        return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xlsx_sheet_parts(zf: zipfile.ZipFile, data: bytes) -> dict[str, str]:
    """Sheet name -> zip part of its XML, from xl/workbook.xml and its relationships."""
    names = {n.lower(): n for n in zf.namelist()}
    wb_name = names.get("xl/workbook.xml")
    if wb_name is None:
        return {}
    workbook = _small_xml(zf, data, wb_name)
    rels = _small_xml(zf, data, names.get("xl/_rels/workbook.xml.rels", "xl/_rels/workbook.xml.rels"))
    if workbook is None or rels is None:
        return {}
    targets = {}
    for rel in rels.iter():
        if _local(rel.tag) == "Relationship":
            target = rel.get("Target", "")
            if target.startswith("/"):
                path = target.lstrip("/")
            else:
                path = str(PurePosixPath("xl") / target)
            parts = []
            for seg in path.split("/"):
                if seg == "..":
                    if parts:
                        parts.pop()
                elif seg and seg != ".":
                    parts.append(seg)
            resolved = "/".join(parts)
            targets[rel.get("Id")] = names.get(resolved.lower(), resolved)
    sheets = {}
    for el in workbook.iter():
        if _local(el.tag) == "sheet":
            rid = next((v for k, v in el.attrib.items() if _local(k) == "id" and k.startswith("{")), None)
            name = el.get("name")
            if name is not None and rid in targets:
                sheets[name] = targets[rid]
    return sheets


# --------------------------------------------------------------------------------------
# Worksheet extent scans (pre-parse guards against sparse-cell and repeat bombs)
# --------------------------------------------------------------------------------------

_XL_RARE_CELL = re.compile(rb"<c[>/\t\n\r]")
_XL_PREFIXED_CELL = re.compile(rb":c[\s>/]")
# a non-empty canonical cell beyond column Z or below row 999,999
_XL_FAR_CELL = re.compile(rb'<c r="([A-Za-z]{2,}[0-9]+|[A-Za-z]+[0-9]{7,})"[^>]*(?<!/)>')
_REF_PARTS = re.compile(rb"([A-Za-z]+)([0-9]+)")
_XL_ERROR_CELL = re.compile(rb'<c r="([A-Za-z]+)([0-9]+)"[^>]*?\bt="e"[^>]*(?<!/)>(.*?)</c>', re.S)
_XL_VALUE = re.compile(rb"<v>([^<]*)</v>")
_XL_UNESCAPE = {b"&amp;": b"&", b"&lt;": b"<", b"&gt;": b">", b"&quot;": b'"', b"&apos;": b"'"}


def _xl_rows_regex(digits: int) -> re.Pattern:
    return re.compile(rb'<c r="[A-Za-z]+([0-9]{%d,})"[^>]*(?<!/)>' % digits)


def _xl_letters_above(n: int) -> re.Pattern:
    """A non-empty canonical cell whose (single-letter) column is after the n-th letter."""
    letters = bytes(range(65 + n, 91)) + bytes(range(97 + n, 123))
    return re.compile(rb'<c r="[' + letters + rb'][0-9]+"[^>]*(?<!/)>')


def _row_aligned(chunks: Iterator[bytes]) -> Iterator[tuple[bytes, int]]:
    """Re-cut a stream of XML so that no piece splits a row (or, for giant rows, a tag).

    Yields (buffer, end): the piece is buffer[:end] (saves copying megabytes per chunk).
    """
    carry = b""
    for chunk in chunks:
        buf = carry + chunk if carry else chunk
        cut = buf.rfind(b"</row>")
        cut = cut + 6 if cut >= 0 else buf.rfind(b">") + 1
        carry = buf[cut:]
        if cut:
            yield buf, cut
    if carry:
        yield carry, len(carry)


class _XlsxSheetScan:
    """Extent of the non-empty cells of one worksheet XML, found without building anything.

    In the canonical form every writer uses (Excel, LibreOffice, Google Sheets, openpyxl,
    xlsxwriter...) each cell tag starts `<c r="A1"`; then a few C-speed regex/count passes give
    the number of cells, the widest column and the rows beyond one million. Anything else
    (cells without `r`, other attribute order or quoting, namespace prefixes) is measured
    exactly with expat (`_ExactXlsxScan`), which is slower but rare.
    """

    def __init__(self):
        self.canonical = True
        self.n_cells = 0  # cells with content (closed by </c>)
        self.max_wide_col = 0  # widest non-empty column beyond Z (1-based), 0 if none
        self.narrow = 0  # widest non-empty single-letter column (1-based)
        self.big_rows: list[int] = []  # rows >= 1,000,000 of non-empty cells
        self.error_cells: dict[tuple[int, int], str] = {}

    def feed(self, buf: bytes, end: int) -> None:
        """Scan buf[:end]."""
        # (No DTD check here: calamine's XML reader does not expand entity declarations, and
        # the exact scan's expat refuses a DTD.)
        if not self.canonical:
            return
        n_canon = buf.count(b'<c r="', 0, end)
        if (
            buf.count(b"<c ", 0, end) != n_canon
            or _XL_RARE_CELL.search(buf, 0, end)
            or _XL_PREFIXED_CELL.search(buf, 0, end)
        ):
            self.canonical = False
            return
        self.n_cells += n_canon  # an over-count (empty styled cells too); the hard cap still holds
        for ref in _XL_FAR_CELL.findall(buf, 0, end):
            m = _REF_PARTS.match(ref)
            letters, digits = m.group(1), m.group(2)
            if len(letters) >= 2:
                col = _col_number(letters)
                if col > self.max_wide_col:
                    self.max_wide_col = col
            if len(digits) >= 7:
                self.big_rows.append(int(digits))
        while self.narrow < 26 and _xl_letters_above(self.narrow).search(buf, 0, end):
            lo, hi = self.narrow + 1, 26  # the answer for this buffer is in [lo, hi]
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if _xl_letters_above(mid - 1).search(buf, 0, end):
                    lo = mid
                else:
                    hi = mid - 1
            self.narrow = lo
        if buf.find(b't="e"', 0, end) >= 0:
            for letters, digits, body in _XL_ERROR_CELL.findall(buf, 0, end):
                v = _XL_VALUE.search(body)
                if v:
                    text = v.group(1)
                    for esc, ch in _XL_UNESCAPE.items():
                        text = text.replace(esc, ch)
                    self.error_cells[(int(digits) - 1, _col_number(letters) - 1)] = text.decode("utf-8", "replace")

    def check(self, limits: ReadLimits, label: str, again: Callable[[], Iterator[bytes]]) -> None:
        """Raise FILE_TOO_LARGE if calamine's grid for this sheet would be out of proportion."""
        n_cells = self.n_cells
        if n_cells == 0:
            return
        if self.big_rows and max(self.big_rows) > _EXCEL_MAX_ROWS:
            raise _too_large(f"{label} has data below row {_n(_EXCEL_MAX_ROWS)}, the last row Excel allows")
        cols = self.max_wide_col or self.narrow
        if cols > limits.max_columns:
            raise _too_large(
                f"{label} has data in column {col_letter(cols - 1)}; a sheet can have at most {_n(limits.max_columns)} columns"
            )
        budget = _grid_budget(n_cells)
        top_row = max(self.big_rows) if self.big_rows else 999_999
        if max(cols, 1) * top_row <= budget:
            return
        # A second pass over the rows that could break the budget at this width.
        threshold = budget // max(cols, 1)
        pattern = _xl_rows_regex(len(str(threshold)))
        worst = 0
        for buf, end in _row_aligned(again()):
            for digits in pattern.findall(buf, 0, end):
                worst = max(worst, int(digits))
        if worst > threshold:
            raise _too_large(
                f"{label} spans {_n(worst)} rows and {_n(cols)} columns but holds only {_n(n_cells)} cells; "
                "delete the stray cells far below or to the right of the table"
            )


def _grid_budget(n_cells: int) -> int:
    return min(_MAX_SHEET_CELLS, max(_SHEET_CELLS_FLOOR, _SPARSE_FACTOR * n_cells))


def _check_extent(label: str, n_cells: int, rows: int, cols: int, limits: ReadLimits) -> None:
    if n_cells == 0:
        return
    if rows > _EXCEL_MAX_ROWS:
        raise _too_large(f"{label} has data below row {_n(_EXCEL_MAX_ROWS)}, the last row Excel allows")
    if cols > limits.max_columns:
        raise _too_large(f"{label} has data in column {col_letter(cols - 1)}; a sheet can have at most {_n(limits.max_columns)} columns")
    if rows * cols > _grid_budget(n_cells):
        raise _too_large(
            f"{label} spans {_n(rows)} rows and {_n(cols)} columns but holds only {_n(n_cells)} cells; "
            "delete the stray cells far below or to the right of the table"
        )


def _parse_ref(ref: str) -> tuple[int, int]:
    """'B3' -> (2, 1) zero-based, like calamine (letters then digits, any case)."""
    m = re.fullmatch(r"([A-Za-z]*)([0-9]+)", ref.strip())
    if not m:
        raise _unsupported("a worksheet contains an invalid cell reference")
    row = int(m.group(2)) - 1
    col = _col_number(m.group(1)) - 1 if m.group(1) else -1
    if row < 0:
        raise _unsupported("a worksheet contains an invalid cell reference")
    return row, col


class _ExactXlsxScan:
    """calamine's cell positioning, replayed with expat: rows/cells with or without `r`."""

    def __init__(self):
        self.parser = xml.parsers.expat.ParserCreate()
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.row = 0
        self.col = 0
        self.in_cell = False
        self.cell_pos = (0, 0)
        self.has_value = False
        self.n_cells = 0
        self.max_row = -1
        self.max_col = -1

    def feed(self, buf: bytes) -> None:
        if _DTD.search(buf):
            raise _unsupported("the workbook contains XML declarations that Excel never writes")
        try:
            self.parser.Parse(buf, False)
        except (xml.parsers.expat.ExpatError, LookupError, ValueError):
            raise _unsupported("a worksheet in the workbook is damaged") from None

    def close(self) -> None:
        try:
            self.parser.Parse(b"", True)
        except (xml.parsers.expat.ExpatError, LookupError, ValueError):
            raise _unsupported("a worksheet in the workbook is damaged") from None

    def _start(self, name: str, attrs: dict) -> None:
        local = name.rpartition(":")[2]
        if self.in_cell:
            if local in ("v", "is"):
                self.has_value = True
            return
        if local == "row":
            r = attrs.get("r")
            if r is not None:
                self.row = _parse_ref(r)[0]
        elif local == "c":
            r = attrs.get("r")
            if r is not None:
                row, col = _parse_ref(r)
                if col < 0:
                    raise _unsupported("a worksheet contains an invalid cell reference")
                self.col = col
                self.cell_pos = (row, col)
            else:
                self.cell_pos = (self.row, self.col)
            self.in_cell = True
            self.has_value = False

    def _end(self, name: str) -> None:
        local = name.rpartition(":")[2]
        if self.in_cell:
            if local == "c":
                self.in_cell = False
                if self.has_value:
                    self.n_cells += 1
                    self.max_row = max(self.max_row, self.cell_pos[0])
                    self.max_col = max(self.max_col, self.cell_pos[1])
                self.col += 1
            return
        if local == "row":
            self.row += 1
            self.col = 0


_ODS_TABLE = re.compile(rb"<table:table(?=[\s>])[^>]*>")
_ODS_TABLE_NAME = re.compile(rb"table:name\s*=\s*[\"']([^\"']*)")
_ODS_ROW = re.compile(rb"<table:table-row(?=[\s/>])([^>]*?)(/?)>")
_ODS_CELL = re.compile(rb"<table:(?:covered-)?table-cell(?=[\s/>])([^>]*?)(/?)>")
_ODS_ROWS_REP = re.compile(rb"table:number-rows-repeated\s*=\s*[\"']\s*([0-9]+)")
_ODS_COLS_REP = re.compile(rb"table:number-columns-repeated\s*=\s*[\"']\s*([0-9]+)")
_ODS_VALUE = re.compile(rb"office:(?:value|string-value|date-value|time-value|boolean-value|value-type)\s*=|table:formula\s*=")


def _check_ods_content(content: bytes, limits: ReadLimits) -> None:
    """Measure every table of an ODS like calamine will lay it out, before calamine does.

    ODS compresses runs with number-rows-repeated / number-columns-repeated; calamine expands
    the non-empty ones into a dense grid (a 1.3 KB file can ask for 10^18 cells). Empty runs
    (LibreOffice pads sheets to 1,048,576 rows) cost nothing and are skipped here too.
    """
    if _DTD.search(content):
        raise _unsupported("the spreadsheet contains XML declarations that LibreOffice never writes")
    # calamine loops forever on an ODS table that never ends (it ignores end-of-file there), so
    # only well-formed XML goes on: expat without callbacks checks that at C speed.
    checker = xml.parsers.expat.ParserCreate()
    try:
        checker.Parse(content, True)
    except (xml.parsers.expat.ExpatError, LookupError, ValueError):
        raise _unsupported("the OpenDocument spreadsheet is damaged (its content is not valid XML)") from None
    tables = list(_ODS_TABLE.finditer(content))
    for i, m in enumerate(tables):
        stop = tables[i + 1].start() if i + 1 < len(tables) else len(content)
        name_m = _ODS_TABLE_NAME.search(m.group(0))
        label = f'the sheet "{name_m.group(1).decode("utf-8", "replace")}"' if name_m else "a sheet"
        _check_ods_table(content, m.end(), stop, label, limits)


def _strip_empty_ods_cells(body: bytes) -> bytes:
    """Drop the empty cells that end a row (LibreOffice pads rows with a repeated empty cell)."""
    while True:
        k = max(body.rfind(b"<table:table-cell"), body.rfind(b"<table:covered-table-cell"))
        if k < 0:
            return body
        tail = body[k:].rstrip()
        # an empty cell: a lone self-closing tag with no value, type or formula attribute
        if not tail.endswith(b"/>") or tail.count(b">") != 1 or b"office:" in tail or b"formula" in tail:
            return body
        body = body[:k]


def _check_ods_table(content: bytes, start: int, stop: int, label: str, limits: ReadLimits) -> None:
    rows_total = 0
    first_row = None  # row index where the first non-empty row starts
    last_row_end = 0
    max_width = 0
    n_cells = 0
    pos = start
    while True:
        m = _ODS_ROW.search(content, pos, stop)
        if not m:
            break
        rep_m = _ODS_ROWS_REP.search(m.group(1))
        repeat = int(rep_m.group(1)) if rep_m else 1
        if m.group(2):  # <table:table-row .../>
            body = b""
            pos = m.end()
        else:
            end = content.find(b"</table:table-row>", m.end(), stop)
            if end < 0:
                end = stop
            body = content[m.end() : end]
            pos = end + 1
        width = 0
        if _ODS_VALUE.search(body):
            body = _strip_empty_ods_cells(body)
            if b"number-columns-repeated" not in body:
                width = body.count(b"<table:table-cell") + body.count(b"<table:covered-table-cell")
                n_cells += body.count(b"office:value-type=") or 1
            else:
                col = 0
                for cm in _ODS_CELL.finditer(body):
                    c_rep = _ODS_COLS_REP.search(cm.group(1))
                    span = int(c_rep.group(1)) if c_rep else 1
                    if _ODS_VALUE.search(cm.group(1)):
                        n_cells += 1
                        width = col + span
                    col += span
                    if width > 10 * _EXCEL_MAX_COLS:
                        raise _too_large(f"{label} declares more columns than a spreadsheet can hold")
        if width:
            if first_row is None:
                first_row = rows_total
            last_row_end = rows_total + repeat
            max_width = max(max_width, width)
        rows_total += repeat
        if first_row is not None and last_row_end > 10 * _EXCEL_MAX_ROWS:
            raise _too_large(f"{label} declares more rows than a spreadsheet can hold")
    if first_row is not None:
        _check_extent(label, n_cells, last_row_end, max_width, limits)


# --------------------------------------------------------------------------------------
# OLE compound files
# --------------------------------------------------------------------------------------


def _ole_stream_names(data: bytes) -> set[str]:
    """Names of interesting streams in a compound file (directory entries are 128-byte aligned)."""
    found = set()
    for name in ("EncryptionInfo", "EncryptedPackage", "Workbook", "Book", "WordDocument", "PowerPoint Document"):
        pattern = name.encode("utf-16-le") + b"\0\0"
        pos = data.find(pattern)
        while pos != -1:
            if pos % 128 == 0 and pos + 66 <= len(data) and struct.unpack_from("<H", data, pos + 64)[0] == len(pattern):
                found.add(name)
                break
            pos = data.find(pattern, pos + 1)
    return found
