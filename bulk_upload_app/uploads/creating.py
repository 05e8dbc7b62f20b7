"""Creating a draft's users. Creating starts by reserving the batch's seats under the company
lock: a batch that does not fit in the seats left by active users and by the reservations of
other running creates is refused whole (SEATS_EXCEEDED) and stays a draft, because admins
read a shortage as "buy seats, then upload", never as half a batch. Then it goes in chunks,
each its own transaction that locks the company, re-counts seats and re-checks emails, so
concurrent batches can neither over-allocate seats nor create one email twice, and a crash
loses at most a chunk's work in progress, never a committed one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
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
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bulk_upload_app import audit
from bulk_upload_app.db import session_scope
from bulk_upload_app.errors import ErrorCode, FileProblem, UploadNotFound, message_for
from bulk_upload_app.leases import CREATING, new_owner
from bulk_upload_app.models import BulkUpload, BulkUploadRow, User, utcnow
from bulk_upload_app.settings import get_settings
from bulk_upload_app.statuses import RowOutcome
from bulk_upload_app.uploads import lifecycle, membership
from bulk_upload_app.uploads.batch import BatchSpec, checked_batch, given_links
from bulk_upload_app.uploads.create_lease import (
    CreateCancelled,
    LeaseLost,
    claim,
    count_outcome,
    heartbeat,
    reserve_seats,
)
from bulk_upload_app.uploads.linking import MAX_EXTENSION, next_extension
from bulk_upload_app.uploads.records import actor_of, company_seats, failed_rows, get_upload, lease_seconds

CREATE_CHUNK = 5000


@dataclass
class CreateResult:
    upload_id: str
    created: int
    failed: list[dict[str, Any]] = field(default_factory=list)  # row, email, code, message
    notices: list[str] = field(default_factory=list)  # what reading the file noticed (e.g. the columns matched)


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
    before_chunk: Callable[[int], bool] | None = None,
) -> CreateResult:
    """Create every valid, still pending row of the upload; safe to call again after a crash.

    The worker first claims the upload (one conditional UPDATE): from "draft", "interrupted", or a
    "creating" whose worker's lease expired. A fresh "creating" means another worker is at it
    (double click, second tab, replayed request): UploadBusy, and nothing runs twice. In the same
    transaction it reserves the seats of the rows to create; when they don't fit, FileProblem
    SEATS_EXCEEDED, nothing is created and the upload keeps its status (draft or interrupted).
    The lease is renewed in every chunk's transaction; each chunk also locks the company, so even
    a worker that lost its lease could not create a user twice.

    `before_chunk(first row number)` runs between chunks, outside any transaction (SCIM Bulk runs
    its other operations there, in request order); False stops creating: the rows left are
    settled by the caller before it returns False, and the upload finishes as done.
    """
    lease = lease_seconds() if lease is None else lease
    owner = new_owner()
    who = actor or (actor_of(admin_user_id) if admin_user_id is not None else None)
    try:
        with session_scope(engine) as session:
            now = utcnow()
            resumed_from = claim(session, company_id, upload_id, owner, now, lease)
            seats = reserve_seats(
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
            # Each user's groups, numbers and skills, with the skills the batch names new made now.
            links = given_links(session, company_id, spec)
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
                created=count_outcome(session, upload_id, RowOutcome.CREATED),
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
    # (first row number, last row number, how many rows to create between them)
    chunks = [
        (bounds[i], bounds[min(i + chunk_size, total) - 1], min(chunk_size, total - i))
        for i in range(0, total, chunk_size)
    ]
    done = 0
    try:
        with session_scope(engine) as session:
            heartbeat(session, upload_id, owner, create_done=0, create_total=total, queued_at=None)
        for low, high, pending in chunks:
            if before_chunk is not None and not before_chunk(low):
                break
            with session_scope(engine) as session:
                heartbeat(session, upload_id, owner)
                done += _create_chunk(
                    session, company_id, upload_id, upload_user_type, spec, links, (low, high, pending), lease
                )
                heartbeat(session, upload_id, owner, create_done=done)
            if on_progress:
                on_progress(done, total)
        with session_scope(engine) as session:
            heartbeat(session, upload_id, owner)
            upload = get_upload(session, company_id, upload_id)
            failed = failed_rows(session, upload_id)
            created = count_outcome(session, upload_id, RowOutcome.CREATED)
            lifecycle.finish_create(
                session,
                upload_id,
                created=created,
                failed=failed,
                facts=facts,
                total_rows=upload.total_rows,
                details={"attempt": upload.create_attempts, "processed_this_attempt": done},
                also={**CREATING.released(), "seats_reserved": 0},
            )
    except LeaseLost:
        raise  # the new lease holder owns the upload and its audit now
    except CreateCancelled:
        return _cancelled(engine, company_id, upload_id, owner, facts, done)
    except BaseException as exc:
        # Committed chunks stay; calling create_users again creates the rest.
        _interrupted(engine, upload_id, owner, facts, exc)
        raise
    return CreateResult(upload_id=upload_id, created=created, failed=failed)


def _cancelled(
    engine: Engine, company_id: int, upload_id: str, owner: str, facts: dict[str, Any], done: int
) -> CreateResult:
    """Stop where the admin cancelled: the users created so far stay, the seats held for the rest
    are freed, the upload is "cancelled" (a finished batch, counted like one)."""
    with session_scope(engine) as session:
        failed = failed_rows(session, upload_id)
        created = count_outcome(session, upload_id, RowOutcome.CREATED)
        lifecycle.create_cancelled(
            session,
            upload_id,
            lease=CREATING.held_by(owner),
            created=created,
            failed=failed,
            facts=facts,
            details={"processed_this_attempt": done, "owner": owner},
            also={**CREATING.released(), "seats_reserved": 0},
        )
    return CreateResult(upload_id=upload_id, created=created, failed=failed)


def _interrupted(engine: Engine, upload_id: str, owner: str, facts: dict[str, Any], exc: BaseException) -> None:
    with session_scope(engine) as session:
        lifecycle.interrupt(
            session,
            upload_id,
            lease=CREATING.held_by(owner),
            also={**CREATING.released(), "seats_reserved": 0},
            audit_fields={**facts, "details": {"error_class": type(exc).__name__, "owner": owner}},
            reason=audit.describe_error(exc),
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
    links: membership.Links,
    chunk: tuple[int, int, int],
    lease: float,
) -> int:
    """Create the chunk's users set-wise, straight from the staged rows, under the company lock.

    `chunk` is (first row number, last row number, rows pending between them), as listed when the
    create claimed the upload: its lease keeps anyone else from settling them meanwhile, so they are
    not counted again. Returns how many rows it settled (created, or failed)."""
    low, high, pending = chunk
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
    taken = exists(select(user.id).where(user.email == row.email_norm))
    base = next_extension(session, company_id)
    if base + pending > MAX_EXTENSION:
        raise RuntimeError("This company has no free extensions left.")
    admitted = (
        select(row.id, row.row_number).where(in_chunk, ~taken).order_by(row.row_number).limit(seats.free).subquery()
    )
    now = utcnow()
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
            literal(now, User.__table__.c.created_at.type),
            literal(now, User.__table__.c.updated_at.type),
        )
        .select_from(rows_table.join(admitted, admitted.c.id == row.id))
        .where(true())
    )
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    made = session.execute(
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
                "updated_at",  # equal to created_at: "not changed since" (uploads/undo.py)
            ],
            source,
        )
        .on_conflict_do_nothing(index_elements=["email"])
        .returning(user.id)
    ).scalars()
    # Exactly the users this statement inserted (an email taken meanwhile inserted nothing).
    membership.link_users(session, list(made), links)
    # UPDATE ... FROM: one join instead of two subqueries per row.
    created = session.execute(
        update(rows_table)
        .where(in_chunk, user.email == row.email_norm, user.bulk_upload_id == upload_id)
        .values(outcome="created", user_id=user.id)
    ).rowcount
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
    no_seat = session.execute(
        update(rows_table)
        .where(in_chunk)
        .values(
            outcome="failed",
            outcome_code=ErrorCode.NO_SEAT_AVAILABLE.value,
            outcome_message=message_for(ErrorCode.NO_SEAT_AVAILABLE),
        )
    ).rowcount
    # Every row of the chunk is settled now, created or failed: its seat is no longer held.
    settled = created + len(lost) + no_seat
    up = BulkUpload.__table__.c
    session.execute(
        update(BulkUpload.__table__)
        .where(up.id == upload_id)
        .values(seats_reserved=case((up.seats_reserved > settled, up.seats_reserved - settled), else_=0))
    )
    return settled
