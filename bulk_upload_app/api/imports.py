"""The routes of /api/v1/user-imports: upload a file, follow it, read its rows, create, cancel,
undo, and fetch its report."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from bulk_upload_app import routes
from bulk_upload_app.api.answers import RETRY_AFTER_SECONDS, IdempotencyKey, json_response, once, problems
from bulk_upload_app.api.caller import Caller
from bulk_upload_app.api.problems import invalid
from bulk_upload_app.api.receiving import Received, receive_upload
from bulk_upload_app.api.schemas import ImportRowPage, UndoRequest, UndoResult, UserImport, UserImportPage
from bulk_upload_app.files.schema import USER_TYPES
from bulk_upload_app.services import api_imports, history
from bulk_upload_app.services.api_imports import ImportStatus
from bulk_upload_app.services.api_keys import ApiCaller
from bulk_upload_app.settings import get_settings
from bulk_upload_app.statuses import UploadStatus

MAX_NOTIFY = 20

router = APIRouter(prefix=routes.API)


class RowResult(StrEnum):  # api_imports.ROW_RESULTS
    INVALID = "invalid"
    FAILED = "failed"
    CREATED = "created"


class ReportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


_ACCEPTED_HEADERS = {
    "Location": {"description": "The upload to poll.", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before polling.", "schema": {"type": "integer"}},
}

UploadId = Annotated[str, Path(description="The upload's id.", max_length=64)]


def _links(upload_id: str) -> dict[str, str]:
    base = routes.api_import(upload_id)
    return {
        "self": base,
        "rows": f"{base}/rows",
        "report_csv": f"{base}/report.csv",
        "report_xlsx": f"{base}/report.xlsx",
        "wizard": f"{get_settings().deploy_url}{routes.draft(upload_id)}",
    }


def _shown(found: ImportStatus) -> dict[str, Any]:
    return {
        "id": found.id,
        "status": found.status,
        "step": found.step,
        "file_name": found.file_name,
        "user_type": found.user_type,
        "source": found.source,
        "created_at": found.created_at,
        "finished_at": found.finished_at,
        "progress": {"judged": found.judged, "total": found.total},
        "counts": {
            "rows": found.rows,
            "valid": found.valid,
            "invalid": found.invalid,
            "created": found.created,
            "failed": found.failed,
        },
        "create_requested": found.create_requested,
        "problem": found.problem,
        "notices": found.notices,
        "links": _links(found.id),
    }


def _accepted(found: ImportStatus) -> JSONResponse:
    return json_response(
        202,
        _shown(found),
        {"Location": routes.api_import(found.id), "Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _notify_list(values: list[str]) -> list[str]:
    found: list[str] = []
    for value in values:
        for item in value.replace(";", ",").split(","):
            if not item.strip():
                continue
            try:
                found.append(validate_email(item.strip(), check_deliverability=False).normalized)
            except EmailNotValidError:
                raise invalid(f"notify: {item.strip()[:100]!r} is not an email address.") from None
    if len(found) > MAX_NOTIFY:
        raise invalid(f"notify: at most {MAX_NOTIFY} addresses.")
    return list(dict.fromkeys(found))


def _flag(value: str | None, name: str) -> bool:
    if value is None or value.strip().lower() in ("", "false", "0", "no"):
        return False
    if value.strip().lower() in ("true", "1", "yes"):
        return True
    raise invalid(f"{name} must be true or false.")


def _settings_json(value: str | None) -> dict[str, Any] | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        raise invalid("settings must be a JSON object.") from None
    if not isinstance(parsed, dict):
        raise invalid("settings must be a JSON object.")
    return parsed


def _start(who: ApiCaller, received: Received, idempotency_key: str | None) -> Response:
    fingerprint = json.dumps(
        {"file": received.sha256, "name": received.file_name, "fields": sorted(received.fields.items())}
    )

    def produce() -> Response:
        unknown = sorted(set(received.fields) - {"user_type", "settings", "create", "notify"})
        if unknown:
            raise invalid(f"unknown form fields: {', '.join(u[:40] for u in unknown)}.")
        user_type = (received.first("user_type") or "").strip()
        if user_type not in USER_TYPES:
            raise invalid(f"user_type must be one of {', '.join(USER_TYPES)}.")
        create = _flag(received.first("create"), "create")
        notify = _notify_list(received.fields.get("notify", []))
        spec = api_imports.batch_from_request(who.company_id, user_type, _settings_json(received.first("settings")))
        upload_id = api_imports.accept_file(
            who.company_id,
            key_id=who.key_id,
            actor=who.actor,
            path=received.path,
            file_name=received.file_name,
            spec=spec,
            create=create,
            notify=notify,
        )
        return _accepted(api_imports.import_status(who.company_id, upload_id))

    try:
        return once(who, idempotency_key, fingerprint, produce)
    finally:
        received.path.unlink(missing_ok=True)  # kept in the database for the worker, or refused


_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "user_type"],
                "additionalProperties": False,
                "properties": {
                    "file": {
                        "type": "string",
                        "contentMediaType": "application/octet-stream",
                        "description": "The users file: CSV/TSV (UTF-8 or another encoding), XLSX, XLS or ODS, "
                        "with the template's columns (or ones we can match).",
                    },
                    "user_type": {"type": "string", "enum": list(USER_TYPES)},
                    "settings": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "description": 'JSON: {"use_company_settings": true, "settings": {...}, "groups": '
                        '["Sales"], "outbound_numbers": ["+442071234567"], "skills": [{"name": "Spanish", '
                        '"level": 3}], "settings_from_user": "someone@example.com"}; every field optional.',
                    },
                    "create": {
                        "type": "boolean",
                        "description": "Create the valid rows' users as soon as every row is judged.",
                    },
                    "notify": {
                        "type": "array",
                        "items": {"type": "string", "format": "email"},
                        "description": "Who is emailed when the upload finishes.",
                    },
                },
            }
        }
    },
}


@router.post(
    "/user-imports",
    status_code=202,
    response_model=UserImport,
    summary="Upload a file of users",
    description="The file is read and judged in the background: poll the Location until its status "
    "is no longer processing. With create=true the valid rows' users are created as soon as it is judged.",
    responses={202: {"headers": _ACCEPTED_HEADERS}, **problems(401, 409, 413, 415, 422, 429)},
    openapi_extra={"requestBody": _UPLOAD_BODY},
    tags=["user imports"],
)
async def start_import(request: Request, who: Caller, idempotency_key: IdempotencyKey = None) -> Response:
    received = await receive_upload(request)
    return await run_in_threadpool(_start, who, received, idempotency_key)


@router.get(
    "/user-imports",
    response_model=UserImportPage,
    summary="List the company's uploads",
    description="Newest first, every source (api, wizard, cli).",
    responses=problems(401, 422, 429),
    tags=["user imports"],
)
def list_imports(
    who: Caller,
    status: Annotated[UploadStatus | None, Query(description="Only uploads with this status.")] = None,
    cursor: Annotated[str, Query(max_length=500)] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    found, following = api_imports.list_imports(
        who.company_id, status=status.value if status else "", cursor=cursor, limit=limit
    )
    return json_response(200, {"data": [_shown(f) for f in found], "next_cursor": following})


@router.get(
    "/user-imports/{upload_id}",
    response_model=UserImport,
    summary="An upload's status, progress and counts",
    responses=problems(401, 404, 422, 429),
    tags=["user imports"],
)
def get_import(who: Caller, upload_id: UploadId) -> Response:
    found = api_imports.import_status(who.company_id, upload_id)
    busy = found.status in (UploadStatus.PROCESSING, UploadStatus.CREATING)
    return json_response(200, _shown(found), {"Retry-After": str(RETRY_AFTER_SECONDS)} if busy else None)


@router.get(
    "/user-imports/{upload_id}/rows",
    response_model=ImportRowPage,
    summary="An upload's rows with their errors",
    description="By spreadsheet row number. result=invalid: rows not created for their errors; "
    "failed: refused while creating; created; none: every row.",
    responses=problems(401, 404, 422, 429),
    tags=["user imports"],
)
def get_rows(
    who: Caller,
    upload_id: UploadId,
    result: Annotated[RowResult | None, Query()] = None,
    cursor: Annotated[str, Query(max_length=500)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    found, following = api_imports.rows(
        who.company_id, upload_id, result=result.value if result else "", cursor=cursor, limit=limit
    )
    return json_response(200, {"data": [r.as_dict() for r in found], "next_cursor": following})


@router.post(
    "/user-imports/{upload_id}/create",
    status_code=202,
    response_model=UserImport,
    summary="Create the valid rows' users",
    description="All of them within the company's free seats, or none: a shortage is 409 SEATS_EXCEEDED "
    "with needed, available and legacy_dashboard_url (where to buy seats).",
    responses={202: {"headers": _ACCEPTED_HEADERS}, **problems(401, 404, 409, 422, 429)},
    tags=["user imports"],
)
def create_users(who: Caller, upload_id: UploadId, idempotency_key: IdempotencyKey = None) -> Response:
    def produce() -> Response:
        return _accepted(api_imports.start_create(who.company_id, upload_id, key_id=who.key_id, actor=who.actor))

    return once(who, idempotency_key, f"create {upload_id}", produce)


@router.post(
    "/user-imports/{upload_id}/cancel",
    response_model=UserImport,
    summary="Cancel an upload no user was created from",
    responses=problems(401, 404, 409, 422, 429),
    tags=["user imports"],
)
def cancel(who: Caller, upload_id: UploadId, idempotency_key: IdempotencyKey = None) -> Response:
    return once(
        who,
        idempotency_key,
        f"cancel {upload_id}",
        lambda: json_response(200, _shown(api_imports.cancel(who.company_id, upload_id, actor=who.actor))),
    )


@router.post(
    "/user-imports/{upload_id}/undo",
    response_model=UndoResult,
    summary="Remove the users an upload created",
    description="Users that changed since they were created are kept (listed in kept). dry_run: only say "
    "what would be done.",
    responses=problems(401, 404, 409, 422, 429),
    tags=["user imports"],
)
def undo(
    who: Caller, upload_id: UploadId, body: UndoRequest | None = None, idempotency_key: IdempotencyKey = None
) -> Response:
    dry_run = bool(body and body.dry_run)

    def produce() -> Response:
        if dry_run:
            plan = history.undo_preview(who.company_id, upload_id)
            status = api_imports.import_status(who.company_id, upload_id).status
        else:
            plan = history.undo_upload(who.company_id, upload_id, actor=who.actor)
            status = plan.status
        return json_response(200, {**plan.as_dict(), "status": status, "dry_run": dry_run})

    return once(who, idempotency_key, f"undo {upload_id} {dry_run}", produce)


@router.get(
    "/user-imports/{upload_id}/report.{fmt}",
    summary="Every row's result as a file (CSV or XLSX)",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "contentMediaType": "application/octet-stream"}
                },
            },
            "description": "The file: the file's columns, then outcome, code and message per row.",
        },
        **problems(401, 404, 422, 429),
    },
    tags=["user imports"],
)
def report(who: Caller, upload_id: UploadId, fmt: ReportFormat) -> Response:
    found = history.results_report(who.company_id, upload_id, fmt.value)
    return Response(
        found.data,
        media_type=found.mime_type,
        headers={"Content-Disposition": f'attachment; filename="{found.filename}"'},
    )
