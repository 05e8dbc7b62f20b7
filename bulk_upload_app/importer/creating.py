"""Creating a draft's users. Creating starts by reserving the batch's seats under the company
lock: a batch that does not fit in the seats left by active users and by the reservations of
other running creates is refused whole (SEATS_EXCEEDED) and stays a draft, because admins
read a shortage as "buy seats, then upload", never as half a batch. Then it goes in chunks,
each its own transaction that locks the company, re-counts seats and re-checks emails, so
concurrent batches can neither over-allocate seats nor create one email twice, and a crash
loses at most a chunk's work in progress, never a committed one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..db import session_scope
from ..models import (
    BulkUpload,
    BulkUploadRow,
    User,
    utcnow,
)
from ..settings import get_settings
from ..statuses import RowOutcome, UploadStatus
from . import accounts, audit
from .batch import BatchSpec, checked_batch
from .errors import (
    ErrorCode,
    FileProblem,
    UploadBusy,
    UploadNotFound,
    message_for,
)
from .linking import MAX_EXTENSION, link_batch, next_extension
from .records import (
    actor_of,
    company_seats,
    failed_rows,
    get_upload,
    lease_seconds,
    rows_with_email_of_other_company,
    seat_problem,
)

CREATE_CHUNK = 5000


@dataclass
class CreateResult:
    upload_id: str
    created: int
    failed: list[dict[str, Any]] = field(default_factory=list)  # row, email, code, message


class LeaseLost(UploadBusy):
    """This worker's lease on the upload expired and was taken over; it must stop at once."""


def _stale_condition(cutoff: datetime):
    up = BulkUpload.__table__.c
    return and_(
        up.status == UploadStatus.CREATING, or_(up.creating_heartbeat.is_(None), up.creating_heartbeat < cutoff)
    )


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
    ).where(_stale_condition(cutoff))
    if company_id is not None:
        query = query.where(up.company_id == company_id)
    recovered = []
    for found in session.execute(query).all():
        switched = session.execute(
            update(BulkUpload.__table__)
            .where(
                up.id == found.id,
                up.creating_owner.is_not_distinct_from(found.creating_owner),
                _stale_condition(cutoff),
            )
            .values(
                status=UploadStatus.INTERRUPTED,
                creating_owner=None,
                seats_reserved=0,
                version=up.version + 1,
                updated_at=now,
            )
        ).rowcount
        if switched != 1:
            continue  # resumed or recovered by someone else meanwhile
        created = _count_outcome(session, found.id, RowOutcome.CREATED)
        beat = found.creating_heartbeat.isoformat() if found.creating_heartbeat else "never"
        audit.record(
            session,
            audit.INTERRUPTED,
            upload_id=found.id,
            company_id=found.company_id,
            admin_user_id=found.admin_user_id,
            actor="recovery",
            file_name=found.file_name,
            file_sha256=found.file_sha256,
            created=created,
            outcome="interrupted",
            reason=f"worker stopped: no heartbeat from {found.creating_owner or 'its worker'} since {beat}",
            details={
                "attempt": found.create_attempts,
                "dead_worker": found.creating_owner,
                "last_heartbeat": beat,
                "lease_seconds": (now - cutoff).total_seconds(),
            },
        )
        recovered.append(found.id)
    session.flush()
    return recovered


def _count_outcome(session: Session, upload_id: str, outcome: str) -> int:
    return session.exec(
        select(func.count())
        .select_from(BulkUploadRow)
        .where(BulkUploadRow.upload_id == upload_id, BulkUploadRow.outcome == outcome)
    ).scalar_one()


