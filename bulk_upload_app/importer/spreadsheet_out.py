"""Writing CSV and XLSX that are safe to open: no cell we write ever becomes a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import xlsxwriter

_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _needs_apostrophe(value: str) -> bool:
    # Apostrophes typed before a trigger get one more, so the reader's unescape is exact.
    return value.lstrip("'").startswith(_FORMULA_TRIGGERS)


def csv_safe(value: str) -> str:
    """Prefix a cell a spreadsheet would run as a formula with an apostrophe (OWASP's advice).

    The reader removes that apostrophe again, so a report can be fixed and re-uploaded.
    """
    return "'" + value if _needs_apostrophe(value) else value


def unescape_csv_safe(value: str) -> str:
    return value[1:] if value.startswith("'") and _needs_apostrophe(value) else value


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
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False})
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
