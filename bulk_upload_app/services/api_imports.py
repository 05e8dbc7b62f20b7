"""Uploads through the HTTP API (/api/v1): a received file becomes an upload at once, is judged by
a job worker (jobs.py) as the wizard's are, and can be created, cancelled, undone and reported.

Every function takes the calling key's company id; another company's upload is UploadNotFound.
The settings a caller sends have the wizard's Settings step's shape (`batch_from_request`).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bulk_upload_app import jobs
from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.errors import ErrorCode, UploadBusy
from bulk_upload_app.models import BulkUpload
from bulk_upload_app.services import creating
from bulk_upload_app.settings import get_settings
from bulk_upload_app.statuses import RowOutcome, UploadSource, UploadStatus, WizardStep
from bulk_upload_app.uploads import api_imports, capacity, lifecycle, pipeline, records
from bulk_upload_app.uploads.api_imports import ROW_RESULTS, RowResult, StoredAnswer
from bulk_upload_app.uploads.batch import BatchProblem, BatchSpec, batch_from_names, checked_batch


class BadCursor(ValueError):
    """A cursor this API did not give out (or for another list)."""


@dataclass(frozen=True)
class ImportStatus:
    id: str
    status: str
    step: str  # the wizard's step: review, match (columns to match in the wizard), settings, creating, result
    file_name: str
    user_type: str
    source: str
    created_at: datetime
    finished_at: datetime | None
    judged: int
    total: int
    rows: int
    valid: int
    invalid: int
    created: int
    failed: int
    create_requested: bool
    problem: dict[str, Any] | None
    notices: list[str] = field(default_factory=list)


def batch_from_request(company_id: int, user_type: str, settings: dict[str, Any] | None) -> BatchSpec:
    """The batch an API caller asks for, checked against the company (BatchProblem otherwise).

    `settings` (all optional): {"use_company_settings": bool (default true), "settings": {key:
    value} from the settings catalogue (used when use_company_settings is false), "groups":
    [group names], "outbound_numbers": [E.164 numbers], "skills": [{"name", "level"}] (a new name
    creates the skill with the users), "settings_from_user": an existing user's email (their
    settings, groups, numbers and skills, as the wizard's "Load existing")}.
    """
    settings = settings or {}
    if not isinstance(settings, dict):
        raise BatchProblem("settings must be a JSON object.")
    known = {"use_company_settings", "settings", "groups", "outbound_numbers", "skills", "settings_from_user"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise BatchProblem(f"Unknown fields in settings: {', '.join(unknown)}.")
    groups = _strings(settings.get("groups", []), "groups")
    numbers = _strings(settings.get("outbound_numbers", []), "outbound_numbers")
    skills: list[tuple[str, int]] = []
    raw_skills = settings.get("skills", [])
    if not isinstance(raw_skills, list):
        raise BatchProblem("skills must be a list of {name, level}.")
    for item in raw_skills:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or type(item.get("level")) is not int:
            raise BatchProblem('Each skill must be {"name": text, "level": a whole number}.')
        skills.append((item["name"], item["level"]))
    from_user = settings.get("settings_from_user")
    if from_user is not None and not isinstance(from_user, str):
        raise BatchProblem("settings_from_user must be an email address.")
    use_company = settings.get("use_company_settings", True)
    if not isinstance(use_company, bool):
        raise BatchProblem("use_company_settings must be true or false.")
    chosen = settings.get("settings")
    if chosen is not None and not isinstance(chosen, dict):
        raise BatchProblem("settings.settings must be an object of setting keys and values.")
    with session_scope(read_only=True) as session:
        spec = batch_from_names(
            session,
            company_id,
            user_type=user_type,
            group_names=groups,
            outbound_numbers=numbers,
            skills=skills,
            settings_from_email=from_user or None,
        )
        if not use_company:
            spec.settings = chosen or {}
            spec = checked_batch(session, company_id, spec)
        elif chosen:
            raise BatchProblem("Choose either use_company_settings true or your own settings, not both.")
    return spec


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BatchProblem(f"{name} must be a list of text values.")
    return value


def accept_file(
    company_id: int,
    *,
    key_id: str,
    actor: str,
    path: Path,
    file_name: str,
    spec: BatchSpec,
    create: bool,
    notify: list[str],
) -> str:
    """A received file (on disk, within the size limit) kept for a worker as the wizard's are
    (status "processing"), with the caller's batch and options; queued; its id at once.

    TOO_MANY_OPEN_DRAFTS is checked now, so a script learns at once rather than after reading."""
    settings = get_settings()
    engine = get_engine()
    upload_id = pipeline.receive(
        engine,
        company_id=company_id,
        admin_user_id=None,
        file_name=file_name,
        data=path.read_bytes(),
        user_type=spec.user_type,
        capacity_limits=capacity.Limits.from_settings(settings),
        source=UploadSource.API,
        actor=actor,
    )
    with session_scope(engine) as session:
        api_imports.accept(
            session,
            company_id=company_id,
            upload_id=upload_id,
            key_id=key_id,
            spec=spec,
            create_when_judged=create,
            notify=notify,
        )
    jobs.enqueue_processing(upload_id)
    return upload_id


def start_create(company_id: int, upload_id: str, *, key_id: str, actor: str) -> ImportStatus:
    """Queue the create of the valid rows' users (all within the free seats, or FileProblem
    SEATS_EXCEEDED and nothing queued); UploadBusy when it can't be created now."""
    with session_scope(read_only=True) as session:
        upload = records.get_upload(session, company_id, upload_id)
        if upload.status == UploadStatus.PROCESSING:
            raise UploadBusy("The file is still being read; create its users once its status is draft.")
        if upload.status == UploadStatus.DRAFT and upload.wizard_step == WizardStep.MATCH:
            raise UploadBusy("The file's columns must be matched first: open this upload in the wizard.")
    creating.start_create(company_id, upload_id, admin_user_id=None, actor=actor)
    with session_scope() as session:
        api_imports.request_create(session, company_id, upload_id, key_id=key_id)
    return import_status(company_id, upload_id)


