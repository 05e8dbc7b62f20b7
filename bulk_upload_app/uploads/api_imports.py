"""Uploads started through the HTTP API: what the caller asked for beside the file (batch, create
when judged, whom to notify), their create queued once judged, listed by cursor, their rows by
result, dropped; and the answers to POSTs made with an Idempotency-Key.

The file itself is received and judged as the wizard's (uploads/processing.py, jobs.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bulk_upload_app.files.schema import COLUMN_NAMES
from bulk_upload_app.models import ApiIdempotency, ApiImport, BulkUpload, BulkUploadRow, utcnow
from bulk_upload_app.statuses import RowOutcome, UploadStatus, WizardStep
from bulk_upload_app.uploads import lifecycle
from bulk_upload_app.uploads.batch import BatchSpec, checked_batch
from bulk_upload_app.uploads.records import get_upload, locked_upload, pending_valid_rows, seat_problem

IDEMPOTENCY_HOURS = 24
ROW_RESULTS = ("invalid", "failed", "created")


def accept(
    session: Session,
    *,
    company_id: int,
    upload_id: str,
    key_id: str,
    spec: BatchSpec,
    create_when_judged: bool,
    notify: list[str],
) -> None:
    """What an API caller asked for with a received file (pipeline.receive made its upload): the
    batch (checked against the company) and the API's options. Before the file is queued, so the
    worker that judges it finds them."""
    upload = get_upload(session, company_id, upload_id)
    checked = checked_batch(session, company_id, spec)
    upload.batch, upload.user_type = checked.to_json(), checked.user_type
    upload.notify_emails = list(notify)  # told when the batch finishes (delivery/outbox.py)
    session.add(upload)
    session.add(
        ApiImport(upload_id=upload_id, company_id=company_id, key_id=key_id, create_when_judged=create_when_judged)
    )


def options_of(session: Session, upload_id: str) -> ApiImport | None:
    return session.get(ApiImport, upload_id)


def request_create(session: Session, company_id: int, upload_id: str, *, key_id: str) -> None:
    """Note that the users are to be created (now, or once judged), so a poll between the request
    and the start of the work reads "create requested"."""
    options = session.get(ApiImport, upload_id)
    if options is None:  # an upload from the wizard or the CLI, created through the API
        options = ApiImport(upload_id=upload_id, company_id=company_id, key_id=key_id)
    elif options.company_id != company_id:
        return
    options.create_when_judged = True
    session.add(options)


def forget_create(session: Session, upload_id: str) -> None:
    """A cancelled upload no longer waits for its create."""
    options = session.get(ApiImport, upload_id)
    if options is not None and options.create_when_judged:
        options.create_when_judged = False
        session.add(options)


def queue_create_if_asked(session: Session, upload_id: str, legacy_dashboard_url: str) -> tuple[int, str] | None:
    """After a worker judged an API upload sent with create=true: mark its create queued and
    return (company id, actor) for the job, as services.creating.start_create does for a request.
    A draft whose columns wait for the wizard, with no valid row, or short of seats is left as a
    draft with the reason as its problem."""
    options = session.get(ApiImport, upload_id)
    if options is None or not options.create_when_judged:
        return None
    upload = locked_upload(session, options.company_id, upload_id)
    if upload.status != UploadStatus.DRAFT or upload.queued_at is not None:
        return None
    if upload.wizard_step == WizardStep.MATCH:
        upload.problem = "The file's columns must be matched in the wizard before its users can be created."
    elif (needed := pending_valid_rows(session, upload_id)) == 0:
        upload.problem = "There are no valid rows to create. Fix the rows with errors first."
    elif (problem := seat_problem(session, upload.company_id, needed, legacy_dashboard_url)) is not None:
        upload.problem = f"{problem.code.value}: {problem.message}"[:1000]
    else:
        lifecycle.queue_create(upload)
        session.add(upload)
        return options.company_id, f"api_key:{options.key_id}"
    session.add(upload)
    return None


def count_rows(session: Session, upload_id: str, outcome: str) -> int:
    return session.execute(
        select(func.count()).where(BulkUploadRow.upload_id == upload_id, BulkUploadRow.outcome == outcome)
    ).scalar_one()


def list_page(
    session: Session, company_id: int, *, status: str = "", after: tuple[datetime, str] | None = None, limit: int = 50
) -> list[BulkUpload]:
    """The company's uploads, newest first, from just after `after` (created_at, id) on."""
    query = select(BulkUpload).where(BulkUpload.company_id == company_id)
    if status:
        query = query.where(BulkUpload.status == status)
    if after is not None:
        at, upload_id = after
        query = query.where(
            or_(BulkUpload.created_at < at, and_(BulkUpload.created_at == at, BulkUpload.id > upload_id))
        )
    query = query.order_by(BulkUpload.created_at.desc(), BulkUpload.id).limit(limit)
    return [
        get_upload(session, company_id, u.id) if u.status == UploadStatus.CREATING else u
        for u in session.exec(query).scalars()
    ]


