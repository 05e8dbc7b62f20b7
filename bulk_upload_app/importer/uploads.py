"""A bulk upload's life in the database: staged as a draft, then its users created.

Staged rows live in `bulk_upload_row`, not in memory, so a draft survives reloads,
restarts and other workers. Creating starts by reserving the batch's seats under the company
lock: a batch that does not fit in the seats left by active users and by the reservations of
other running creates is refused whole (SEATS_EXCEEDED) and stays a draft, because admins
read a shortage as "buy seats, then upload", never as half a batch. Then it goes in chunks,
each its own transaction that locks the company, re-counts seats and re-checks emails, so
concurrent batches can neither over-allocate seats nor create one email twice, and a crash
loses at most a chunk's work in progress, never a committed one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import polars as pl
from sqlalchemy import JSON, Integer, and_, bindparam, case, delete, exists, func, insert, literal, null, or_, select, true, union_all, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..db import copy_rows, session_scope
from ..models import (
    BulkUpload,
    BulkUploadRow,
    Company,
    GroupMember,
    RowOutcome,
    Skill,
    UploadStatus,
    User,
    UserOutboundNumber,
    UserSkill,
    utcnow,
)
from ..settings import get_settings
from . import accounts, audit, capacity
from .batch import BatchSpec, checked_batch
from .errors import ErrorCode, FileProblem, RowError, message_for
from .intake import ParsedFile, parse_file, validate_file
from .reading import ReadLimits
from .schema import COLUMN_NAMES
from .validation import Validation

CREATE_CHUNK = 5000


def lease_seconds() -> float:
    """A worker creating users refreshes its lease at every chunk; one silent for this long is taken
    for dead (killed, OOM, host lost) and its upload counts as interrupted, ready to resume."""
    return get_settings().create_lease_seconds


class UploadNotFound(LookupError):
    """No such upload in this company (also what another company's upload looks like)."""


class UploadBusy(RuntimeError):
    """The upload is being created, or already was; it can't change or start again."""


def check_against_account(session: Session, validation: Validation) -> Validation:
    """Add EMAIL_ALREADY_EXISTS for rows whose (otherwise valid) email is taken."""
    candidates = validation.frame.filter(pl.col("email_norm").is_not_null())
    taken = accounts.existing_emails(session, candidates["email_norm"].to_list())
    if not taken:
        return validation
    hits = candidates.filter(pl.col("email_norm").is_in(list(taken))).select("row", "email_norm")
    errors = list(validation.errors)
    errors.extend(
        RowError(row, "email", ErrorCode.EMAIL_ALREADY_EXISTS, message_for(ErrorCode.EMAIL_ALREADY_EXISTS, value=email))
        for row, email in hits.iter_rows()
    )
    errors.sort(key=lambda e: (e.row, COLUMN_NAMES.index(e.column) if e.column in COLUMN_NAMES else -1))
    bad = set(hits["row"].to_list())
    frame = validation.frame.with_columns(is_valid=pl.col("is_valid") & ~pl.col("row").is_in(list(bad)))
    return Validation(frame=frame, errors=errors)


def stage_upload(
    session: Session,
    *,
    company_id: int,
    admin_user_id: int | None,
    file_name: str,
    parsed: ParsedFile,
    validation: Validation,
    user_type: str = "agent",
    into: BulkUpload | None = None,
    actor: str | None = None,
) -> BulkUpload:
    """Store a checked file as a draft with one staged row per data row.

    With `into`, the file replaces the rows of that (locked, still draft) upload, which keeps
    its id, user type and batch settings. Leaves a `bulk_upload.staged` audit row.
    """
    validation = check_against_account(session, validation)
    if into is None:
        upload = BulkUpload(company_id=company_id, admin_user_id=admin_user_id, user_type=user_type,
                            batch=BatchSpec(user_type=user_type).to_json())
    else:
        upload = into
        session.execute(delete(BulkUploadRow).where(BulkUploadRow.upload_id == upload.id))
        upload.version += 1
        upload.wizard_step = "review"
        upload.updated_at = utcnow()
    upload.file_name = file_name[:255]
    upload.file_sha256 = parsed.sha256
    upload.file_format = parsed.raw.file_format
    upload.sheet_name = parsed.raw.sheet_name
    upload.notices = parsed.notices
    upload.total_rows, upload.valid_rows, upload.invalid_rows = validation.rows, validation.valid, validation.invalid
    session.add(upload)
    session.flush()
    errors = validation.errors_by_row()
    staged = validation.frame.select("row", *COLUMN_NAMES, "email_norm", "prefix_norm", "phone_e164", "is_valid")
    copy_rows(
        session,
        BulkUploadRow.__tablename__,
        ["upload_id", "row_number", *COLUMN_NAMES, "email_norm", "prefix_norm", "phone_e164", "is_valid", "errors", "outcome"],
        [
            (upload.id, *values, _errors_json(errors.get(values[0], ())), RowOutcome.PENDING)
            for values in staged.iter_rows()
        ],
    )
    audit.record(
        session, audit.STAGED, upload_id=upload.id, company_id=company_id, admin_user_id=admin_user_id,
        actor=actor or _actor(admin_user_id), file_name=upload.file_name, file_sha256=upload.file_sha256,
        total_rows=upload.total_rows, valid_rows=upload.valid_rows, invalid_rows=upload.invalid_rows, outcome="staged",
        details={"file_format": upload.file_format, "replaced_file": into is not None, "notices": list(upload.notices),
                 "email_in_other_company": rows_with_email_of_other_company(session, company_id, upload.id)},
    )
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
            row.upload_id == upload_id, row.outcome.in_((RowOutcome.PENDING, RowOutcome.FAILED)),
            exists(select(user.id).where(user.email == row.email_norm, user.company_id != company_id)),
        )
    ).scalar_one()


