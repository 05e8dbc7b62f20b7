"""The routes of /api/v1 (see the package docstring), their auth, limits and idempotency."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from fastapi import Depends, FastAPI, Header, Path, Query, Request, Security
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response

from .. import routes
from ..http_auth import bearer_caller
from ..importer.batch import BatchProblem
from ..importer.errors import ErrorCode, FileProblem, UndoRefused, UploadBusy, UploadNotFound
from ..importer.schema import USER_TYPES
from ..importer.webhooks import WebhookNotFound, WebhookProblem
from ..services import api_imports, history, webhooks
from ..services.api_imports import BadCursor, ImportStatus
from ..services.api_keys import ApiCaller
from ..settings import get_settings
from ..statuses import UploadStatus
from . import ratelimit
from .docs_page import docs_html
from .problems import PROBLEM_JSON, Problem, as_problem, invalid
from .receiving import Received, receive_upload
from .schemas import (
    ImportRowPage,
    NewWebhook,
    ProblemDetails,
    UndoRequest,
    UndoResult,
    UserImport,
    UserImportPage,
    WebhookPage,
    WebhookRequest,
)

PREFIX = "/api/v1"
OPENAPI_URL = f"{PREFIX}/openapi.json"
RETRY_AFTER_SECONDS = 2  # how soon a caller should poll an upload that is being read or created
MAX_NOTIFY = 20
IDEMPOTENCY_KEY_CHARS = 255
_log = logging.getLogger("bulk_upload.api")
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer bu_live_…`")


class RowResult(StrEnum):  # api_imports.ROW_RESULTS
    INVALID = "invalid"
    FAILED = "failed"
    CREATED = "created"


class ReportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    words = {
        401: "No API key, or one that is unknown or revoked.",
        404: "No such upload in the key's company.",
        409: "The upload can't do this now (busy, seats short, undo refused).",
        413: "The file is over the size limit.",
        415: "The body is not multipart/form-data.",
        422: "The request can't be used (a field, setting or Idempotency-Key reused with another body).",
        429: "Too many requests for this key (see Retry-After).",
    }
    return {s: {"model": ProblemDetails, "description": words[s]} for s in statuses}


_ACCEPTED_HEADERS = {
    "Location": {"description": "The upload to poll.", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before polling.", "schema": {"type": "integer"}},
}


def caller(request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]) -> ApiCaller:
    """The key's company scopes everything the request does; a key over its rate limit gets 429."""
    who = bearer_caller(request)
    wait = ratelimit.retry_after(who.key_id)
    if wait is not None:
        raise Problem(429, ErrorCode.RATE_LIMITED, headers={"Retry-After": str(wait)}, retry_after=wait)
    _known_query_only(request)
    return who


