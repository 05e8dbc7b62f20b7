"""The failed rows of an upload, as a file the admin can fix and upload again."""

from __future__ import annotations

from typing import Any

from bulk_upload_app.files.schema import COLUMN_NAMES
from bulk_upload_app.files.spreadsheet_out import write_csv, write_xlsx

REPORT_HEADER = (*COLUMN_NAMES, "row", "error_code", "error_message")


def report_rows(failed: list[dict[str, Any]]) -> list[list[Any]]:
    """One line per failed row; a row with several problems lists them all in one line.

    `failed` items carry the row's values plus row, code and message.
    """
    merged: dict[int, dict[str, Any]] = {}
    for item in failed:
        line = merged.setdefault(
            item["row"], {**{c: item.get(c, "") for c in COLUMN_NAMES}, "codes": [], "messages": []}
        )
        line["codes"].append(item["code"])
        line["messages"].append(item["message"])
    return [
        [*(line[c] for c in COLUMN_NAMES), row, " ".join(dict.fromkeys(line["codes"])), " ".join(line["messages"])]
        for row, line in sorted(merged.items())
    ]


def report_csv(failed: list[dict[str, Any]]) -> bytes:
    return write_csv(REPORT_HEADER, report_rows(failed))


def report_xlsx(failed: list[dict[str, Any]]) -> bytes:
    return report_lines_xlsx(report_rows(failed))


def report_lines_xlsx(lines: list[list[Any]]) -> bytes:
    """The failed-rows workbook of lines already merged by `report_rows` (the email's attachment)."""
    return write_xlsx([("Failed rows", list(REPORT_HEADER), lines, [16, 16, 30, 14, 18, 6, 28, 80])])


# Every row of an upload and what became of it, the file's columns first: fix the failed ones
# and upload the file again (created rows would then fail as EMAIL_ALREADY_EXISTS; delete them).
RESULTS_HEADER = (*COLUMN_NAMES, "row", "outcome", "error_code", "error_message")
OUTCOME_WORDS = {
    "created": "created",
    "failed": "failed",
    "not_created": "not created (errors)",
    "pending": "not created yet",
    "removed": "removed before creating",
    "undone": "created, then undone",
}


def results_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """`rows` as records.every_row gives them: values, row, outcome, code, message."""
    return [
        [
            *(item.get(c, "") for c in COLUMN_NAMES),
            item["row"],
            OUTCOME_WORDS.get(item["outcome"], item["outcome"]),
            item["code"],
            item["message"],
        ]
        for item in rows
    ]


def results_csv(rows: list[dict[str, Any]]) -> bytes:
    return write_csv(RESULTS_HEADER, results_rows(rows))


def results_xlsx(rows: list[dict[str, Any]]) -> bytes:
    return write_xlsx([("Results", list(RESULTS_HEADER), results_rows(rows), [16, 16, 30, 14, 18, 6, 22, 28, 80])])