def _actor(admin_user_id: int | None) -> str:
    return f"admin:{admin_user_id}" if admin_user_id is not None else "system"


def draft_from_file(
    engine: Engine,
    *,
    company_id: int,
    admin_user_id: int | None,
    file_name: str,
    data: bytes,
    limits: ReadLimits,
    user_type: str = "agent",
    replace_upload_id: str | None = None,
    on_phase: Callable[[str, int], None] | None = None,
    capacity_limits: capacity.Limits | None = None,
) -> str:
    """Read, check and stage an uploaded file as a draft; FileProblem when it can't be used.

    With `capacity_limits`, a new draft counts against the company's open drafts, and the work
    waits for (or is refused) a file-processing slot.
    """
    phase = on_phase or (lambda label, percent: None)
    if capacity_limits is None:
        return _draft_from_file(engine, company_id, admin_user_id, file_name, data, limits, user_type,
                                replace_upload_id, phase)
    if not replace_upload_id:
        capacity.check_open_drafts(engine, company_id, capacity_limits)
    with capacity.file_slot(engine, company_id, capacity_limits,
                            on_wait=lambda: phase("Waiting for a free moment to read the file", 5)):
        return _draft_from_file(engine, company_id, admin_user_id, file_name, data, limits, user_type,
                                replace_upload_id, phase)


def _draft_from_file(engine: Engine, company_id: int, admin_user_id: int | None, file_name: str, data: bytes,
                     limits: ReadLimits, user_type: str, replace_upload_id: str | None,
                     phase: Callable[[str, int], None]) -> str:
    phase("Reading the file", 10)
    try:
        parsed = parse_file(data, file_name, limits)
        phase(f"Checking {parsed.frame.height:,} rows", 40)
        validation = validate_file(parsed)
    except FileProblem as exc:
        with session_scope(engine) as session:
            audit.record(session, audit.REJECTED, upload_id=replace_upload_id or None, company_id=company_id,
                         admin_user_id=admin_user_id, actor=_actor(admin_user_id), file_name=file_name,
                         file_sha256=hashlib.sha256(data).hexdigest(), outcome="rejected", reason=exc.message,
                         details={"code": exc.code.value, "bytes": len(data)})
        raise
    phase("Saving the draft", 75)
    with session_scope(engine) as session:
        into = None
        if replace_upload_id:
            from .drafts import locked_draft

            into = locked_draft(session, company_id, replace_upload_id)
        upload = stage_upload(session, company_id=company_id, admin_user_id=admin_user_id, file_name=file_name,
                              parsed=parsed, validation=validation, user_type=user_type, into=into)
        upload_id = upload.id
    phase("Done", 100)
    return upload_id


