"""Every error of the API as `application/problem+json` (RFC 9457), carrying our error codes.

A problem has `type` (a stable URI naming the code), `title`, `status`, `detail` (the catalogue's
message, which says how to fix it), `code` (errors.py) and the code's details (for
SEATS_EXCEEDED: `needed`, `available`, `legacy_dashboard_url`).
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from bulk_upload_app import routes
from bulk_upload_app.delivery.webhooks import WebhookNotFound, WebhookProblem
from bulk_upload_app.errors import (
    ErrorCode,
    FileProblem,
    QueueMissing,
    UndoRefused,
    UploadBusy,
    UploadNotFound,
    message_for,
)
from bulk_upload_app.services.api_imports import BadCursor
from bulk_upload_app.uploads.batch import BatchProblem

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = f"{routes.API_DOCS}#problem-"  # a relative URI (RFC 9457 §3.1.1): the docs page explains each code
_log = logging.getLogger("bulk_upload.api")

# File-level codes and the status each answers with.
_FILE_STATUS = {
    ErrorCode.SEATS_EXCEEDED: 409,
    ErrorCode.FILE_TOO_LARGE: 413,
    ErrorCode.TOO_MANY_FILES_IN_PROGRESS: 429,
    ErrorCode.TOO_MANY_OPEN_DRAFTS: 409,
}


class Problem(Exception):
    def __init__(
        self,
        status: int,
        code: ErrorCode,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.status = status
        self.code = ErrorCode(code)
        self.detail = detail if detail is not None else message_for(self.code, **extra)
        self.headers = headers or {}
        self.extra = extra
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        return {
            "type": TYPE_BASE + self.code.value.lower().replace("_", "-"),
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
            "code": self.code.value,
            **{k: v for k, v in self.extra.items() if k not in ("reason",)},
        }

    def response(self) -> Response:
        return Response(
            json.dumps(self.body(), default=str), status_code=self.status, media_type=PROBLEM_JSON, headers=self.headers
        )


def invalid(reason: str) -> Problem:
    return Problem(422, ErrorCode.INVALID_REQUEST, reason=reason)


# Our exceptions a handler may raise: each is answered as its problem (as_problem), whether it
# escapes the handler or is caught to be stored as an Idempotency-Key's answer.
OUR_PROBLEMS: tuple[type[Exception], ...] = (
    Problem,
    UploadNotFound,
    UploadBusy,
    FileProblem,
    UndoRefused,
    BatchProblem,
    BadCursor,
    WebhookProblem,
    WebhookNotFound,
)


def as_problem(exc: BaseException) -> Problem:
    """The problem an exception of ours (or of the framework) answers with; 500 for the unexpected."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, UploadNotFound):
        return Problem(404, ErrorCode.UPLOAD_NOT_FOUND)
    if isinstance(exc, UploadBusy):
        return Problem(409, ErrorCode.UPLOAD_BUSY, reason=str(exc))
    if isinstance(exc, FileProblem):
        return Problem(_FILE_STATUS.get(exc.code, 422), exc.code, exc.message, **exc.details)
    if isinstance(exc, UndoRefused):
        return Problem(409, exc.code, exc.message, **exc.details)
    if isinstance(exc, BatchProblem):
        return Problem(422, ErrorCode.INVALID_SETTINGS, reason=str(exc))
    if isinstance(exc, (BadCursor, WebhookProblem)):
        return invalid(str(exc))
    if isinstance(exc, WebhookNotFound):
        return Problem(404, ErrorCode.NOT_FOUND, str(exc))
    if isinstance(exc, QueueMissing):
        _log.error("the job queue is not configured: %s", exc)
        return Problem(503, ErrorCode.INTERNAL_ERROR, headers={"Retry-After": "60"})
    if isinstance(exc, RequestValidationError):
        return invalid(_validation_reason(exc))
    if isinstance(exc, HTTPException):
        if exc.status_code == 401:
            return Problem(401, ErrorCode.UNAUTHORIZED, headers=dict(exc.headers or {}), reason=str(exc.detail))
        if exc.status_code == 404:
            return Problem(404, ErrorCode.NOT_FOUND)
        if exc.status_code == 400:  # a body that is not JSON: refused as any other unusable request
            return invalid(f"{exc.detail}.")
        return Problem(
            exc.status_code, ErrorCode.INVALID_REQUEST, reason=str(exc.detail), headers=dict(exc.headers or {})
        )
    _log.error("unexpected error in the API", exc_info=exc)
    return Problem(500, ErrorCode.INTERNAL_ERROR)


def _validation_reason(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header"))
        parts.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) + "."
