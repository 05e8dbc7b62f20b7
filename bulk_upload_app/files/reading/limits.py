"""What the reader promises: its limits (`ReadLimits`), its result (`RawTable`), and the
hard caps that hold whatever the limits say."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

_ODS_CONTENT_LIMIT = 200 * 1024 * 1024  # an ODS's content.xml, which its checks hold in memory


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


# A sheet grid (rows x columns, as calamine allocates it) may hold this many cells at most,
# and no more than _SPARSE_FACTOR times the cells the sheet really has (when above the floor).
_MAX_SHEET_CELLS = 30_000_000
_SHEET_CELLS_FLOOR = 5_000_000
_SPARSE_FACTOR = 4
_EXCEL_MAX_ROWS = 1_048_576
_EXCEL_MAX_COLS = 16_384

# Python's notion of whitespace (str.split / str.strip / str.isspace), used for every value so
# that the polars strip and Python's agree exactly.
_WS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)  # == "".join(c for c in map(chr, range(0x110000)) if c.isspace()), checked by a test
