"""Creating a draft's users, and what came of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bulk_upload_app import errors, jobs
from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.models import BulkUpload
from bulk_upload_app.services.drafts import DraftSummary, summary_of
from bulk_upload_app.settings import get_settings
from bulk_upload_app.statuses import UploadStatus
from bulk_upload_app.uploads import creating, lifecycle, records

SHOWN_FAILURES = 200  # the rest are in the downloadable report


@dataclass(frozen=True)
class Outcome:
    summary: DraftSummary
    created: int
    failed: list[dict[str, str]]  # the first SHOWN_FAILURES: row, email, code, message
    failed_total: int
    rows_purged_on: str  # "" while the rows are kept; the day retention deleted them


def create(
    company_id: int,
    upload_id: str,
    *,
    admin_user_id: int | None,
    actor: str,
    on_progress: Callable[[int, int], None] | None = None,
) -> creating.CreateResult:
    """Create the valid rows' users (all of the batch within the seats, or SEATS_EXCEEDED)."""
    return creating.create_users(
        get_engine(), company_id, upload_id, on_progress=on_progress, admin_user_id=admin_user_id, actor=actor
    )


def start_create(company_id: int, upload_id: str, *, admin_user_id: int | None, actor: str) -> DraftSummary:
    """Queue the create of the valid rows' users for a worker (jobs.py): refused at once (and
    nothing queued) when there are no valid rows or not enough seats; the summary, now queued."""
    engine = get_engine()
    with session_scope(engine) as session:
        upload = records.locked_upload(session, company_id, upload_id)
        if upload.status not in (UploadStatus.DRAFT, UploadStatus.INTERRUPTED):
            raise errors.UploadBusy("This bulk upload has already been created, or is being created.")
        if upload.queued_at is None:
            needed = records.pending_valid_rows(session, upload_id)
            if needed == 0:
                raise errors.UploadBusy("There are no valid rows to create. Fix the rows with errors first.")
            problem = records.seat_problem(session, company_id, needed, get_settings().legacy_dashboard_url)
            if problem is not None:
                raise problem
            lifecycle.queue_create(upload)
            session.add(upload)
            queue_it = True
        else:
            queue_it = False  # a double click, a second tab: the queued job will do it once
        summary = summary_of(session, upload)
    if queue_it:
        jobs.enqueue_create(company_id, upload_id, admin_user_id=admin_user_id, actor=actor)
    return summary


def outcome(company_id: int, upload_id: str) -> Outcome:
    with session_scope(read_only=True) as session:
        upload = records.get_upload(session, company_id, upload_id)
        failed = records.failed_rows(session, upload.id)
        summary = summary_of(session, upload)
    total, purged_on = _failed_total(upload, failed)
    shown = [{k: str(f.get(k) or "") for k in ("row", "email", "code", "message")} for f in failed[:SHOWN_FAILURES]]
    return Outcome(summary, upload.created_count, shown, total, purged_on)


def _failed_total(upload: BulkUpload, failed: list[dict[str, Any]]) -> tuple[int, str]:
    """Once the retention purge deleted the rows, only the count stored on the upload is left."""
    if upload.rows_purged_at is None:
        return records.rows_failed(failed), ""
    return upload.failed_count, f"{upload.rows_purged_at:%Y-%m-%d}"
