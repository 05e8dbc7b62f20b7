"""A bulk upload's life in the database: staged as a draft, then its users created.

Staged rows live in `bulk_upload_row`, not in memory, so a draft survives reloads,
restarts and other workers. Creating goes in chunks, each its own transaction that locks
the company, re-counts seats and re-checks emails, so concurrent batches can neither
over-allocate seats nor create one email twice, and a crash loses at most a chunk's work
in progress, never a committed one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import JSON, Integer, and_, bindparam, delete, exists, func, insert, literal, null, select, true, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..db import copy_rows, session_scope
from ..models import (
    BulkUpload,
    BulkUploadRow,
    Company,
    GroupMember,
    Skill,
    User,
    UserOutboundNumber,
    UserSkill,
    utcnow,
)
from . import accounts
from .batch import BatchSpec, checked_batch
from .errors import ErrorCode, FileProblem, RowError, message_for
from .intake import ParsedFile, parse_file, validate_file
from .reading import ReadLimits
from .schema import COLUMN_NAMES
from .validation import Validation

CREATE_CHUNK = 5000


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
) -> BulkUpload:
    """Store a checked file as a draft with one staged row per data row.

    With `into`, the file replaces the rows of that (locked, still draft) upload, which keeps
    its id, user type and batch settings.
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
            (upload.id, *values, _errors_json(errors.get(values[0], ())), "pending")
            for values in staged.iter_rows()
        ],
    )
    return upload


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
) -> str:
    """Read, check and stage an uploaded file as a draft; FileProblem when it can't be used."""
    phase = on_phase or (lambda label, percent: None)
    phase("Reading the file", 10)
    parsed = parse_file(data, file_name, limits)
    phase(f"Checking {parsed.frame.height:,} rows", 40)
    validation = validate_file(parsed)
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
    return upload


def configure_batch(session: Session, company_id: int, upload_id: str, spec: BatchSpec) -> BulkUpload:
    upload = get_upload(session, company_id, upload_id)
    if upload.status != "draft":
        raise UploadBusy("This bulk upload has already been created.")
    checked = checked_batch(session, company_id, spec)
    upload.batch = checked.to_json()
    upload.user_type = checked.user_type
    upload.version += 1
    upload.updated_at = utcnow()
    session.add(upload)
    return upload


def seat_problem(session: Session, company_id: int, needed: int, legacy_dashboard_url: str) -> FileProblem | None:
    """SEATS_EXCEEDED when `needed` users would not fit in the company's free seats."""
    seats = accounts.seats(session, company_id)
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


def create_users(
    engine: Engine,
    company_id: int,
    upload_id: str,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    chunk_size: int = CREATE_CHUNK,
) -> CreateResult:
    """Create every valid, still pending row of the upload; safe to call again after a crash."""
    with session_scope(engine) as session:
        upload = get_upload(session, company_id, upload_id)
        if upload.status in ("done", "cancelled"):
            raise UploadBusy("This bulk upload has already been created.")
        # Checked again: a group, number or skill may have been deleted since it was chosen.
        spec = checked_batch(session, company_id, BatchSpec.from_json(upload.batch))
        upload.status = "creating"
        upload.version += 1
        upload.updated_at = utcnow()
        bounds = session.exec(
            select(BulkUploadRow.row_number)
            .where(BulkUploadRow.upload_id == upload_id, BulkUploadRow.is_valid.is_(True), BulkUploadRow.outcome == "pending")
            .order_by(BulkUploadRow.row_number)
        ).scalars().all()
        upload_user_type = upload.user_type
    total = len(bounds)
    chunks = [(bounds[i], bounds[min(i + chunk_size, total) - 1]) for i in range(0, total, chunk_size)]
    done = 0
    try:
        for low, high in chunks:
            with session_scope(engine) as session:
                done += _create_chunk(session, company_id, upload_id, upload_user_type, spec, low, high)
            if on_progress:
                on_progress(done, total)
    except BaseException:
        # Committed chunks stay; calling create_users again creates the rest.
        with session_scope(engine) as session:
            get_upload(session, company_id, upload_id).status = "interrupted"
        raise
    with session_scope(engine) as session:
        upload = get_upload(session, company_id, upload_id)
        failed = failed_rows(session, upload_id)
        created = session.exec(
            select(BulkUploadRow.id).where(BulkUploadRow.upload_id == upload_id, BulkUploadRow.outcome == "created")
        ).all()
        upload.created_count = len(created)
        upload.failed_count = len(failed)
        upload.status = "done"
        upload.finished_at = utcnow()
        upload.version += 1
    return CreateResult(upload_id=upload_id, created=len(created), failed=failed)


def failed_rows(session: Session, upload_id: str) -> list[dict[str, Any]]:
    rows = session.exec(
        select(BulkUploadRow)
        .where(BulkUploadRow.upload_id == upload_id, BulkUploadRow.outcome != "created", BulkUploadRow.outcome != "removed")
        .order_by(BulkUploadRow.row_number)
    ).scalars()
    failed = []
    for row in rows:
        values = {"row": row.row_number, **{c: getattr(row, c) for c in COLUMN_NAMES}}
        if row.outcome == "failed":
            failed.append({**values, "code": row.outcome_code, "message": row.outcome_message})
        else:
            failed.extend({**values, "code": e["code"], "message": e["message"]} for e in row.errors or [])
    return failed


def _create_chunk(
    session: Session, company_id: int, upload_id: str, user_type: str, spec: BatchSpec, low: int, high: int
) -> int:
    """Create the chunk's users set-wise, straight from the staged rows, under the company lock."""
    seats = accounts.seats(session, company_id, lock=True)
    rows_table = BulkUploadRow.__table__
    row = rows_table.c
    user = User.__table__.c
    in_chunk = and_(row.upload_id == upload_id, row.row_number.between(low, high), row.is_valid.is_(True),
                    row.outcome == "pending")
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
    created = and_(row.upload_id == upload_id, row.row_number.between(low, high), row.outcome == "created")
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
