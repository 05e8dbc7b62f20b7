"""The API app (see the package docstring): its routers assembled, its OpenAPI document, every
error answered as a problem, and its mount in front of Reflex. The routes are by resource in
imports.py and webhooks.py; who calls in caller.py; answers and idempotency in answers.py."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException
from starlette.responses import Response

from bulk_upload_app import routes
from bulk_upload_app.api import docs_page, imports, webhooks
from bulk_upload_app.api.problems import OUR_PROBLEMS, PROBLEM_JSON, as_problem


def create_api() -> FastAPI:
    """The API app: its routers by resource, its OpenAPI document, every error as a problem."""
    api = FastAPI(
        title="Bulk user upload API",
        version="1",
        summary="Upload a file of users, follow its checking, fetch the rows to fix, create the users.",
        openapi_url=routes.API_OPENAPI,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    for router in (imports.router, webhooks.router, docs_page.router):
        api.include_router(router)

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

    for kind in (*OUR_PROBLEMS, RequestValidationError, HTTPException):
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
        if path == routes.API or path.startswith(routes.API + "/"):
            return await api_app(scope, receive, send)
        return await app(scope, receive, send)

    return routed