def _errors_json(errors) -> str:  # noqa: ANN001
    return json.dumps([{"column": e.column, "code": e.code.value, "message": e.message} for e in errors])


def get_upload(session: Session, company_id: int, upload_id: str) -> BulkUpload:
    upload = session.exec(
        select(BulkUpload).where(BulkUpload.id == str(upload_id), BulkUpload.company_id == company_id)
    ).scalars().first()
    if upload is None:
        raise UploadNotFound("This bulk upload does not exist or belongs to another account.")
    if is_stale(upload):
        # Its worker died: show it as interrupted (resumable) without writing in a read. The
        # database keeps "creating" until recover_stale or the next create_users claims it.
        set_committed_value(upload, "status", UploadStatus.INTERRUPTED)
    return upload


def is_stale(upload: BulkUpload, now: datetime | None = None, lease: float | None = None) -> bool:
    """True for a "creating" upload whose worker has not shown a sign of life within the lease."""
    if upload.status != UploadStatus.CREATING:
        return False
    beat = upload.creating_heartbeat
    if beat is None:
        return True
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=timezone.utc)
    return beat < (now or utcnow()) - timedelta(seconds=lease_seconds() if lease is None else lease)


def configure_batch(session: Session, company_id: int, upload_id: str, spec: BatchSpec) -> BulkUpload:
    upload = get_upload(session, company_id, upload_id)
    if upload.status != UploadStatus.DRAFT:
        raise UploadBusy("This bulk upload has already been created.")
    checked = checked_batch(session, company_id, spec)
    upload.batch = checked.to_json()
    upload.user_type = checked.user_type
    upload.version += 1
    upload.updated_at = utcnow()
    session.add(upload)
    return upload


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
    return accounts.seats(session, company_id, lock=lock, reservations_alive_since=alive_since,
                          excluding_upload=excluding_upload)


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


# ---------------------------------------------------------------- creating users


@dataclass
class CreateResult:
    upload_id: str
    created: int
    failed: list[dict[str, Any]] = field(default_factory=list)  # row, email, code, message


class LeaseLost(UploadBusy):
    """This worker's lease on the upload expired and was taken over; it must stop at once."""


def _stale_condition(cutoff: datetime):  # noqa: ANN202
    up = BulkUpload.__table__.c
    return and_(up.status == UploadStatus.CREATING, or_(up.creating_heartbeat.is_(None), up.creating_heartbeat < cutoff))


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
    query = select(up.id, up.company_id, up.admin_user_id, up.file_name, up.file_sha256, up.creating_owner,
                   up.creating_heartbeat, up.create_attempts).where(_stale_condition(cutoff))
    if company_id is not None:
        query = query.where(up.company_id == company_id)
    recovered = []
    for found in session.execute(query).all():
        switched = session.execute(
            update(BulkUpload.__table__)
            .where(up.id == found.id, up.creating_owner.is_not_distinct_from(found.creating_owner), _stale_condition(cutoff))
            .values(status=UploadStatus.INTERRUPTED, creating_owner=None, seats_reserved=0, version=up.version + 1, updated_at=now)
        ).rowcount
        if switched != 1:
            continue  # resumed or recovered by someone else meanwhile
        created = _count_outcome(session, found.id, RowOutcome.CREATED)
        beat = found.creating_heartbeat.isoformat() if found.creating_heartbeat else "never"
        audit.record(
            session, audit.INTERRUPTED, upload_id=found.id, company_id=found.company_id,
            admin_user_id=found.admin_user_id, actor="recovery", file_name=found.file_name,
            file_sha256=found.file_sha256, created=created, outcome="interrupted",
            reason=f"worker stopped: no heartbeat from {found.creating_owner or 'its worker'} since {beat}",
            details={"attempt": found.create_attempts, "dead_worker": found.creating_owner, "last_heartbeat": beat,
                     "lease_seconds": (now - cutoff).total_seconds()},
        )
        recovered.append(found.id)
    session.flush()
    return recovered


