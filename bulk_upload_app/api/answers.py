"""How the API answers: JSON bodies, a POST answered at most once per Idempotency-Key, and the
problem responses each operation documents."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header
from fastapi.encoders import jsonable_encoder
from starlette.responses import JSONResponse, Response

from bulk_upload_app.api.problems import OUR_PROBLEMS, Problem, as_problem, invalid
from bulk_upload_app.api.schemas import ProblemDetails
from bulk_upload_app.errors import ErrorCode
from bulk_upload_app.services import api_imports
from bulk_upload_app.services.api_keys import ApiCaller

RETRY_AFTER_SECONDS = 2  # how soon a caller should poll an upload that is being read or created
IDEMPOTENCY_KEY_CHARS = 255

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Send the same POST again safely: the first answer is given again for 24 hours.",
    ),
]


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The documented error answers of an operation (its OpenAPI `responses`)."""
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


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def once(who: ApiCaller, key: str | None, fingerprint: str, produce: Callable[[], Response]) -> Response:
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
    except OUR_PROBLEMS as exc:
        return as_problem(exc).response()
