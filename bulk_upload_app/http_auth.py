"""`Authorization: Bearer <key>` for the app's HTTP APIs (import API, SCIM).

`bearer_caller(request)` is the one check: it answers who is calling (an `ApiCaller`, whose
company scopes every query of the request) or raises a 401 with `WWW-Authenticate: Bearer`.
It reads the database, so async handlers call it through `starlette.concurrency.run_in_threadpool`
(FastAPI does that for a plain `def` dependency).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from bulk_upload_app.services.api_keys import ApiCaller, authenticate

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="bulk-upload"'}


def bearer_token(request: HTTPConnection) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def bearer_caller(request: HTTPConnection) -> ApiCaller:
    token = bearer_token(request)
    if token is None:
        raise HTTPException(401, "Send an API key as “Authorization: Bearer <key>”.", headers=CHALLENGE)
    caller = authenticate(token)
    if caller is None:
        raise HTTPException(401, "This API key is unknown or was revoked.", headers=CHALLENGE)
    return caller
