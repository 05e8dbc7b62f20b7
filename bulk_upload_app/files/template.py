"""The template an admin fills in: the column titles, and in Excel an instructions sheet."""

from __future__ import annotations

from bulk_upload_app.files.schema import COLUMN_NAMES, COLUMNS
from bulk_upload_app.files.spreadsheet_out import write_csv, write_xlsx

TEMPLATE_FORMATS = ("csv", "xlsx")


def template_csv() -> bytes:
    return write_csv(COLUMN_NAMES, [])


def template_xlsx() -> bytes:
    instructions = [
        (
            "One user per row on the Users sheet, under the column titles. Keep the titles as they are (lowercase).",
            "",
            "",
        ),
        ("Every user in one file gets the same user type and settings, chosen in the wizard.", "", ""),
        ("", "", ""),
        *[(c.name, "required" if c.required else "optional", f"{c.help} Example: {c.example}") for c in COLUMNS],
    ]
    return write_xlsx(
        [
            ("Users", list(COLUMN_NAMES), [], [18, 18, 34, 16, 20]),
            ("Instructions", ["Column", "Required", "What to enter"], instructions, [40, 12, 80]),
        ]
    )


def template_bytes(fmt: str) -> bytes:
    if fmt == "csv":
        return template_csv()
    if fmt == "xlsx":
        return template_xlsx()
    raise ValueError(f"Template format must be one of {', '.join(TEMPLATE_FORMATS)}")