def _count_outcome(session: Session, upload_id: str, outcome: str) -> int:
    return session.exec(
        select(func.count()).select_from(BulkUploadRow)
        .where(BulkUploadRow.upload_id == upload_id, BulkUploadRow.outcome == outcome)
    ).scalar_one()


def _claim(session: Session, company_id: int, upload_id: str, owner: str, now: datetime, lease: float) -> str | None:
    """Take the upload for this worker, atomically; the status it was resumed from, or UploadBusy."""
    up = BulkUpload.__table__.c
    before = session.execute(
        select(up.status, up.creating_heartbeat, up.creating_owner)
        .where(up.id == str(upload_id), up.company_id == company_id)
    ).first()
    if before is None:
        raise UploadNotFound("This bulk upload does not exist or belongs to another account.")
    cutoff = now - timedelta(seconds=lease)
    claimed = session.execute(
        update(BulkUpload.__table__)
        .where(up.id == str(upload_id), up.company_id == company_id,
               or_(up.status.in_((UploadStatus.DRAFT, UploadStatus.INTERRUPTED)), _stale_condition(cutoff)))
        .values(status=UploadStatus.CREATING, creating_owner=owner, creating_heartbeat=now, create_attempts=up.create_attempts + 1,
                version=up.version + 1, updated_at=now)
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
        raise UploadBusy("Creating these users stopped long ago and was not resumed, so their rows were deleted. "
                         "The users added before it stopped are kept; upload the file again for the rest.")
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
        select(func.count()).where(row.upload_id == upload_id, row.is_valid.is_(True), row.outcome == RowOutcome.PENDING,
                                   ~exists(select(user.id).where(user.email == row.email_norm)))
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
    who = actor or (_actor(admin_user_id) if admin_user_id is not None else None)
    try:
        with session_scope(engine) as session:
            now = utcnow()
            resumed_from = _claim(session, company_id, upload_id, owner, now, lease)
            seats = _reserve_seats(session, company_id, upload_id, lease,
                                   get_settings().legacy_dashboard_url if legacy_dashboard_url is None
                                   else legacy_dashboard_url)
            upload = session.exec(
                select(BulkUpload).where(BulkUpload.id == str(upload_id)).execution_options(populate_existing=True)
            ).scalars().one()
            # Checked again: a group, number or skill may have been deleted since it was chosen.
            spec = checked_batch(session, company_id, BatchSpec.from_json(upload.batch))
            bounds = session.exec(
                select(BulkUploadRow.row_number)
                .where(BulkUploadRow.upload_id == upload_id, BulkUploadRow.is_valid.is_(True), BulkUploadRow.outcome == RowOutcome.PENDING)
                .order_by(BulkUploadRow.row_number)
            ).scalars().all()
            upload_user_type = upload.user_type
            who = who or _actor(upload.admin_user_id)
            facts = {"company_id": company_id, "admin_user_id": admin_user_id if admin_user_id is not None else upload.admin_user_id,
                     "actor": who, "file_name": upload.file_name, "file_sha256": upload.file_sha256}
            audit.record(
                session, audit.CREATE_STARTED, upload_id=upload_id, at=now, outcome="creating",
                total_rows=upload.total_rows, valid_rows=upload.valid_rows, invalid_rows=upload.invalid_rows,
                created=_count_outcome(session, upload_id, RowOutcome.CREATED), **facts,
                details={"attempt": upload.create_attempts, "pending": len(bounds), "resumed_from": resumed_from,
                         "chunk_size": chunk_size, "owner": owner, "lease_seconds": lease,
                         "seats_free": seats.free, "seats_reserved_by_others": seats.reserved},
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
            audit.record(session, audit.CREATED, upload_id=upload_id, outcome="done", created=created,
                         failed=len(failed), total_rows=upload.total_rows, **facts,
                         details={"failed_by_code": by_code, "attempt": upload.create_attempts,
                                  "processed_this_attempt": done,
                                  "email_in_other_company": rows_with_email_of_other_company(session, company_id, upload_id)})
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
            .values(status=UploadStatus.INTERRUPTED, creating_owner=None, seats_reserved=0, version=up.version + 1,
                    updated_at=utcnow())
        ).rowcount
        if stopped:
            audit.record(session, audit.INTERRUPTED, upload_id=upload_id, outcome="interrupted",
                         created=_count_outcome(session, upload_id, RowOutcome.CREATED), reason=audit.describe_error(exc),
                         details={"error_class": type(exc).__name__, "owner": owner}, **facts)


def _refused(engine: Engine, company_id: int, upload_id: str, who: str | None, exc: BaseException) -> None:
    """Audit a create that could not even start (busy, already done, batch no longer valid)."""
    try:
        with session_scope(engine) as session:
            details: dict[str, Any] = {"error_class": type(exc).__name__}
            if isinstance(exc, FileProblem):
                details.update(exc.as_dict())
            audit.record(session, audit.CREATE_REFUSED, upload_id=upload_id, company_id=company_id,
                         actor=who or "", outcome="refused", reason=audit.describe_error(exc), details=details)
    except Exception:  # noqa: BLE001  (the original error matters more than its audit)
        audit.logger.exception("could not audit a refused create of %s", upload_id)


def failed_rows(session: Session, upload_id: str) -> list[dict[str, Any]]:
    rows = session.exec(
        select(BulkUploadRow)
        .where(BulkUploadRow.upload_id == upload_id, BulkUploadRow.outcome != RowOutcome.CREATED, BulkUploadRow.outcome != RowOutcome.REMOVED)
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


def _create_chunk(
    session: Session, company_id: int, upload_id: str, user_type: str, spec: BatchSpec, low: int, high: int,
    lease: float,
) -> int:
    """Create the chunk's users set-wise, straight from the staged rows, under the company lock."""
    # The batch's own reservation covers its rows; the recount still guards against seats that
    # went away meanwhile (seats removed, users added outside bulk upload, a lease that lapsed).
    seats = company_seats(session, company_id, lock=True, excluding_upload=upload_id, lease=lease)
    rows_table = BulkUploadRow.__table__
    row = rows_table.c
    user = User.__table__.c
    in_chunk = and_(row.upload_id == upload_id, row.row_number.between(low, high), row.is_valid.is_(True),
                    row.outcome == RowOutcome.PENDING)
    pending = session.exec(select(func.count()).where(in_chunk)).scalar_one()
    taken = exists(select(user.id).where(user.email == row.email_norm))
    base = _next_extension(session, company_id)
    if base + pending > _MAX_EXTENSION:
        raise RuntimeError("This company has no free extensions left.")
    admitted = (
        select(row.id, row.row_number).where(in_chunk, ~taken).order_by(row.row_number).limit(seats.free).subquery()
    )
    source = (
        select(
            literal(company_id), row.firstname, row.lastname, row.email_norm, row.prefix_norm, row.phone_e164,
            literal(base - 1) + func.row_number().over(order_by=row.row_number),
            literal(user_type),
            null() if spec.settings is None else literal(spec.settings, JSON),
            literal(True), literal(upload_id), literal(utcnow(), User.__table__.c.created_at.type),
        )
        .select_from(rows_table.join(admitted, admitted.c.id == row.id))
        .where(true())
    )
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        dialect_insert(User.__table__)
        .from_select(["company_id", "firstname", "lastname", "email", "country_prefix", "phone", "extension",
                      "user_type", "settings", "is_active", "bulk_upload_id", "created_at"], source)
        .on_conflict_do_nothing(index_elements=["email"])
    )
    # UPDATE ... FROM: one join instead of two subqueries per row.
    created = session.execute(
        update(rows_table)
        .where(in_chunk, user.email == row.email_norm, user.bulk_upload_id == upload_id)
        .values(outcome="created", user_id=user.id)
    ).rowcount
    if created:
        _link_batch(session, company_id, upload_id, spec, low, high)
    # Still pending: the email was taken (before, or by a concurrent batch), or no seat was left.
    lost = session.exec(select(row.id, row.email_norm).where(in_chunk, taken)).all()
    if lost:
        session.connection().execute(
            update(rows_table).where(row.id == bindparam("row_id"))
            .values(outcome="failed", outcome_code=ErrorCode.EMAIL_ALREADY_EXISTS.value, outcome_message=bindparam("message")),
            [{"row_id": rid, "message": message_for(ErrorCode.EMAIL_ALREADY_EXISTS, value=email)} for rid, email in lost],
        )
    session.execute(
        update(rows_table).where(in_chunk).values(
            outcome="failed", outcome_code=ErrorCode.NO_SEAT_AVAILABLE.value,
            outcome_message=message_for(ErrorCode.NO_SEAT_AVAILABLE),
        )
    )
    # Every row of the chunk is settled now, created or failed: its seat is no longer held.
    up = BulkUpload.__table__.c
    session.execute(
        update(BulkUpload.__table__).where(up.id == upload_id)
        .values(seats_reserved=case((up.seats_reserved > pending, up.seats_reserved - pending), else_=0))
    )
    return pending


# 4 digits, then 5 once a company outgrows them; past 99,999 users, 6 and more.
_MAX_EXTENSION = 99_999_999


def _next_extension(session: Session, company_id: int) -> int:
    """New users get the extensions after the highest in use, from 1000 up."""
    highest = session.exec(select(func.max(User.extension)).where(User.company_id == company_id)).scalar_one()
    return max(1000, (highest or 0) + 1)


def _link_batch(session: Session, company_id: int, upload_id: str, spec: BatchSpec, low: int, high: int) -> None:
    """Give the users this chunk created the batch's groups, numbers and skills: one statement a table."""
    row = BulkUploadRow.__table__.c
    created = and_(row.upload_id == upload_id, row.row_number.between(low, high), row.outcome == RowOutcome.CREATED)
    skills = [(c.skill_id or _get_or_create_skill(session, company_id, c.new_name or ""), c.level) for c in spec.skills]
    for model, columns, values in (
        (GroupMember, ["group_id"], [(g,) for g in spec.group_ids]),
        (UserOutboundNumber, ["outbound_number_id"], [(n,) for n in spec.outbound_number_ids]),
        (UserSkill, ["skill_id", "level"], skills),
    ):
        if not values:
            continue
        # A UNION ALL of literal rows: SQLite can't name the columns of a VALUES list.
        chosen = union_all(
            *(select(*(literal(v, Integer).label(c) for c, v in zip(columns, value))) for value in values)
        ).subquery("chosen")
        every_pair = BulkUploadRow.__table__.join(chosen, true())
        source = select(row.user_id, *(chosen.c[c] for c in columns)).select_from(every_pair).where(created)
        session.execute(insert(model.__table__).from_select(["user_id", *columns], source))


def _get_or_create_skill(session: Session, company_id: int, name: str) -> int:
    name = " ".join(name.split())
    skill_id = session.exec(
        select(Skill.id).where(Skill.company_id == company_id, Skill.name_key == name.casefold())
    ).scalar_one_or_none()
    if skill_id is None:
        skill = Skill(company_id=company_id, name=name, name_key=name.casefold())
        session.add(skill)
        session.flush()
        skill_id = skill.id
    return skill_id


def company_exists(session: Session, company_id: int) -> bool:
    return session.get(Company, company_id) is not None