def _known_query_only(request: Request) -> None:
    """A query parameter the operation does not take is refused, not ignored: `?staus=draft`
    would otherwise list every upload as if filtered."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = _query_names(dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise invalid(f"unknown query parameters: {', '.join(u[:40] for u in unknown[:5])}.")


Caller = Annotated[ApiCaller, Depends(caller)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Send the same POST again safely: the first answer is given again for 24 hours.",
    ),
]
UploadId = Annotated[str, Path(description="The upload's id.", max_length=64)]


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _links(upload_id: str) -> dict[str, str]:
    base = f"{PREFIX}/user-imports/{upload_id}"
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


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def _accepted(found: ImportStatus) -> JSONResponse:
    return _json(
        202,
        _shown(found),
        {"Location": f"{PREFIX}/user-imports/{found.id}", "Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _once(who: ApiCaller, key: str | None, fingerprint: str, produce: Callable[[], Response]) -> Response:
    """Answer a POST at most once per Idempotency-Key: the same key and request get the stored
    answer again; the same key with another request 422; while the first is being answered, 409.
    Our own failures (5xx) are not stored, so the client may retry with the same key."""
    if key is None:
        return _answer(produce)
    if not key or len(key) > IDEMPOTENCY_KEY_CHARS:
        raise invalid(f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_CHARS} characters.")
    request_sha256 = hashlib.sha256(fingerprint.encode()).hexdigest()
    stored = api_imports.claim_idempotency_key(who.company_id, key, request_sha256)
    if stored is not None:
        if stored.request_sha256 != request_sha256:
            raise Problem(422, ErrorCode.IDEMPOTENCY_KEY_REUSED)
        if stored.status == 0:
            raise Problem(409, ErrorCode.IDEMPOTENCY_KEY_IN_USE)
        headers = {"Idempotent-Replayed": "true"}
        if stored.location:
            headers["Location"] = stored.location
        if stored.status == 202:
            headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return Response(stored.body, status_code=stored.status, media_type=stored.content_type, headers=headers)
    try:
        response = _answer(produce)
    except BaseException:
        api_imports.release_idempotency_key(who.company_id, key)
        raise
    if response.status_code >= 500:
        api_imports.release_idempotency_key(who.company_id, key)
        return response
    api_imports.store_idempotent_answer(
        who.company_id,
        key,
        status=response.status_code,
        content_type=response.headers.get("content-type", ""),
        location=response.headers.get("location", ""),
        body=bytes(response.body).decode(),
    )
    return response


def _answer(produce: Callable[[], Response]) -> Response:
    """The response, or the problem our exception answers with (stored for idempotency too)."""
    try:
        return produce()
    except (
        Problem,
        UploadNotFound,
        UploadBusy,
        FileProblem,
        UndoRefused,
        BatchProblem,
        BadCursor,
        WebhookProblem,
        WebhookNotFound,
    ) as exc:
        return as_problem(exc).response()


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
        return _once(who, idempotency_key, fingerprint, produce)
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


def create_api() -> FastAPI:
    api = FastAPI(
        title="Bulk user upload API",
        version="1",
        summary="Upload a file of users, follow its checking, fetch the rows to fix, create the users.",
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )

    @api.post(
        f"{PREFIX}/user-imports",
        status_code=202,
        response_model=UserImport,
        summary="Upload a file of users",
        description="The file is read and judged in the background: poll the Location until its status "
        "is no longer processing. With create=true the valid rows' users are created as soon as it is judged.",
        responses={202: {"headers": _ACCEPTED_HEADERS}, **_problems(401, 409, 413, 415, 422, 429)},
        openapi_extra={"requestBody": _UPLOAD_BODY},
        tags=["user imports"],
    )
    async def start_import(request: Request, who: Caller, idempotency_key: IdempotencyKey = None) -> Response:
        received = await receive_upload(request)
        return await run_in_threadpool(_start, who, received, idempotency_key)

    @api.get(
        f"{PREFIX}/user-imports",
        response_model=UserImportPage,
        summary="List the company's uploads",
        description="Newest first, every source (api, wizard, cli).",
        responses=_problems(401, 422, 429),
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
        return _json(200, {"data": [_shown(f) for f in found], "next_cursor": following})

    @api.get(
        f"{PREFIX}/user-imports/{{upload_id}}",
        response_model=UserImport,
        summary="An upload's status, progress and counts",
        responses=_problems(401, 404, 422, 429),
        tags=["user imports"],
    )
    def get_import(who: Caller, upload_id: UploadId) -> Response:
        found = api_imports.import_status(who.company_id, upload_id)
        busy = found.status in (UploadStatus.PROCESSING, UploadStatus.CREATING)
        return _json(200, _shown(found), {"Retry-After": str(RETRY_AFTER_SECONDS)} if busy else None)

    @api.get(
        f"{PREFIX}/user-imports/{{upload_id}}/rows",
        response_model=ImportRowPage,
        summary="An upload's rows with their errors",
        description="By spreadsheet row number. result=invalid: rows not created for their errors; "
        "failed: refused while creating; created; none: every row.",
        responses=_problems(401, 404, 422, 429),
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
        return _json(200, {"data": [r.as_dict() for r in found], "next_cursor": following})

    @api.post(
        f"{PREFIX}/user-imports/{{upload_id}}/create",
        status_code=202,
        response_model=UserImport,
        summary="Create the valid rows' users",
        description="All of them within the company's free seats, or none: a shortage is 409 SEATS_EXCEEDED "
        "with needed, available and legacy_dashboard_url (where to buy seats).",
        responses={202: {"headers": _ACCEPTED_HEADERS}, **_problems(401, 404, 409, 422, 429)},
        tags=["user imports"],
    )
    def create_users(who: Caller, upload_id: UploadId, idempotency_key: IdempotencyKey = None) -> Response:
        def produce() -> Response:
            return _accepted(api_imports.start_create(who.company_id, upload_id, key_id=who.key_id, actor=who.actor))

        return _once(who, idempotency_key, f"create {upload_id}", produce)

    @api.post(
        f"{PREFIX}/user-imports/{{upload_id}}/cancel",
        response_model=UserImport,
        summary="Cancel an upload no user was created from",
        responses=_problems(401, 404, 409, 422, 429),
        tags=["user imports"],
    )
    def cancel(who: Caller, upload_id: UploadId, idempotency_key: IdempotencyKey = None) -> Response:
        return _once(
            who,
            idempotency_key,
            f"cancel {upload_id}",
            lambda: _json(200, _shown(api_imports.cancel(who.company_id, upload_id, actor=who.actor))),
        )

    @api.post(
        f"{PREFIX}/user-imports/{{upload_id}}/undo",
        response_model=UndoResult,
        summary="Remove the users an upload created",
        description="Users that changed since they were created are kept (listed in kept). dry_run: only say "
        "what would be done.",
        responses=_problems(401, 404, 409, 422, 429),
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
            return _json(200, {**plan.as_dict(), "status": status, "dry_run": dry_run})

        return _once(who, idempotency_key, f"undo {upload_id} {dry_run}", produce)

    @api.get(
        f"{PREFIX}/user-imports/{{upload_id}}/report.{{fmt}}",
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
            **_problems(401, 404, 422, 429),
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

    @api.post(
        f"{PREFIX}/webhooks",
        status_code=201,
        response_model=NewWebhook,
        summary="Register a webhook",
        description="The endpoint is POSTed `user_import.finished` (JSON, signed with the secret returned "
        "now, only now) each time one of the company's batches finishes; retried with backoff until it "
        "answers 2xx.",
        responses=_problems(401, 422, 429),
        tags=["webhooks"],
    )
    def register_webhook(who: Caller, body: WebhookRequest, idempotency_key: IdempotencyKey = None) -> Response:
        def produce() -> Response:
            found, secret = webhooks.register_webhook(who.company_id, body.url, created_by=who.actor)
            return _json(201, {"id": found.id, "url": found.url, "created_at": found.created_at, "secret": secret})

        return _once(who, idempotency_key, f"webhook {body.url}", produce)

    @api.get(
        f"{PREFIX}/webhooks",
        response_model=WebhookPage,
        summary="The company's webhooks",
        responses=_problems(401, 422, 429),
        tags=["webhooks"],
    )
    def list_webhooks(who: Caller) -> Response:
        found = webhooks.list_webhooks(who.company_id)
        return _json(200, {"data": [{"id": e.id, "url": e.url, "created_at": e.created_at} for e in found]})

    @api.delete(
        f"{PREFIX}/webhooks/{{webhook_id}}",
        status_code=204,
        response_class=Response,
        summary="Delete a webhook",
        description="Deliveries not yet made to it are dropped.",
        responses={204: {"description": "Deleted."}, **_problems(401, 404, 422, 429)},
        tags=["webhooks"],
    )
    def delete_webhook(who: Caller, webhook_id: Annotated[str, Path(max_length=64)]) -> Response:
        webhooks.delete_webhook(who.company_id, webhook_id)
        return Response(status_code=204)

    @api.get(f"{PREFIX}/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        return HTMLResponse(docs_html(api.openapi()))

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = _problem_json_openapi(
                get_openapi(
                    title=api.title,
                    version=api.version,
                    summary=api.summary,
                    description=_DESCRIPTION,
                    routes=api.routes,
                )
            )
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]

    async def problem_handler(request: Request, exc: Exception) -> Response:
        return as_problem(exc).response()

    for kind in (
        Problem,
        UploadNotFound,
        UploadBusy,
        FileProblem,
        UndoRefused,
        BatchProblem,
        BadCursor,
        WebhookProblem,
        WebhookNotFound,
        RequestValidationError,
        HTTPException,
    ):
        api.add_exception_handler(kind, problem_handler)
    api.add_middleware(_LastResort)
    return api


_DESCRIPTION = (
    "Upload a file of users the way the wizard does, without a browser: the same checks, error codes, "
    "seats, settings, history and undo. Authenticate with an API key of your company "
    "(`Authorization: Bearer <key>`); every error is `application/problem+json` with one of our codes."
)


def _problem_json_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Errors are problem+json, not FastAPI's default validation shape: say so in the document."""
    ref = {"$ref": "#/components/schemas/ProblemDetails"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {PROBLEM_JSON: {"schema": ref}}
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


class _LastResort:
    """Any exception a handler did not turn into a problem becomes a 500 problem (never a trace)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        started = False

        async def tracked(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started:
                raise
            await as_problem(exc).response()(scope, receive, send)


api_app = create_api()


def mount_api(app: Any) -> Any:
    """Reflex's `api_transformer`: /api/v1 and everything under it is the API's (its own 404s and
    405s are problems too); every other path goes on to Reflex's app."""

    async def routed(scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] in ("http", "websocket") else ""
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return await api_app(scope, receive, send)
        return await app(scope, receive, send)

    return routed
