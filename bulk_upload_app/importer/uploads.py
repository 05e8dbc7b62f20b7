"""A bulk upload's life in the database: staged as a draft, then its users created.

Staged rows live in `bulk_upload_row`, not in memory, so a draft survives reloads,
restarts and other workers. Creating goes in chunks, each its own transaction that locks
the company, re-counts seats and re-checks emails, so concurrent batches can neither
over-allocate seats nor create one email twice, and a crash loses at most a chunk's work
in progress, never a committed one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import and_, exists, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..db import session_scope
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
from .intake import ParsedFile
from .schema import COLUMN_NAMES
from .validation import Validation

CREATE_CHUNK = 5000
_STAGE_CHUNK = 5000


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
) -> BulkUpload:
    """Store a checked file as a draft upload with one staged row per data row."""
    validation = check_against_account(session, validation)
    upload = BulkUpload(
        company_id=company_id,
        admin_user_id=admin_user_id,
        file_name=file_name[:255],
        file_sha256=parsed.sha256,
        file_format=parsed.raw.file_format,
        sheet_name=parsed.raw.sheet_name,
        user_type=user_type,
        batch=BatchSpec(user_type=user_type).to_json(),
        notices=parsed.notices,
        total_rows=validation.rows,
        valid_rows=validation.valid,
        invalid_rows=validation.invalid,
    )
    session.add(upload)
    session.flush()
    errors = validation.errors_by_row()
    records = [
        {
            "upload_id": upload.id,
            "row_number": row["row"],
            **{c: row[c] for c in COLUMN_NAMES},
            "email_norm": row["email_norm"],
            "prefix_norm": row["prefix_norm"],
            "phone_e164": row["phone_e164"],
            "errors": [{"column": e.column, "code": e.code.value, "message": e.message} for e in errors.get(row["row"], ())],
            "is_valid": row["is_valid"],
            "outcome": "pending",
        }
        for row in validation.frame.iter_rows(named=True)
    ]
    for start in range(0, len(records), _STAGE_CHUNK):
        session.execute(insert(BulkUploadRow), records[start : start + _STAGE_CHUNK])
    return upload


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
    with session_scope(engine, write_lock=True) as session:
        upload = get_upload(session, company_id, upload_id)
        if upload.status in ("done", "cancelled"):
            raise UploadBusy("This bulk upload has already been created.")
        spec = BatchSpec.from_json(upload.batch)
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
    for low, high in chunks:
        with session_scope(engine, write_lock=True) as session:
            done += _create_chunk(session, company_id, upload_id, upload_user_type, spec, low, high)
        if on_progress:
            on_progress(done, total)
    with session_scope(engine) as session:
        upload = get_upload(session, company_id, upload_id)
        failed = _failed_rows(session, upload_id)
        created = session.exec(
            select(BulkUploadRow.id).where(BulkUploadRow.upload_id == upload_id, BulkUploadRow.outcome == "created")
        ).all()
        upload.created_count = len(created)
        upload.failed_count = len(failed)
        upload.status = "done"
        upload.finished_at = utcnow()
        upload.version += 1
    return CreateResult(upload_id=upload_id, created=len(created), failed=failed)


def _failed_rows(session: Session, upload_id: str) -> list[dict[str, Any]]:
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
    seats = accounts.seats(session, company_id, lock=True)
    rows = session.exec(
        select(
            BulkUploadRow.id, BulkUploadRow.row_number, BulkUploadRow.firstname, BulkUploadRow.lastname,
            BulkUploadRow.email_norm, BulkUploadRow.prefix_norm, BulkUploadRow.phone_e164,
        )
        .where(
            BulkUploadRow.upload_id == upload_id,
            BulkUploadRow.row_number.between(low, high),
            BulkUploadRow.is_valid.is_(True),
            BulkUploadRow.outcome == "pending",
        )
        .order_by(BulkUploadRow.row_number)
    ).all()
    taken = accounts.existing_emails(session, [r.email_norm for r in rows])
    fresh = [r for r in rows if r.email_norm not in taken]
    admitted, no_seat = fresh[: seats.free], fresh[seats.free :]
    failures: list[dict[str, Any]] = [
        _failure(r.id, ErrorCode.EMAIL_ALREADY_EXISTS, message_for(ErrorCode.EMAIL_ALREADY_EXISTS, value=r.email_norm))
        for r in rows
        if r.email_norm in taken
    ]
    failures += [_failure(r.id, ErrorCode.NO_SEAT_AVAILABLE, message_for(ErrorCode.NO_SEAT_AVAILABLE)) for r in no_seat]

    if admitted:
        settings = spec.settings
        now = utcnow()
        extensions = _free_extensions(session, company_id, len(admitted))
        dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = dialect_insert(User.__table__).on_conflict_do_nothing(index_elements=["email"])
        session.execute(
            statement,
            [
                {
                    "company_id": company_id, "firstname": r.firstname, "lastname": r.lastname, "email": r.email_norm,
                    "country_prefix": r.prefix_norm, "phone": r.phone_e164, "extension": ext, "user_type": user_type,
                    "settings": settings, "is_active": True, "bulk_upload_id": upload_id, "created_at": now,
                }
                for r, ext in zip(admitted, extensions)
            ],
        )
        _link_batch(session, company_id, upload_id, spec)
        mine = and_(User.email == BulkUploadRow.email_norm, User.bulk_upload_id == upload_id)
        session.execute(
            update(BulkUploadRow)
            .where(
                BulkUploadRow.upload_id == upload_id,
                BulkUploadRow.row_number.between(low, high),
                BulkUploadRow.outcome == "pending",
                BulkUploadRow.is_valid.is_(True),
                exists(select(User.id).where(mine)),
            )
            .values(outcome="created", user_id=select(User.id).where(mine).scalar_subquery())
            .execution_options(synchronize_session=False)
        )
        # A row admitted above but not inserted lost its email to a concurrent batch.
        lost = set(
            session.exec(
                select(BulkUploadRow.id).where(
                    BulkUploadRow.id.in_([r.id for r in admitted]), BulkUploadRow.outcome == "pending"
                )
            ).scalars()
        )
        failures += [
            _failure(r.id, ErrorCode.EMAIL_ALREADY_EXISTS, message_for(ErrorCode.EMAIL_ALREADY_EXISTS, value=r.email_norm))
            for r in admitted
            if r.id in lost
        ]
    if failures:
        session.connection().execute(
            update(BulkUploadRow.__table__)
            .where(BulkUploadRow.__table__.c.id == _bind("row_id"))
            .values(outcome="failed", outcome_code=_bind("code"), outcome_message=_bind("message")),
            failures,
        )
    return len(rows)


def _bind(name: str):  # noqa: ANN202
    from sqlalchemy import bindparam

    return bindparam(name)


def _failure(row_id: int, code: ErrorCode, message: str) -> dict[str, Any]:
    return {"row_id": row_id, "code": code.value, "message": message}


def _free_extensions(session: Session, company_id: int, count: int) -> list[int]:
    used = set(session.exec(select(User.extension).where(User.company_id == company_id)).scalars())
    return next_free_extensions(used, count)


def next_free_extensions(used: set[int], count: int) -> list[int]:
    """The lowest `count` free extensions: 4 digits from 1000, then 5 digits once those run out."""
    free = (n for n in range(1000, 100000) if n not in used)
    result = [n for _, n in zip(range(count), free)]
    if len(result) < count:
        raise RuntimeError("This company has no free extensions left.")
    return result


def _link_batch(session: Session, company_id: int, upload_id: str, spec: BatchSpec) -> None:
    """Give every user of this upload the batch's groups, numbers and skills, set-wise."""
    batch_users = select(User.id).where(User.bulk_upload_id == upload_id)
    for group_id in spec.group_ids:
        _insert_links(session, GroupMember, batch_users, {"group_id": group_id})
    for number_id in spec.outbound_number_ids:
        _insert_links(session, UserOutboundNumber, batch_users, {"outbound_number_id": number_id})
    for choice in spec.skills:
        skill_id = choice.skill_id or _get_or_create_skill(session, company_id, choice.new_name or "")
        _insert_links(session, UserSkill, batch_users, {"skill_id": skill_id, "level": choice.level})


def _insert_links(session: Session, model: Any, batch_users: Any, values: dict[str, Any]) -> None:
    key_column = next(iter(values))
    table = model.__table__
    already = select(table.c.user_id).where(table.c[key_column] == values[key_column])
    source = batch_users.add_columns(*[literal(v).label(k) for k, v in values.items()]).where(
        User.id.not_in(already)
    )
    session.execute(insert(table).from_select(["user_id", *values], source))


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
