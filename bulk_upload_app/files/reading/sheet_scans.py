"""Worksheet extent scans: pre-parse guards against sparse-cell and repeat bombs.

python-calamine materialises a sheet as a dense rows x columns grid. Before it sees a
workbook, the xlsx worksheet XML and the ODS content are measured here (cheap regex passes,
expat for the rare non-canonical xlsx) and a sheet whose grid would be far larger than its
real content is refused.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from collections.abc import Callable, Iterator

from bulk_upload_app.files.reading.limits import (
    _EXCEL_MAX_COLS,
    _EXCEL_MAX_ROWS,
    _MAX_SHEET_CELLS,
    _SHEET_CELLS_FLOOR,
    _SPARSE_FACTOR,
    ReadLimits,
)
from bulk_upload_app.files.reading.problems import _col_number, _n, _too_large, _unsupported, col_letter
from bulk_upload_app.files.reading.zips import _DTD

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
            assert m is not None  # _XL_FAR_CELL only finds references _REF_PARTS reads
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
        raise _too_large(
            f"{label} has data in column {col_letter(cols - 1)}; a sheet can have at most {_n(limits.max_columns)} columns"
        )
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
_ODS_VALUE = re.compile(
    rb"office:(?:value|string-value|date-value|time-value|boolean-value|value-type)\s*=|table:formula\s*="
)


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
