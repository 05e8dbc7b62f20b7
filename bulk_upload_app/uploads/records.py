"""Finding an upload of a company, and what it can tell: its seats, whether its creator is alive, its failed rows.

The one place an upload id from outside is looked up, always with the company id: another
company's upload looks exactly like one that does not exist.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from bulk_upload_app.errors import ErrorCode, FileProblem, UploadBusy, UploadNotFound
from bulk_upload_app.files.schema import COLUMN_NAMES
from bulk_upload_app.leases import CREATING
from bulk_upload_app.models import BulkUpload, BulkUploadRow, Company, User, utcnow
from bulk_upload_app.settings import get_settings
from bulk_upload_app.statuses import RowOutcome, UploadStatus
from bulk_upload_app.uploads import accounts


def lease_seconds() -> float:
    """A worker creating users refreshes its lease at every chunk; one silent for this long is taken
    for dead (killed, OOM, host lost) and its upload counts as interrupted, ready to resume."""
    return get_settings().create_lease_seconds


def get_upload(session: Session, company_id: int, upload_id: str) -> BulkUpload:
    upload = (
        session.exec(select(BulkUpload).where(BulkUpload.id == str(upload_id), BulkUpload.company_id == company_id))
        .scalars()
        .first()
    )
    if upload is None:
        raise UploadNotFound()
    if is_stale(upload):
        # Its worker died: show it as interrupted (resumable) without writing in a read. The
        # database keeps "creating" until recover_stale or the next create_users claims it.
        set_committed_value(upload, "status", UploadStatus.INTERRUPTED)
    return upload


def is_stale(upload: BulkUpload, now: datetime | None = None, lease: float | None = None) -> bool:
    """True for a "creating" upload whose worker has not shown a sign of life within the lease."""
    if upload.status != UploadStatus.CREATING:
        return False
    return CREATING.is_stale(upload.creating_heartbeat, now, lease_seconds() if lease is None else lease)


def company_seats(
    session: Session,
    company_id: int,
    *,
    lock: bool = False,
    excluding_upload: str | None = None,
    lease: float | None = None,
) -> accounts.Seats:
    """The company's seats, counting those reserved by creates whose lease is alive as taken."""
    alive_since = utcnow() - timedelta(seconds=lease_seconds() if lease is None else lease)
    return accounts.seats(
        session, company_id, lock=lock, reservations_alive_since=alive_since, excluding_upload=excluding_upload
    )


def seat_problem(
    session: Session, company_id: int, needed: int, legacy_dashboard_url: str, *, seats: accounts.Seats | None = None
) -> FileProblem | None:
    """SEATS_EXCEEDED when `needed` users would not fit in the company's free seats."""
    seats = seats or company_seats(session, company_id)
    if needed <= seats.free:
        return None
    return FileProblem(
        ErrorCode.SEATS_EXCEEDED,
        needed=needed,
        available=seats.free,
        shortfall=needed - seats.free,
        legacy_dashboard_url=legacy_dashboard_url,
    )


def pending_valid_rows(session: Session, upload_id: str) -> int:
    """The rows a create of the upload would still create (valid, not created yet)."""
    return session.exec(
        select(func.count()).where(
            BulkUploadRow.upload_id == upload_id,
            BulkUploadRow.is_valid.is_(True),
            BulkUploadRow.outcome == RowOutcome.PENDING,
        )
    ).scalar_one()


def failed_rows(session: Session, upload_id: str) -> list[dict[str, Any]]:
    rows = session.exec(
        select(BulkUploadRow)
        .where(
            BulkUploadRow.upload_id == upload_id,
            BulkUploadRow.outcome != RowOutcome.CREATED,
            BulkUploadRow.outcome != RowOutcome.REMOVED,
        )
        .order_by(BulkUploadRow.row_number)
    ).scalars()
    failed = []
    for row in rows:
        values = {"row": row.row_number, **{c: getattr(row, c) for c in COLUMN_NAMES}}
        if row.outcome == RowOutcome.FAILED:
            failed.append({**values, "code": row.outcome_code, "message": row.outcome_message})
        else:
            failed.extend({**values, "code": e["code"], "message": e["message"]} for e in row.errors or [])
    return failed


def rows_failed(failed: list[dict[str, Any]]) -> int:
    """How many rows `failed_rows` lists (a row with two errors is listed twice, counted once)."""
    return len({item["row"] for item in failed})


def every_row(session: Session, upload_id: str) -> list[dict[str, Any]]:
    """Every staged row with what became of it: its values, outcome, code(s) and message(s)."""
    rows = session.exec(
        select(BulkUploadRow).where(BulkUploadRow.upload_id == upload_id).order_by(BulkUploadRow.row_number)
    ).scalars()
    found = []
    for row in rows:
        values: dict[str, Any] = {"row": row.row_number, **{c: getattr(row, c) for c in COLUMN_NAMES}}
        if row.outcome == RowOutcome.FAILED:
            codes, messages = [row.outcome_code or ""], [row.outcome_message or ""]
        elif row.outcome == RowOutcome.PENDING and row.errors:
            codes = list(dict.fromkeys(e["code"] for e in row.errors))
            messages = [e["message"] for e in row.errors]
        else:
            codes, messages = [], []
        outcome = "not_created" if row.outcome == RowOutcome.PENDING and not row.is_valid else row.outcome
        found.append({**values, "outcome": outcome, "code": " ".join(codes), "message": " ".join(messages)})
    return found


def company_exists(session: Session, company_id: int) -> bool:
    return session.get(Company, company_id) is not None


def locked_upload(session: Session, company_id: int, upload_id: str) -> BulkUpload:
    """The company's upload, locked for this transaction (PostgreSQL; SQLite locks by BEGIN IMMEDIATE)."""
    query = (
        select(BulkUpload)
        .where(BulkUpload.id == str(upload_id), BulkUpload.company_id == company_id)
        .execution_options(populate_existing=True)
    )
    if session.get_bind().dialect.name != "sqlite":
        query = query.with_for_update()
    upload = session.exec(query).scalars().first()
    if upload is None:
        raise UploadNotFound()
    return upload


def locked_draft(session: Session, company_id: int, upload_id: str) -> BulkUpload:
    """The company's draft, locked for this transaction (PostgreSQL; SQLite locks by BEGIN IMMEDIATE)."""
    upload = locked_upload(session, company_id, upload_id)
    if upload.status != UploadStatus.DRAFT:
        raise UploadBusy("These users are already being created; the file can no longer change.")
    return upload


def rows_with_email_of_other_company(session: Session, company_id: int, upload_id: str) -> int:
    """How many of the upload's rows, not created, have an email a user of another company holds.

    Emails are global (people sign in by email), so such rows are refused with the same
    EMAIL_ALREADY_EXISTS an admin sees for their own users; only this count, kept in the audit,
    tells operators the two apart, without any email or company named.
    """
    row, user = BulkUploadRow.__table__.c, User.__table__.c
    return session.exec(
        select(func.count()).where(
            row.upload_id == upload_id,
            row.outcome.in_((RowOutcome.PENDING, RowOutcome.FAILED)),
            exists(select(user.id).where(user.email == row.email_norm, user.company_id != company_id)),
        )
    ).scalar_one()


def actor_of(admin_user_id: int | None) -> str:
    """Who acted, as the audit names them."""
    return f"admin:{admin_user_id}" if admin_user_id is not None else "system"
