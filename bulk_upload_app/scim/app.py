"""The SCIM 2.0 service provider (RFC 7644) at /scim/v2: discovery, Users, Bulk.

Every request carries a company API key (`http_auth.bearer_caller`) and every query is scoped
to that company: another company's user id is 404, as if it did not exist. Handlers run in a
worker thread (the engine's database calls are blocking).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from scim2_models import (
    Context,
    Meta,
    PatchOp,
    ResponseParameters,
    SearchRequest,
)
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bulk_upload_app import routes
from bulk_upload_app.http_auth import bearer_caller
from bulk_upload_app.request_size import SCIM_BODY_BYTES, BodyCounter, TooLarge
from bulk_upload_app.scim import filters
from bulk_upload_app.scim.errors import ScimProblem, as_problem, error_response, row_problem, scim_json
from bulk_upload_app.scim.resources import (
    MAX_RESULTS,
    USER_SCHEMA,
    User,
    dump,
    service_provider_config,
    to_person,
    to_resource,
    user_resource_type,
    user_schema,
)
from bulk_upload_app.services import scim as provisioning
from bulk_upload_app.services.api_keys import ApiCaller

Handler = Callable[[Request, ApiCaller, bytes], Response]
PREFIX = routes.SCIM


def base_url(request: Request) -> str:
    """Where this service is, as the client reached it: ".../scim/v2" (the mount's root_path)."""
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}".rstrip("/")


async def _body(request: Request) -> bytes:
    counter, received = BodyCounter(SCIM_BODY_BYTES), bytearray()
    try:
        counter.check_declared(request.headers.get("content-length"))
        async for chunk in request.stream():
            counter.add(len(chunk))
            received += chunk
    except TooLarge as over:
        raise ScimProblem(413, f"The request is larger than the {over.limit} bytes this service accepts.") from None
    return bytes(received)


def endpoint(handler: Handler, *, reads_body: bool = False) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        try:
            body = await _body(request) if reads_body else b""
            try:
                caller = await run_in_threadpool(bearer_caller, request)
            except HTTPException as refused:
                raise ScimProblem(401, str(refused.detail), headers=dict(refused.headers or {})) from None
            return await run_in_threadpool(handler, request, caller, body)
        except Exception as exc:
            problem = as_problem(exc)
            if problem is None:
                raise
            return error_response(problem)

    return run


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise ScimProblem(400, "The request body is not JSON.", "invalidSyntax") from None


def user_id_of(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise ScimProblem(404, "No such user in this account.")
    return int(text)


def actor(caller: ApiCaller) -> str:
    return f"scim:{caller.key_id}"


# ---------------------------------------------------------------- discovery


def get_service_provider_config(request: Request, caller: ApiCaller, body: bytes) -> Response:
    return scim_json(dump(service_provider_config(base_url(request))))


def list_resource_types(request: Request, caller: ApiCaller, body: bytes) -> Response:
    found = [user_resource_type(base_url(request))]
    return scim_json(_list(found, len(found), 1))


def get_resource_type(request: Request, caller: ApiCaller, body: bytes) -> Response:
    if request.path_params["name"] != "User":
        raise ScimProblem(404, "This service provides the User resource type only.")
    return scim_json(dump(user_resource_type(base_url(request))))


def list_schemas(request: Request, caller: ApiCaller, body: bytes) -> Response:
    found = [user_schema(base_url(request))]
    return scim_json(_list(found, len(found), 1))


def get_schema(request: Request, caller: ApiCaller, body: bytes) -> Response:
    if request.path_params["urn"] != USER_SCHEMA:
        raise ScimProblem(404, "This service publishes the core User schema only.")
    return scim_json(dump(user_schema(base_url(request))))


def _list(resources: list[Any], total: int, start: int, parameters: ResponseParameters | None = None) -> dict:
    items = [dump(r, Context.SEARCH_RESPONSE, response_parameters=parameters) for r in resources]
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(items),
        "Resources": items,
    }


# ---------------------------------------------------------------- Users


def _search(request: Request, caller: ApiCaller, search: SearchRequest[User]) -> Response:
    start = max(search.start_index or 1, 1)
    count = MAX_RESULTS if search.count is None else max(min(search.count, MAX_RESULTS), 0)
    base = base_url(request)
    if search.filter is None:
        where = None
    else:
        try:
            where = filters.to_sql(search.filter.ast)
        except filters.NotSql:
            return _search_in_python(request, caller, search, start, count)
    found, total = provisioning.list_users(caller.company_id, where, offset=start - 1, limit=count)
    return scim_json(_list([to_resource(f, base) for f in found], total, start, search))


def _search_in_python(
    request: Request, caller: ApiCaller, search: SearchRequest[User], start: int, count: int
) -> Response:
    assert search.filter is not None
    base = base_url(request)
    matched, total = [], 0
    for found in provisioning.every_user(caller.company_id):
        resource = to_resource(found, base)
        if search.filter.match(resource):
            total += 1
            if start <= total < start + count:
                matched.append(resource)
    return scim_json(_list(matched, total, start, search))


def list_users(request: Request, caller: ApiCaller, body: bytes) -> Response:
    query = {k: v for k, v in request.query_params.items()}
    return _search(request, caller, SearchRequest[User].model_validate(query))


def search_users(request: Request, caller: ApiCaller, body: bytes) -> Response:
    document = parse_json(body)
    return _search(request, caller, SearchRequest[User].model_validate(document, scim_ctx=Context.SEARCH_REQUEST))


def _parameters(request: Request) -> ResponseParameters:
    query = {k: v for k, v in request.query_params.items() if k in ("attributes", "excludedAttributes")}
    return ResponseParameters.model_validate(query)


