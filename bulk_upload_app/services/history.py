"""The company's bulk uploads: the history, every row's result as a file, and undoing an upload."""

from __future__ import annotations

from dataclasses import dataclass

from bulk_upload_app.db import session_scope
from bulk_upload_app.services.drafts import XLSX_MIME, Report
from bulk_upload_app.statuses import UploadStatus
from bulk_upload_app.uploads import history, records, undo
from bulk_upload_app.uploads.history import UploadLine
from bulk_upload_app.uploads.report import results_csv, results_xlsx
from bulk_upload_app.uploads.undo import UndoPlan


@dataclass(frozen=True)
class UndoState:
    """What the result page offers: whether Undo is possible, until when, or why not."""

    possible: bool
    until: str  # "2026-12-08 14:03 UTC" while possible
    refused: str  # why not ("" when possible or undone already)
    done: UndoPlan | None  # what an earlier undo did


def history_page(
    company_id: int, *, status: str = "", offset: int = 0, limit: int = 50
) -> tuple[list[UploadLine], int]:
    with session_scope(read_only=True) as session:
        return history.list_uploads(session, company_id, status=status, offset=offset, limit=limit)


def history_all(company_id: int) -> list[UploadLine]:
    """Every upload of the company, newest first (the CLI)."""
    lines: list[UploadLine] = []
    with session_scope(read_only=True) as session:
        while True:
            page, total = history.list_uploads(session, company_id, offset=len(lines), limit=500)
            lines.extend(page)
            if not page or len(lines) >= total:
                return lines


def results_report(company_id: int, upload_id: str, fmt: str) -> Report:
    """Every row with its outcome and code, the file's columns first (XLSX or CSV)."""
    with session_scope(read_only=True) as session:
        upload = records.get_upload(session, company_id, upload_id)
        rows = records.every_row(session, upload.id)
        file_stem = upload.file_name.rsplit(".", 1)[0] or "users"
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in f"results-{file_stem}")[:80]
    if fmt == "csv":
        return Report(f"{safe}.csv", results_csv(rows), "text/csv")
    return Report(f"{safe}.xlsx", results_xlsx(rows), XLSX_MIME)


def undo_state(company_id: int, upload_id: str) -> UndoState:
    with session_scope(read_only=True) as session:
        upload = records.get_upload(session, company_id, upload_id)
        if upload.status in (UploadStatus.UNDONE, UploadStatus.PARTLY_UNDONE):
            return UndoState(False, "", "", undo.preview(session, company_id, upload_id))
        problem = undo.refusal(upload)
        ends = undo.window_ends(upload)
        until = f"{ends:%Y-%m-%d %H:%M} UTC" if ends is not None else ""
        return UndoState(problem is None, until if problem is None else "", problem.message if problem else "", None)


def undo_preview(company_id: int, upload_id: str) -> UndoPlan:
    """What Undo would do now: UndoRefused when it can't."""
    with session_scope(read_only=True) as session:
        return undo.preview(session, company_id, upload_id)


def undo_upload(company_id: int, upload_id: str, *, actor: str, admin_user_id: int | None = None) -> UndoPlan:
    """Remove the upload's users that did not change since (UndoRefused, UploadNotFound otherwise)."""
    with session_scope() as session:
        return undo.undo(session, company_id, upload_id, actor=actor, admin_user_id=admin_user_id)
