"""The create lease (leases.CREATING): one worker at a time creates an upload's users, proves it is
alive at every chunk (heartbeat), holds the batch's seats while it runs, and is taken for dead when
silent longer than the lease; `recover_stale` marks such uploads interrupted (resumable)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    and_,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bulk_upload_app.db import session_scope
from bulk_upload_app.errors import UploadBusy, UploadNotFound
from bulk_upload_app.leases import CREATING
from bulk_upload_app.models import BulkUpload, BulkUploadRow, User, utcnow
from bulk_upload_app.statuses import RowOutcome, UploadStatus
from bulk_upload_app.uploads import accounts, lifecycle
from bulk_upload_app.uploads.records import company_seats, lease_seconds, seat_problem


class CreateRunning(UploadBusy):
    """Another worker holds a fresh lease on this create."""


class LeaseLost(UploadBusy):
    """This worker's lease on the upload expired and was taken over; it must stop at once."""


def stale_condition(cutoff: datetime):
    """Uploads "creating" whose worker has shown no sign of life since `cutoff`."""
    return and_(BulkUpload.__table__.c.status == UploadStatus.CREATING, CREATING.stale(cutoff))


def recover_stale(
    session_or_engine: Session | Engine,
    now: datetime | None = None,
    *,
    lease: float | None = None,
    company_id: int | None = None,
) -> list[str]:
    """Mark every "creating" upload whose worker's lease expired as "interrupted"; their ids.

    Safe to run anywhere, any time, by any number of processes: each upload is switched by one
    conditional UPDATE, so a live worker (fresh heartbeat) is never touched and each recovery is
    audited once. With a Session, the changes join its transaction; with an Engine, they commit.
    """
    if not isinstance(session_or_engine, Session):
        with session_scope(session_or_engine) as session:
            return recover_stale(session, now, lease=lease, company_id=company_id)
    session = session_or_engine
    now = now or utcnow()
    cutoff = now - timedelta(seconds=lease_seconds() if lease is None else lease)
    up = BulkUpload.__table__.c
    query = select(
        up.id,
        up.company_id,
        up.admin_user_id,
        up.file_name,
        up.file_sha256,
        up.creating_owner,
        up.creating_heartbeat,
        up.create_attempts,
    ).where(stale_condition(cutoff))
    if company_id is not None:
        query = query.where(up.company_id == company_id)
    recovered = []
    for found in session.execute(query).all():
        beat = found.creating_heartbeat.isoformat() if found.creating_heartbeat else "never"
        switched = lifecycle.interrupt(
            session,
            found.id,
            # released for the silent owner, if still it and still silent (not resumed meanwhile)
            lease=and_(CREATING.held_by(found.creating_owner), stale_condition(cutoff)),
            now=now,
            also={**CREATING.released(), "seats_reserved": 0},
            created=count_outcome(session, found.id, RowOutcome.CREATED),
            audit_fields={
                "company_id": found.company_id,
                "admin_user_id": found.admin_user_id,
                "actor": "recovery",
                "file_name": found.file_name,
                "file_sha256": found.file_sha256,
                "details": {
                    "attempt": found.create_attempts,
                    "dead_worker": found.creating_owner,
                    "last_heartbeat": beat,
                    "lease_seconds": (now - cutoff).total_seconds(),
                },
            },
            reason=f"worker stopped: no heartbeat from {found.creating_owner or 'its worker'} since {beat}",
            tell_reason="the worker creating the users stopped",
        )
        if not switched:
            continue  # resumed or recovered by someone else meanwhile
        recovered.append(found.id)
    session.flush()
    return recovered


def count_outcome(session: Session, upload_id: str, outcome: str) -> int:
    return session.exec(
        select(func.count())
        .select_from(BulkUploadRow)
        .where(BulkUploadRow.upload_id == upload_id, BulkUploadRow.outcome == outcome)
    ).scalar_one()


def claim(session: Session, company_id: int, upload_id: str, owner: str, now: datetime, lease: float) -> str | None:
    """Take the upload for this worker, atomically; the status it was resumed from, or UploadBusy."""
    up = BulkUpload.__table__.c
    before = session.execute(
        select(up.status, up.creating_heartbeat, up.creating_owner).where(
            up.id == str(upload_id), up.company_id == company_id
        )
    ).first()
    if before is None:
        raise UploadNotFound()
    cutoff = now - timedelta(seconds=lease)
    claimed = lifecycle.start_create(
        session,
        company_id,
        upload_id,
        lease_lapsed=stale_condition(cutoff),
        now=now,
        also={**CREATING.taken_by(owner, now, lease), "create_attempts": up.create_attempts + 1},
    )
    if claimed:
        if before.status == UploadStatus.CREATING:
            beat = before.creating_heartbeat.isoformat() if before.creating_heartbeat else "never"
            return f"creating (worker {before.creating_owner} silent since {beat})"
        return None if before.status == UploadStatus.DRAFT else before.status
    status = session.execute(select(up.status).where(up.id == str(upload_id))).scalar_one()
    if status == UploadStatus.CREATING:
        raise CreateRunning("These users are being created right now, in another tab or by another admin.")
    if status == UploadStatus.ABANDONED:
        raise UploadBusy(
            "Creating these users stopped long ago and was not resumed, so their rows were deleted. "
            "The users added before it stopped are kept; upload the file again for the rest."
        )
    raise UploadBusy("This bulk upload has already been created.")


def reserve_seats(
    session: Session, company_id: int, upload_id: str, lease: float, legacy_dashboard_url: str
) -> accounts.Seats:
    """Hold the seats of every row still to create, or refuse the whole batch with SEATS_EXCEEDED.

    Runs in the claim's transaction under the company lock, so two creates never both count
    the same free seats; on refusal the caller rolls the claim back and the upload stays as it was.
    """
    seats = company_seats(session, company_id, lock=True, excluding_upload=upload_id, lease=lease)
    row, user = BulkUploadRow.__table__.c, User.__table__.c
    # Rows whose email got taken meanwhile will fail, not take a seat.
    needed = session.exec(
        select(func.count()).where(
            row.upload_id == upload_id,
            row.is_valid.is_(True),
            row.outcome == RowOutcome.PENDING,
            ~exists(select(user.id).where(user.email == row.email_norm)),
        )
    ).scalar_one()
    problem = seat_problem(session, company_id, needed, legacy_dashboard_url, seats=seats)
    if problem is not None:
        raise problem
    up = BulkUpload.__table__.c
    session.execute(update(BulkUpload.__table__).where(up.id == upload_id).values(seats_reserved=needed))
    return seats


class CreateCancelled(Exception):
    """The admin cancelled the create: this worker stops before its next chunk."""


def heartbeat(session: Session, upload_id: str, owner: str, **values) -> None:
    """Renew the lease inside the chunk's transaction (with `values`, e.g. the progress): a worker
    that lost it commits nothing more; one whose admin cancelled stops (CreateCancelled)."""
    up = BulkUpload.__table__.c
    renewed = CREATING.renew(
        session, upload_id, owner, when=up.status == UploadStatus.CREATING, returning=(up.cancel_requested,), **values
    )
    if renewed is None:
        raise LeaseLost("Another worker took over creating these users; this one stops.")
    if renewed.cancel_requested:
        raise CreateCancelled("The admin cancelled creating these users.")
