"""SCIM error responses (RFC 7644 §3.12) from what the engine raises."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from scim2_models import Error, SCIMException
from starlette.responses import JSONResponse

from bulk_upload_app.provisioning.scim_users import Conflict, Invalid, NoSeat, UserNotFound

MEDIA_TYPE = "application/scim+json"

# Our columns as the SCIM attributes they came from.
ATTRIBUTE_OF_COLUMN = {
    "firstname": "name.givenName",
    "lastname": "name.familyName",
    "email": "emails.value",
    "countryprefix": "phoneNumbers.value",
    "phone": "phoneNumbers.value",
}


class ScimProblem(Exception):
    """An error answer: status, scimType (may be None) and a detail an admin can act on."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None):
        self.error = Error(status=status, scim_type=scim_type, detail=detail)
        self.headers = headers or {}
        super().__init__(detail)

    @property
    def status(self) -> int:
        return int(self.error.status or 500)


def scim_json(document: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(document, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def invalid_detail(errors: list[Any]) -> str:
    parts = []
    for e in errors:
        column = e.column if hasattr(e, "column") else e.get("column")
        message = e.message if hasattr(e, "message") else e.get("message")
        where = ATTRIBUTE_OF_COLUMN.get(column or "", "")
        parts.append(f"{where}: {message}" if where else str(message))
    return " ".join(parts)


def no_seat_detail(problem: NoSeat) -> str:
    url = problem.problem.details.get("legacy_dashboard_url") or ""
    return f"{problem.problem.message}" + (f" Buy seats at {url}." if url else "")


def as_problem(exc: BaseException) -> ScimProblem | None:
    """The SCIM answer for an exception the handlers expect; None for a bug (500)."""
    if isinstance(exc, ScimProblem):
        return exc
    if isinstance(exc, SCIMException):
        error = exc.to_error()
        return ScimProblem(int(error.status or 400), error.detail or str(exc), error.scim_type)
    if isinstance(exc, ValidationError):
        error = Error.from_validation_errors(exc)[0]
        return ScimProblem(int(error.status or 400), error.detail or "Invalid request.", error.scim_type)
    if isinstance(exc, UserNotFound):
        return ScimProblem(404, "No such user in this account.")
    if isinstance(exc, Invalid):
        return ScimProblem(400, invalid_detail(exc.errors), "invalidValue")
    if isinstance(exc, Conflict):
        return ScimProblem(409, str(exc), "uniqueness")
    if isinstance(exc, NoSeat):
        # 403, not 409: identity providers read a 409 on create as "the user exists already".
        return ScimProblem(403, no_seat_detail(exc))
    return None


def error_response(problem: ScimProblem) -> JSONResponse:
    return scim_json(problem.error.model_dump(), problem.status, problem.headers)


def row_problem(result: Any) -> ScimProblem:
    """Why a person of a batch (services.scim.RowResult) was not created."""
    if result.invalid:
        return ScimProblem(400, invalid_detail(result.invalid), "invalidValue")
    if result.no_seat is not None:
        return ScimProblem(403, no_seat_detail(result.no_seat))
    if result.stopped:
        return ScimProblem(409, result.stopped)
    return ScimProblem(409, result.conflict or "This user could not be created.", "uniqueness")