def cancel(company_id: int, upload_id: str, *, actor: str) -> ImportStatus:
    """Stop the upload's running job (its file being read: dropped; its users being created: those
    made so far stay), or drop a draft no job runs for; UploadBusy once it is finished."""
    with session_scope() as session:
        lifecycle.cancel(session, company_id, upload_id, actor=actor, idle_too=True)
        api_imports.forget_create(session, upload_id)
    return import_status(company_id, upload_id)


def import_status(company_id: int, upload_id: str) -> ImportStatus:
    with session_scope(read_only=True) as session:
        return _status_of(session, records.get_upload(session, company_id, upload_id))


def _status_of(session, upload: BulkUpload) -> ImportStatus:
    options = api_imports.options_of(session, upload.id)
    status = str(upload.status)
    # "failed" here is refused while creating; the upload's failed_count also counts invalid rows.
    if upload.rows_purged_at is not None:
        created, failed = upload.created_count, max(upload.failed_count - upload.invalid_rows, 0)
    elif status in (UploadStatus.CREATING, UploadStatus.INTERRUPTED) or upload.created_count:
        created = api_imports.count_rows(session, upload.id, RowOutcome.CREATED)
        failed = api_imports.count_rows(session, upload.id, RowOutcome.FAILED)
    else:
        created, failed = upload.created_count, 0
    step: str
    if status in (UploadStatus.CREATING, UploadStatus.INTERRUPTED):
        step = WizardStep.CREATING
    elif status in (UploadStatus.DONE, UploadStatus.UNDONE, UploadStatus.PARTLY_UNDONE):
        step = WizardStep.RESULT
    else:
        step = upload.wizard_step or WizardStep.REVIEW
    waiting = status in (UploadStatus.DRAFT, UploadStatus.INTERRUPTED) and upload.queued_at is not None
    # Asked with create=true: while the file is judged, and between the verdict and the create
    # being queued (or refused with a problem).
    asked = (
        options is not None
        and options.create_when_judged
        and (status == UploadStatus.PROCESSING or (status == UploadStatus.DRAFT and not upload.problem))
    )
    return ImportStatus(
        id=upload.id,
        status=status,
        step=step,
        file_name=upload.file_name,
        user_type=upload.user_type,
        source=upload.source,
        created_at=upload.created_at,
        finished_at=upload.finished_at,
        judged=upload.total_rows,
        total=max(upload.file_rows, upload.total_rows),
        rows=upload.total_rows,
        valid=upload.valid_rows,
        invalid=upload.invalid_rows,
        created=created,
        failed=failed,
        create_requested=waiting or asked,
        problem=_problem(upload.problem),
        notices=list(upload.notices or []),
    )


def _problem(text: str) -> dict[str, Any] | None:
    """The upload's problem ("CODE: message", or a message alone) as {"code", "message"}."""
    if not text:
        return None
    code, colon, message = text.partition(": ")
    if colon and code in ErrorCode.__members__:
        return {"code": code, "message": message}
    return {"code": None, "message": text}


def _encode(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("This cursor was not given out by this list.") from None


def list_imports(
    company_id: int, *, status: str = "", cursor: str = "", limit: int = 50
) -> tuple[list[ImportStatus], str | None]:
    """A page of the company's uploads (every source), newest first, and the next page's cursor."""
    after = None
    if cursor:
        value = _decode(cursor)
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
            raise BadCursor("This cursor was not given out by this list.")
        try:
            after = (datetime.fromisoformat(value[0]), value[1])
        except ValueError:
            raise BadCursor("This cursor was not given out by this list.") from None
    with session_scope(read_only=True) as session:
        found = api_imports.list_page(session, company_id, status=status, after=after, limit=limit + 1)
        page = [_status_of(session, u) for u in found[:limit]]
    following = None
    if len(found) > limit:
        last = found[limit - 1]
        following = _encode([last.created_at.isoformat(), last.id])
    return page, following


def rows(
    company_id: int, upload_id: str, *, result: str = "", cursor: str = "", limit: int = 100
) -> tuple[list[RowResult], str | None]:
    """A page of the upload's rows by spreadsheet row number ("invalid", "failed", "created" or all)."""
    if result and result not in ROW_RESULTS:
        raise BadCursor(f"result must be one of {', '.join(ROW_RESULTS)}.")
    after = 0
    if cursor:
        value = _decode(cursor)
        if type(value) is not int or value < 0:
            raise BadCursor("This cursor was not given out by this list.")
        after = value
    with session_scope(read_only=True) as session:
        records.get_upload(session, company_id, upload_id)
        found = api_imports.rows_by_result(session, upload_id, result=result, after_row=after, limit=limit + 1)
    page = found[:limit]
    return page, (_encode(page[-1].row) if len(found) > limit else None)


def claim_idempotency_key(company_id: int, key: str, request_sha256: str) -> StoredAnswer | None:
    with session_scope() as session:
        return api_imports.claim_key(session, company_id, key, request_sha256)


def store_idempotent_answer(
    company_id: int, key: str, *, status: int, content_type: str, location: str, body: str
) -> None:
    with session_scope() as session:
        api_imports.store_answer(
            session, company_id, key, status=status, content_type=content_type, location=location, body=body
        )


def release_idempotency_key(company_id: int, key: str) -> None:
    with session_scope() as session:
        api_imports.release_key(session, company_id, key)


__all__ = ["ROW_RESULTS", "BadCursor", "ImportStatus", "RowResult", "StoredAnswer"]
