"""Writing CSV and XLSX that are safe to open: no cell we write ever becomes a formula."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence

import xlsxwriter

# A spreadsheet opening our CSV with another separator (";" in many European locales, a tab
# when pasted) splits a cell at these, so every piece after one starts a cell of its own.
# A piece is a formula when, past any blanks, it starts with = + - @; a leading tab or CR
# counts by itself (OWASP). Apostrophes typed before such a start count as part of it, so
# each gets one more and the reader's unescape is exact.
_START = r"(?:^|(?<=[;,\t]))"
_RISK = r"'*(?:[^\S\t]*[=+\-@]|[\t\r])"
_NEEDS_APOSTROPHE = re.compile(f"{_START}(?={_RISK})")
_OUR_APOSTROPHE = re.compile(f"{_START}'(?={_RISK})")


def csv_safe(value: str) -> str:
    """Put an apostrophe before every piece of the cell a spreadsheet would run as a formula.

    `=1+1` becomes `'=1+1` (OWASP's advice) and `x;=1+1` becomes `x;'=1+1`: an apostrophe
    only in front would leave `=1+1` a formula where `;` splits cells. The reader removes these
    apostrophes again (unescape_csv_safe), so a report can be fixed and re-uploaded.
    """
    return _NEEDS_APOSTROPHE.sub("'", value)


def unescape_csv_safe(value: str) -> str:
    return _OUR_APOSTROPHE.sub("", value) if "'" in value else value


def write_csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_safe("" if v is None else str(v)) for v in row])
    # The BOM makes Excel open the file as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def write_xlsx(
    sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[object]], Sequence[int]]],
) -> bytes:
    """Sheets of (name, header, rows, column widths); every cell is written as text."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False}
    )
    bold = workbook.add_format({"bold": True, "bg_color": "#E8EEF7", "num_format": "@"})
    text = workbook.add_format({"num_format": "@"})
    wrap = workbook.add_format({"num_format": "@", "text_wrap": True, "valign": "top"})
    for name, header, rows, widths in sheets:
        sheet = workbook.add_worksheet(name)
        for col, width in enumerate(widths):
            sheet.set_column(col, col, width, wrap if width >= 60 else text)
        for col, title in enumerate(header):
            sheet.write_string(0, col, title, bold)
        for r, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                sheet.write_string(r, col, "" if value is None else str(value))
        if header:
            sheet.freeze_panes(1, 0)
    workbook.close()
    return buffer.getvalue()