@dataclass(frozen=True)
class RowResult:
    row: int
    values: dict[str, str]
    errors: list[dict[str, Any]]  # {"column", "code", "message"}
    outcome: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "values": self.values, "errors": self.errors, "outcome": self.outcome}


def rows_by_result(
    session: Session, upload_id: str, *, result: str = "", after_row: int = 0, limit: int = 100
) -> list[RowResult]:
    """The upload's rows (the caller looked the upload up in its company), by spreadsheet row
    number from just after `after_row`: all, or those "invalid" (not created for their errors),
    "failed" (refused while creating) or "created"."""
    query = select(BulkUploadRow).where(BulkUploadRow.upload_id == upload_id, BulkUploadRow.row_number > after_row)
    if result == "invalid":
        query = query.where(BulkUploadRow.is_valid.is_(False), BulkUploadRow.outcome == RowOutcome.PENDING)
    elif result == "failed":
        query = query.where(BulkUploadRow.outcome == RowOutcome.FAILED)
    elif result == "created":
        query = query.where(BulkUploadRow.outcome == RowOutcome.CREATED)
    rows = session.exec(query.order_by(BulkUploadRow.row_number).limit(limit)).scalars()
    found = []
    for row in rows:
        if row.outcome == RowOutcome.FAILED:
            errors = [{"column": None, "code": row.outcome_code or "", "message": row.outcome_message or ""}]
        elif row.outcome == RowOutcome.PENDING:
            errors = [{"column": e.get("column"), "code": e["code"], "message": e["message"]} for e in row.errors or []]
        else:
            errors = []
        outcome = "invalid" if row.outcome == RowOutcome.PENDING and not row.is_valid else row.outcome
        found.append(RowResult(row.row_number, {c: getattr(row, c) for c in COLUMN_NAMES}, errors, outcome))
    return found


# Idempotency-Key -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredAnswer:
    status: int  # 0: the first request with this key is still being answered
    request_sha256: str
    content_type: str
    location: str
    body: str


def claim_key(session: Session, company_id: int, key: str, request_sha256: str) -> StoredAnswer | None:
    """None: the key is the caller's now (answer, then `store_answer`); else what it was given before.

    A key older than IDEMPOTENCY_HOURS is forgotten and claimed afresh. Two requests racing with one
    key meet at the unique (company, key): the loser sees the winner's claim."""
    cutoff = utcnow() - timedelta(hours=IDEMPOTENCY_HOURS)
    session.execute(
        delete(ApiIdempotency).where(
            ApiIdempotency.company_id == company_id, ApiIdempotency.key == key, ApiIdempotency.created_at < cutoff
        )
    )
    found = _stored(session, company_id, key)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(ApiIdempotency(company_id=company_id, key=key, request_sha256=request_sha256))
    except IntegrityError:
        return _stored(session, company_id, key)
    return None


def _stored(session: Session, company_id: int, key: str) -> StoredAnswer | None:
    row = (
        session.exec(select(ApiIdempotency).where(ApiIdempotency.company_id == company_id, ApiIdempotency.key == key))
        .scalars()
        .first()
    )
    if row is None:
        return None
    return StoredAnswer(row.status, row.request_sha256, row.content_type, row.location, row.body)


def store_answer(
    session: Session, company_id: int, key: str, *, status: int, content_type: str, location: str, body: str
) -> None:
    session.execute(
        ApiIdempotency.__table__.update()
        .where(ApiIdempotency.company_id == company_id, ApiIdempotency.key == key)
        .values(status=status, content_type=content_type[:100], location=location[:255], body=body)
    )


def release_key(session: Session, company_id: int, key: str) -> None:
    """Forget a claim whose request failed on our side, so the client may try again with it."""
    session.execute(
        delete(ApiIdempotency).where(
            ApiIdempotency.company_id == company_id, ApiIdempotency.key == key, ApiIdempotency.status == 0
        )
    )


def purge_idempotency(session: Session, now: datetime | None = None) -> int:
    cutoff = (now or utcnow()) - timedelta(hours=IDEMPOTENCY_HOURS)
    return session.execute(delete(ApiIdempotency).where(ApiIdempotency.created_at < cutoff)).rowcount or 0
