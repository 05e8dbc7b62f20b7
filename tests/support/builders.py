"""Small builders the tests share: CSV files of users."""

from __future__ import annotations

import csv
import io

from bulk_upload_app.importer.schema import COLUMN_NAMES


def users_csv(rows: list[dict] | list[tuple], header: list[str] | None = None) -> bytes:
    """A CSV file (bytes) with the template's header (or `header`) and these rows (dicts by column, or tuples)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header or COLUMN_NAMES)
    for row in rows:
        writer.writerow([row.get(c, "") for c in COLUMN_NAMES] if isinstance(row, dict) else row)
    return buffer.getvalue().encode()


def person(i: int, domain: str = "example.com", **overrides) -> dict:
    """A valid row for person number `i` (unique email and phone), with any columns overridden."""
    return {
        "firstname": f"First{i}",
        "lastname": f"Last{i}",
        "email": f"person{i}@{domain}",
        "countryprefix": "+44",
        "phone": f"0740012{i:04d}",
        **overrides,
    }
