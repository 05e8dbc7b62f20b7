"""One pipeline under every way in: receive → judge → stage → (match) → create.

    receive  the file kept in the database beside a new upload, "processing"   `receive`
    judge    read, columns matched, rows validated and checked against the account
    stage    the judged rows into `bulk_upload_row`: a draft                    `processing.process`
    match    the admin's mapping, when the titles are not ours (wizard)       `pending.confirm`
    create   the valid rows' users, chunk by chunk under the create lease     `creating.create_users`

The wizard and the API receive a file here and a job worker judges and stages it
(jobs.process_file → `processing.process`); scripts, benchmarks and tests run the same two steps
here and now (`draft_from_file`). A batch judged whole before it is staged — the CLI's file, whose
columns are guessed as it has no Match step and whose seats are checked before anything is kept,
and SCIM's people — is staged with its batch by `stage_batch`. Every upload's users are created by
`creating.create_users` (from a job, or inline for the CLI and SCIM). Every upload row is made
by `lifecycle.new_upload` and moved by lifecycle only.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bulk_upload_app import audit
from bulk_upload_app.db import session_scope
from bulk_upload_app.errors import FileProblem
from bulk_upload_app.files.intake import ParsedFile
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.files.validation import Validation
from bulk_upload_app.models import BulkUpload, UploadFile, utcnow
from bulk_upload_app.statuses import UploadSource, WizardStep
from bulk_upload_app.uploads import capacity, lifecycle
from bulk_upload_app.uploads.batch import BatchSpec
from bulk_upload_app.uploads.processing import TryLater, process
from bulk_upload_app.uploads.records import locked_draft
from bulk_upload_app.uploads.staging import configure_batch, stage_upload


def receive(
    engine: Engine,
    *,
    company_id: int,
    admin_user_id: int | None,
    file_name: str,
    data: bytes,
    user_type: str,
    replace_upload_id: str | None = None,
    capacity_limits: capacity.Limits | None = None,
    source: str = UploadSource.WIZARD,
    actor: str | None = None,
    ask_columns: bool = False,
) -> str:
    """Keep a received file for a worker: a new upload in "processing" (or the draft whose file it
    replaces, put in "processing"), the bytes beside it; the upload's id. Nothing is read yet."""
    if capacity_limits is not None and not replace_upload_id:
        capacity.check_open_drafts(engine, company_id, capacity_limits)
    with session_scope(engine) as session:
        if replace_upload_id:
            upload = locked_draft(session, company_id, replace_upload_id)
            lifecycle.receive(upload)
        else:
            upload = lifecycle.new_upload(
                company_id=company_id, admin_user_id=admin_user_id, user_type=user_type, source=source
            )
        upload.file_name = file_name[-255:]
        upload.file_sha256 = hashlib.sha256(data).hexdigest()
        upload.problem = ""
        upload.ask_columns = ask_columns
        upload.file_rows = 0
        upload.queued_at = utcnow()
        upload.updated_at = utcnow()
        session.add(upload)
        session.flush()
        session.execute(delete(UploadFile).where(UploadFile.upload_id == upload.id))
        session.add(UploadFile(upload_id=upload.id, data=data))
        if actor:
            audit.record(
                session,
                audit.RECEIVED,
                upload_id=upload.id,
                company_id=company_id,
                admin_user_id=admin_user_id,
                actor=actor,
                file_name=upload.file_name,
                file_sha256=upload.file_sha256,
                outcome="queued",
                details={"bytes": len(data), "replaces_file": bool(replace_upload_id)},
            )
        return upload.id


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
    capacity_limits: capacity.Limits | None = None,
    ask_columns: bool = False,
    source: str = UploadSource.WIZARD,
) -> str:
    """Receive and process a file here and now, as a worker would (scripts, benchmarks, tests);
    the draft's id, or FileProblem when the file can't be used."""
    upload_id = receive(
        engine,
        company_id=company_id,
        admin_user_id=admin_user_id,
        file_name=file_name,
        data=data,
        user_type=user_type,
        replace_upload_id=replace_upload_id,
        capacity_limits=capacity_limits,
        source=source,
        ask_columns=ask_columns,
    )
    try:
        process(
            engine, upload_id, limits=limits, ask_columns=ask_columns, capacity_limits=capacity_limits, slot_wait=20.0
        )
    except TryLater as busy:
        _give_up(engine, upload_id, replacing=bool(replace_upload_id))
        if isinstance(busy.__cause__, FileProblem):
            raise busy.__cause__ from None
        raise
    return upload_id


def _give_up(engine: Engine, upload_id: str, *, replacing: bool) -> None:
    """Undo `receive` when the file could not be processed at all (no slot)."""
    with session_scope(engine) as session:
        session.execute(delete(UploadFile).where(UploadFile.upload_id == upload_id))
        if replacing:
            lifecycle.keep_draft(session, upload_id, also={"processing_owner": None, "queued_at": None})
        else:
            session.execute(delete(BulkUpload.__table__).where(BulkUpload.__table__.c.id == upload_id))


def stage_batch(
    session: Session,
    *,
    company_id: int,
    file_name: str,
    parsed: ParsedFile,
    validation: Validation,
    spec: BatchSpec,
    source: str,
    actor: str,
    notify: list[str] | None = None,
    step: WizardStep | None = None,
) -> BulkUpload:
    """A batch judged whole (the CLI's file, SCIM's people) staged as a draft with its batch
    (checked against the company) and whom to tell when it ends; `create_users` creates it next."""
    upload = stage_upload(
        session,
        company_id=company_id,
        admin_user_id=None,
        file_name=file_name,
        parsed=parsed,
        validation=validation,
        user_type=spec.user_type,
        source=source,
        actor=actor,
    )
    configure_batch(session, company_id, upload.id, spec)
    upload.notify_emails = list(notify or [])
    if step is not None:
        lifecycle.set_step(upload, step)
    session.add(upload)
    return upload