def _claim(session: Session, company_id: int, upload_id: str, owner: str, now: datetime, lease: float) -> str | None:
    """Take the upload for this worker, atomically; the status it was resumed from, or UploadBusy."""
    up = BulkUpload.__table__.c
    before = session.execute(
        select(up.status, up.creating_heartbeat, up.creating_owner).where(
            up.id == str(upload_id), up.company_id == company_id
        )
    ).first()
    if before is None:
        raise UploadNotFound("This bulk upload does not exist or belongs to another account.")
    cutoff = now - timedelta(seconds=lease)
    claimed = session.execute(
        update(BulkUpload.__table__)
        .where(
            up.id == str(upload_id),
            up.company_id == company_id,
            or_(up.status.in_((UploadStatus.DRAFT, UploadStatus.INTERRUPTED)), _stale_condition(cutoff)),
        )
        .values(
            status=UploadStatus.CREATING,
            creating_owner=owner,
            creating_heartbeat=now,
            create_attempts=up.create_attempts + 1,
            version=up.version + 1,
            updated_at=now,
        )
    ).rowcount
    if claimed == 1:
        if before.status == UploadStatus.CREATING:
            beat = before.creating_heartbeat.isoformat() if before.creating_heartbeat else "never"
            return f"creating (worker {before.creating_owner} silent since {beat})"
        return None if before.status == UploadStatus.DRAFT else before.status
    status = session.execute(select(up.status).where(up.id == str(upload_id))).scalar_one()
    if status == UploadStatus.CREATING:
        raise UploadBusy("These users are being created right now, in another tab or by another admin.")
    if status == UploadStatus.ABANDONED:
        raise UploadBusy(
            "Creating these users stopped long ago and was not resumed, so their rows were deleted. "
            "The users added before it stopped are kept; upload the file again for the rest."
        )
    raise UploadBusy("This bulk upload has already been created.")


