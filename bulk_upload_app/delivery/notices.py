"""What an admin is told about delivery: the latest email of each upload in the admin's words
(the history, the result page, the CLI) and the batches finished since the admin last looked
(the notices on every page). Read from the outbox's rows; never writes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from bulk_upload_app.delivery.outbox import EVENT_BATCH_FINISHED, KIND_EMAIL
from bulk_upload_app.delivery.sending import NO_ADDRESS, NO_MAIL_SERVER
from bulk_upload_app.models import AdminHistorySeen, OutboxMessage, utcnow
from bulk_upload_app.statuses import OutboxStatus


@dataclass(frozen=True)
class Notification:
    """An upload's latest email row, as the history shows it."""

    status: str
    text: str  # "Emailed to a@example.com", "No email: no address", ...


def describe(status: str, recipients: list[str], attempts: int, last_error: str | None) -> str:
    """What became of an email row, in the admin's words (the history, the result page, the CLI)."""
    if status == OutboxStatus.SENT:
        return f"Emailed to {', '.join(recipients)}"
    if status == OutboxStatus.SKIPPED:
        return (last_error or NO_ADDRESS).capitalize()
    if status == OutboxStatus.NOT_SENT:
        return (last_error or NO_MAIL_SERVER).capitalize()
    if status == OutboxStatus.FAILED:
        return f"Email not sent: {last_error or 'gave up'}"
    if status == OutboxStatus.SENDING:  # claimed by a deliverer right now
        return f"Sending the email to {', '.join(recipients)}" if recipients else "Sending the email"
    if attempts:
        return f"Email waiting to be sent again ({attempts} tries so far)"
    return "Email waiting to be sent"


def notifications_of(session: Session, company_id: int, upload_ids: list[str]) -> dict[str, Notification]:
    """The latest email row of each of these uploads (of this company), by upload id."""
    if not upload_ids:
        return {}
    ob = OutboxMessage.__table__.c
    found: dict[str, Notification] = {}
    for row in session.execute(
        select(ob.upload_id, ob.status, ob.recipients, ob.attempts, ob.last_error)
        .where(ob.company_id == company_id, ob.upload_id.in_(upload_ids), ob.kind == KIND_EMAIL)
        .order_by(ob.finish_number, ob.id)
    ).all():
        found[row.upload_id] = Notification(
            row.status, describe(row.status, list(row.recipients), row.attempts, row.last_error)
        )
    return found


@dataclass(frozen=True)
class FinishedBatch:
    upload_id: str
    file_name: str
    status: str  # a STATUS_LABELS key
    status_label: str
    created: int
    failed: int
    finished_at: datetime


# Shown to an admin who never opened the history: what finished in the last days.
FIRST_LOOK_DAYS = 7
FINISHED_SHOWN = 10


def finished_since_seen(
    session: Session, company_id: int, admin_user_id: int, *, limit: int = FINISHED_SHOWN
) -> tuple[list[FinishedBatch], int]:
    """The company's batches that finished since this admin last looked at the history (newest
    first, at most `limit`), and how many there are in all."""
    seen = session.get(AdminHistorySeen, (company_id, admin_user_id))
    since = _aware(seen.seen_at) if seen is not None else utcnow() - timedelta(days=FIRST_LOOK_DAYS)
    ob = OutboxMessage.__table__.c
    where = and_(
        ob.company_id == company_id,
        ob.kind == KIND_EMAIL,
        ob.event == EVENT_BATCH_FINISHED,
        ob.created_at > since,
    )
    total = session.execute(select(func.count()).where(where)).scalar_one()
    rows = session.execute(
        select(ob.upload_id, ob.payload, ob.created_at)
        .where(where)
        .order_by(ob.created_at.desc(), ob.id.desc())
        .limit(limit)
    ).all()
    return [
        FinishedBatch(
            upload_id=r.upload_id,
            file_name=str(r.payload.get("file_name") or ""),
            status=str(r.payload.get("status") or ""),
            status_label=str(r.payload.get("status_label") or ""),
            created=int(r.payload.get("created") or 0),
            failed=int(r.payload.get("failed") or 0),
            finished_at=r.created_at,
        )
        for r in rows
    ], total


def mark_seen(session: Session, company_id: int, admin_user_id: int, now: datetime | None = None) -> None:
    """This admin looked at the history now."""
    now = now or utcnow()
    seen = session.get(AdminHistorySeen, (company_id, admin_user_id))
    if seen is None:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = insert(AdminHistorySeen.__table__).values(
            company_id=company_id, admin_user_id=admin_user_id, seen_at=now
        )
        session.execute(
            statement.on_conflict_do_update(index_elements=["company_id", "admin_user_id"], set_={"seen_at": now})
        )
    else:
        seen.seen_at = now
        session.add(seen)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
