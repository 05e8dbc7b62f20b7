"""Who calls the API: the company of the `Authorization: Bearer` key, within its rate limit, with
only the query parameters the operation takes. Every route depends on `Caller`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bulk_upload_app.api import ratelimit
from bulk_upload_app.api.problems import Problem, invalid
from bulk_upload_app.errors import ErrorCode
from bulk_upload_app.http_auth import bearer_caller
from bulk_upload_app.services.api_keys import ApiCaller

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer bu_live_…`")


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


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