def get_user(request: Request, caller: ApiCaller, body: bytes) -> Response:
    found = provisioning.get_user(caller.company_id, user_id_of(request.path_params["id"]))
    resource = to_resource(found, base_url(request))
    return scim_json(
        dump(resource, response_parameters=_parameters(request)), headers={"ETag": _meta(resource).version or ""}
    )


def _meta(resource: User) -> Meta:
    assert resource.meta is not None  # to_resource always gives one
    return resource.meta


def created_response(request: Request, found: provisioning.Provisioned) -> Response:
    resource = to_resource(found, base_url(request))
    location = _meta(resource).location or ""
    return scim_json(
        dump(resource, Context.RESOURCE_CREATION_RESPONSE, response_parameters=_parameters(request)),
        201,
        headers={"Location": location, "ETag": _meta(resource).version or ""},
    )


def create_user(request: Request, caller: ApiCaller, body: bytes) -> Response:
    resource: User = User.model_validate(parse_json(body), scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    person = to_person(resource)
    if person.user_name and provisioning.user_names_taken(caller.company_id, [person.user_name]):
        raise ScimProblem(409, f'The userName "{person.user_name}" is already in use in this account.', "uniqueness")
    provisioning.check_new_user(caller.company_id, person)
    result = provisioning.create_users(
        caller.company_id,
        [person],
        label=f"SCIM POST {person.user_name or person.email}"[:255],
        sha256=hashlib.sha256(body).hexdigest(),
        actor=actor(caller),
    ).rows[0]
    if result.created is None:
        raise row_problem(result)
    return created_response(request, result.created)


def replace_user(request: Request, caller: ApiCaller, body: bytes) -> Response:
    user_id = user_id_of(request.path_params["id"])
    provisioning.get_user(caller.company_id, user_id)  # 404 before a word about the body
    resource: User = User.model_validate(parse_json(body), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    found = provisioning.replace_user(caller.company_id, user_id, to_person(resource), actor=actor(caller))
    return _resource_response(request, found)


def patch_user(request: Request, caller: ApiCaller, body: bytes) -> Response:
    user_id = user_id_of(request.path_params["id"])
    current = to_resource(provisioning.get_user(caller.company_id, user_id), base_url(request))
    patch = PatchOp[User].model_validate(parse_json(body), scim_ctx=Context.RESOURCE_PATCH_REQUEST)
    patch.patch(current)
    found = provisioning.replace_user(
        caller.company_id, user_id, to_person(current), actor=actor(caller), how="patched"
    )
    return _resource_response(request, found)


def _resource_response(request: Request, found: provisioning.Provisioned) -> Response:
    resource = to_resource(found, base_url(request))
    return scim_json(
        dump(resource, Context.RESOURCE_REPLACEMENT_RESPONSE, response_parameters=_parameters(request)),
        headers={"ETag": _meta(resource).version or ""},
    )


def delete_user(request: Request, caller: ApiCaller, body: bytes) -> Response:
    provisioning.delete_user(caller.company_id, user_id_of(request.path_params["id"]), actor=actor(caller))
    return Response(status_code=204)


def method_not_allowed(request: Request, caller: ApiCaller, body: bytes) -> Response:
    raise ScimProblem(405, f"{request.method} is not allowed on {request.url.path}.")


def not_here(request: Request, caller: ApiCaller, body: bytes) -> Response:
    raise ScimProblem(404, "This service provides /Users, /Bulk and the discovery endpoints only.")


def bulk(request: Request, caller: ApiCaller, body: bytes) -> Response:
    from bulk_upload_app.scim.bulk import run_bulk

    return scim_json(run_bulk(caller, parse_json(body), body, base_url(request)))


def build_app() -> Starlette:
    everything = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    read_only = ["/ServiceProviderConfig", "/ResourceTypes", "/ResourceTypes/{name}", "/Schemas", "/Schemas/{urn}"]
    refused = [
        *[(path, ["POST", "PUT", "PATCH", "DELETE"]) for path in read_only],
        ("/Users", ["PUT", "PATCH", "DELETE"]),
        ("/Users/{id}", ["POST"]),
        ("/Bulk", ["GET", "PUT", "PATCH", "DELETE"]),
    ]
    return Starlette(
        routes=[
            Route("/ServiceProviderConfig", endpoint(get_service_provider_config), methods=["GET"]),
            Route("/ResourceTypes", endpoint(list_resource_types), methods=["GET"]),
            Route("/ResourceTypes/{name}", endpoint(get_resource_type), methods=["GET"]),
            Route("/Schemas", endpoint(list_schemas), methods=["GET"]),
            Route("/Schemas/{urn}", endpoint(get_schema), methods=["GET"]),
            Route("/Users", endpoint(list_users), methods=["GET"]),
            Route("/Users", endpoint(create_user, reads_body=True), methods=["POST"]),
            Route("/Users/.search", endpoint(search_users, reads_body=True), methods=["POST"]),
            # Searching from the root searches every resource type: here, users.
            Route("/.search", endpoint(search_users, reads_body=True), methods=["POST"]),
            Route("/Users/{id}", endpoint(get_user), methods=["GET"]),
            Route("/Users/{id}", endpoint(replace_user, reads_body=True), methods=["PUT"]),
            Route("/Users/{id}", endpoint(patch_user, reads_body=True), methods=["PATCH"]),
            Route("/Users/{id}", endpoint(delete_user), methods=["DELETE"]),
            Route("/Bulk", endpoint(bulk, reads_body=True), methods=["POST"]),
            # After the routes above, so that a path's own route wins and only other methods get 405.
            *[Route(path, endpoint(method_not_allowed), methods=methods) for path, methods in refused],
            Route("/{rest:path}", endpoint(not_here), methods=everything),
        ]
    )