def _reserve_seats(
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


def _heartbeat(session: Session, upload_id: str, owner: str) -> None:
    """Renew the lease inside the chunk's transaction: a worker that lost it commits nothing more."""
    up = BulkUpload.__table__.c
    renewed = session.execute(
        update(BulkUpload.__table__)
        .where(up.id == upload_id, up.status == UploadStatus.CREATING, up.creating_owner == owner)
        .values(creating_heartbeat=utcnow())
    ).rowcount
    if renewed != 1:
        raise LeaseLost("Another worker took over creating these users; this one stops.")


def create_users(
    engine: Engine,
    company_id: int,
    upload_id: str,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    chunk_size: int = CREATE_CHUNK,
    admin_user_id: int | None = None,
    actor: str | None = None,
    lease: float | None = None,
    legacy_dashboard_url: str | None = None,
) -> CreateResult:
    """Create every valid, still pending row of the upload; safe to call again after a crash.

    The worker first claims the upload (one conditional UPDATE): from "draft", "interrupted", or a
    "creating" whose worker's lease expired. A fresh "creating" means another worker is at it
    (double click, second tab, replayed request): UploadBusy, and nothing runs twice. In the same
    transaction it reserves the seats of the rows to create; when they don't fit, FileProblem
    SEATS_EXCEEDED, nothing is created and the upload keeps its status (draft or interrupted).
    The lease is renewed in every chunk's transaction; each chunk also locks the company, so even
    a worker that lost its lease could not create a user twice.
    """
    lease = lease_seconds() if lease is None else lease
    owner = f"{audit.worker_name()}:{uuid.uuid4().hex[:8]}"[:80]
    who = actor or (actor_of(admin_user_id) if admin_user_id is not None else None)
    try:
        with session_scope(engine) as session:
            now = utcnow()
            resumed_from = _claim(session, company_id, upload_id, owner, now, lease)
            seats = _reserve_seats(
                session,
                company_id,
                upload_id,
                lease,
                get_settings().legacy_dashboard_url if legacy_dashboard_url is None else legacy_dashboard_url,
            )
            upload = (
                session.exec(
                    select(BulkUpload).where(BulkUpload.id == str(upload_id)).execution_options(populate_existing=True)
                )
                .scalars()
                .one()
            )
            # Checked again: a group, number or skill may have been deleted since it was chosen.
            spec = checked_batch(session, company_id, BatchSpec.from_json(upload.batch))
            bounds = (
                session.exec(
                    select(BulkUploadRow.row_number)
                    .where(
                        BulkUploadRow.upload_id == upload_id,
                        BulkUploadRow.is_valid.is_(True),
                        BulkUploadRow.outcome == RowOutcome.PENDING,
                    )
                    .order_by(BulkUploadRow.row_number)
                )
                .scalars()
                .all()
            )
            upload_user_type = upload.user_type
            who = who or actor_of(upload.admin_user_id)
            facts = {
                "company_id": company_id,
                "admin_user_id": admin_user_id if admin_user_id is not None else upload.admin_user_id,
                "actor": who,
                "file_name": upload.file_name,
                "file_sha256": upload.file_sha256,
            }
            audit.record(
                session,
                audit.CREATE_STARTED,
                upload_id=upload_id,
                at=now,
                outcome="creating",
                total_rows=upload.total_rows,
                valid_rows=upload.valid_rows,
                invalid_rows=upload.invalid_rows,
                created=_count_outcome(session, upload_id, RowOutcome.CREATED),
                **facts,
                details={
                    "attempt": upload.create_attempts,
                    "pending": len(bounds),
                    "resumed_from": resumed_from,
                    "chunk_size": chunk_size,
                    "owner": owner,
                    "lease_seconds": lease,
                    "seats_free": seats.free,
                    "seats_reserved_by_others": seats.reserved,
                },
            )
    except UploadNotFound:
        raise
    except BaseException as exc:
        _refused(engine, company_id, upload_id, who, exc)
        raise
    total = len(bounds)
    chunks = [(bounds[i], bounds[min(i + chunk_size, total) - 1]) for i in range(0, total, chunk_size)]
    done = 0
    try:
        for low, high in chunks:
            with session_scope(engine) as session:
                _heartbeat(session, upload_id, owner)
                done += _create_chunk(session, company_id, upload_id, upload_user_type, spec, low, high, lease)
            if on_progress:
                on_progress(done, total)
        with session_scope(engine) as session:
            _heartbeat(session, upload_id, owner)
            upload = get_upload(session, company_id, upload_id)
            failed = failed_rows(session, upload_id)
            created = _count_outcome(session, upload_id, RowOutcome.CREATED)
            upload.created_count = created
            upload.failed_count = len(failed)
            upload.status = UploadStatus.DONE
            upload.creating_owner = None
            upload.seats_reserved = 0
            upload.finished_at = utcnow()
            upload.version += 1
            by_code: dict[str, int] = {}
            for item in failed:
                by_code[item["code"]] = by_code.get(item["code"], 0) + 1
            audit.record(
                session,
                audit.CREATED,
                upload_id=upload_id,
                outcome="done",
                created=created,
                failed=len(failed),
                total_rows=upload.total_rows,
                **facts,
                details={
                    "failed_by_code": by_code,
                    "attempt": upload.create_attempts,
                    "processed_this_attempt": done,
                    "email_in_other_company": rows_with_email_of_other_company(session, company_id, upload_id),
                },
            )
    except LeaseLost:
        raise  # the new lease holder owns the upload and its audit now
    except BaseException as exc:
        # Committed chunks stay; calling create_users again creates the rest.
        _interrupted(engine, upload_id, owner, facts, exc)
        raise
    return CreateResult(upload_id=upload_id, created=created, failed=failed)


def _interrupted(engine: Engine, upload_id: str, owner: str, facts: dict[str, Any], exc: BaseException) -> None:
    up = BulkUpload.__table__.c
    with session_scope(engine) as session:
        stopped = session.execute(
            update(BulkUpload.__table__)
            .where(up.id == upload_id, up.status == UploadStatus.CREATING, up.creating_owner == owner)
            .values(
                status=UploadStatus.INTERRUPTED,
                creating_owner=None,
                seats_reserved=0,
                version=up.version + 1,
                updated_at=utcnow(),
            )
        ).rowcount
        if stopped:
            audit.record(
                session,
                audit.INTERRUPTED,
                upload_id=upload_id,
                outcome="interrupted",
                created=_count_outcome(session, upload_id, RowOutcome.CREATED),
                reason=audit.describe_error(exc),
                details={"error_class": type(exc).__name__, "owner": owner},
                **facts,
            )


def _refused(engine: Engine, company_id: int, upload_id: str, who: str | None, exc: BaseException) -> None:
    """Audit a create that could not even start (busy, already done, batch no longer valid)."""
    try:
        with session_scope(engine) as session:
            details: dict[str, Any] = {"error_class": type(exc).__name__}
            if isinstance(exc, FileProblem):
                details.update(exc.as_dict())
            audit.record(
                session,
                audit.CREATE_REFUSED,
                upload_id=upload_id,
                company_id=company_id,
                actor=who or "",
                outcome="refused",
                reason=audit.describe_error(exc),
                details=details,
            )
    except Exception:
        audit.logger.exception("could not audit a refused create of %s", upload_id)


def _create_chunk(
    session: Session,
    company_id: int,
    upload_id: str,
    user_type: str,
    spec: BatchSpec,
    low: int,
    high: int,
    lease: float,
) -> int:
    """Create the chunk's users set-wise, straight from the staged rows, under the company lock."""
    # The batch's own reservation covers its rows; the recount still guards against seats that
    # went away meanwhile (seats removed, users added outside bulk upload, a lease that lapsed).
    seats = company_seats(session, company_id, lock=True, excluding_upload=upload_id, lease=lease)
    rows_table = BulkUploadRow.__table__
    row = rows_table.c
    user = User.__table__.c
    in_chunk = and_(
        row.upload_id == upload_id,
        row.row_number.between(low, high),
        row.is_valid.is_(True),
        row.outcome == RowOutcome.PENDING,
    )
    pending = session.exec(select(func.count()).where(in_chunk)).scalar_one()
    taken = exists(select(user.id).where(user.email == row.email_norm))
    base = next_extension(session, company_id)
    if base + pending > MAX_EXTENSION:
        raise RuntimeError("This company has no free extensions left.")
    admitted = (
        select(row.id, row.row_number).where(in_chunk, ~taken).order_by(row.row_number).limit(seats.free).subquery()
    )
    source = (
        select(
            literal(company_id),
            row.firstname,
            row.lastname,
            row.email_norm,
            row.prefix_norm,
            row.phone_e164,
            literal(base - 1) + func.row_number().over(order_by=row.row_number),
            literal(user_type),
            null() if spec.settings is None else literal(spec.settings, JSON),
            literal(True),
            literal(upload_id),
            literal(utcnow(), User.__table__.c.created_at.type),
        )
        .select_from(rows_table.join(admitted, admitted.c.id == row.id))
        .where(true())
    )
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        dialect_insert(User.__table__)
        .from_select(
            [
                "company_id",
                "firstname",
                "lastname",
                "email",
                "country_prefix",
                "phone",
                "extension",
                "user_type",
                "settings",
                "is_active",
                "bulk_upload_id",
                "created_at",
            ],
            source,
        )
        .on_conflict_do_nothing(index_elements=["email"])
    )
    # UPDATE ... FROM: one join instead of two subqueries per row.
    created = session.execute(
        update(rows_table)
        .where(in_chunk, user.email == row.email_norm, user.bulk_upload_id == upload_id)
        .values(outcome="created", user_id=user.id)
    ).rowcount
    if created:
        link_batch(session, company_id, upload_id, spec, low, high)
    # Still pending: the email was taken (before, or by a concurrent batch), or no seat was left.
    lost = session.exec(select(row.id, row.email_norm).where(in_chunk, taken)).all()
    if lost:
        session.connection().execute(
            update(rows_table)
            .where(row.id == bindparam("row_id"))
            .values(
                outcome="failed",
                outcome_code=ErrorCode.EMAIL_ALREADY_EXISTS.value,
                outcome_message=bindparam("message"),
            ),
            [
                {"row_id": rid, "message": message_for(ErrorCode.EMAIL_ALREADY_EXISTS, value=email)}
                for rid, email in lost
            ],
        )
    session.execute(
        update(rows_table)
        .where(in_chunk)
        .values(
            outcome="failed",
            outcome_code=ErrorCode.NO_SEAT_AVAILABLE.value,
            outcome_message=message_for(ErrorCode.NO_SEAT_AVAILABLE),
        )
    )
    # Every row of the chunk is settled now, created or failed: its seat is no longer held.
    up = BulkUpload.__table__.c
    session.execute(
        update(BulkUpload.__table__)
        .where(up.id == upload_id)
        .values(seats_reserved=case((up.seats_reserved > pending, up.seats_reserved - pending), else_=0))
    )
    return pending
