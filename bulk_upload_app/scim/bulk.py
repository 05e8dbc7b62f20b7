"""SCIM Bulk (RFC 7644 §3.7): many operations in one request, in order.

The request's POSTs are one batch, like a file: staged together as one upload of source "scim"
(one history entry per Bulk request, its rows judged as a file's), their seats reserved whole
or refused, then created one by one in request order. The other operations (PUT, PATCH, DELETE)
run between them at their place in the request, so an operation sees every user created before
it and can name one by `bulkId:<id>`. `failOnErrors` stops the request at its N-th error: what
follows is not done (users not reached fail with BULK_STOPPED in the upload) and not reported.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from scim2_models import Context, PatchOp

from bulk_upload_app.scim.errors import ScimProblem, as_problem, row_problem
from bulk_upload_app.scim.resources import MAX_OPERATIONS, User, dump, to_person, to_resource
from bulk_upload_app.services import scim as provisioning
from bulk_upload_app.services.api_keys import ApiCaller

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"


@dataclass
class Operation:
    index: int
    method: str
    path: str
    bulk_id: str | None
    data: Any
    result: dict[str, Any] | None = None  # the BulkResponse entry, once done
    row: int | None = None  # a POST's row in the staged upload
    error: ScimProblem | None = None  # known before anything ran


@dataclass
class Run:
    caller: ApiCaller
    base: str
    operations: list[Operation]
    fail_on_errors: int | None
    errors: int = 0
    done_until: int = 0  # operations before this index are settled
    stopped: bool = False
    created: dict[str, int] = field(default_factory=dict)  # bulkId → user id
    outcomes: dict[int, provisioning.RowResult] = field(default_factory=dict)  # row → result, once known


def _actor(caller: ApiCaller) -> str:
    return f"scim:{caller.key_id}"


def parse_request(document: Any) -> tuple[list[Operation], int | None]:
    if not isinstance(document, dict) or BULK_REQUEST not in (document.get("schemas") or []):
        raise ScimProblem(400, f'A Bulk request is a JSON object with "schemas": ["{BULK_REQUEST}"].', "invalidSyntax")
    raw_operations = document.get("Operations")
    if not isinstance(raw_operations, list):
        raise ScimProblem(400, 'A Bulk request needs "Operations": a list.', "invalidSyntax")
    if len(raw_operations) > MAX_OPERATIONS:
        raise ScimProblem(
            413, f"The Bulk request has {len(raw_operations)} operations; this service takes at most {MAX_OPERATIONS}."
        )
    fail_on_errors = document.get("failOnErrors")
    if fail_on_errors is not None and (not isinstance(fail_on_errors, int) or fail_on_errors < 1):
        raise ScimProblem(400, "failOnErrors must be a number of errors, 1 or more.", "invalidValue")
    operations = []
    for index, raw in enumerate(raw_operations):
        raw = raw if isinstance(raw, dict) else {}
        operations.append(
            Operation(
                index=index,
                method=str(raw.get("method") or "").upper(),
                path=str(raw.get("path") or ""),
                bulk_id=str(raw["bulkId"]) if raw.get("bulkId") is not None else None,
                data=raw.get("data"),
            )
        )
    return operations, fail_on_errors


def run_bulk(caller: ApiCaller, document: Any, body: bytes, base: str) -> dict[str, Any]:
    """A Bulk request; `body` (read within request_size.SCIM_BODY_BYTES by the endpoint) names its upload."""
    operations, fail_on_errors = parse_request(document)
    run = Run(caller, base, operations, fail_on_errors)
    posts = _prepare_posts(run)
    people = [person for _op, person in posts]
    if people:
        row_to_index = {op.row: op.index for op, _ in posts if op.row is not None}

        def between(row: int, results: dict[int, provisioning.RowResult]) -> bool:
            run.outcomes.update(results)
            _settle_until(run, row_to_index[row])
            return not run.stopped

        # Only POSTs and no failOnErrors: nothing runs between them, so they are created in the
        # engine's big chunks instead of one by one (1000 POSTs: seconds, not tens of seconds).
        only_posts = fail_on_errors is None and all(op.method == "POST" for op in operations)
        result = provisioning.create_users(
            caller.company_id,
            people,
            label=f"SCIM Bulk request ({len(operations)} operations)",
            sha256=hashlib.sha256(body).hexdigest(),
            actor=_actor(caller),
            between=None if only_posts else between,
            stop_errors=fail_on_errors or 0,
        )
        run.outcomes.update(enumerate(result.rows, start=1))
    _settle_until(run, len(operations))
    return {
        "schemas": [BULK_RESPONSE],
        "Operations": [op.result for op in operations if op.result is not None],
    }


def _prepare_posts(run: Run) -> list[tuple[Operation, provisioning.Person]]:
    """The POSTs that can be staged (rows 1..n in request order); the others fail already."""
    posts: list[tuple[Operation, provisioning.Person]] = []
    user_names: dict[str, int] = {}
    bulk_ids: set[str] = set()
    for op in run.operations:
        if op.method != "POST":
            continue
        try:
            if op.path.rstrip("/") != "/Users":
                raise ScimProblem(404, "POST operations create users: their path is /Users.")
            if not op.bulk_id:
                raise ScimProblem(400, "A POST operation needs a bulkId.", "invalidValue")
            if op.bulk_id in bulk_ids:
                raise ScimProblem(409, f'The bulkId "{op.bulk_id}" is used twice in this request.', "uniqueness")
            bulk_ids.add(op.bulk_id)
            person = to_person(User.model_validate(op.data, scim_ctx=Context.RESOURCE_CREATION_REQUEST))
            key = person.user_name.strip().casefold()
            if key and (key in user_names):
                raise ScimProblem(
                    409, f'The userName "{person.user_name}" is already used in this request.', "uniqueness"
                )
            user_names[key] = op.index
        except Exception as exc:
            op.error = _problem(exc)
            continue
        posts.append((op, person))
    taken = provisioning.user_names_taken(run.caller.company_id, [p.user_name for _, p in posts])
    kept: list[tuple[Operation, provisioning.Person]] = []
    for op, person in posts:
        if person.user_name.strip().casefold() in taken:
            op.error = ScimProblem(
                409, f'The userName "{person.user_name}" is already in use in this account.', "uniqueness"
            )
            continue
        op.row = len(kept) + 1
        kept.append((op, person))
    return kept


def _problem(exc: Exception) -> ScimProblem:
    problem = as_problem(exc)
    if problem is None:
        raise exc
    return problem


def _settle_until(run: Run, end: int) -> None:
    """Do the operations before `end` that are not done yet, in order, counting errors."""
    while run.done_until < end and not run.stopped:
        op = run.operations[run.done_until]
        if op.row is not None:
            outcome = run.outcomes.get(op.row)
            if outcome is None:
                return  # not created yet: settled once it is
            _post_result(run, op, outcome)
        elif op.error is not None:
            _fail(run, op, op.error)
        else:
            _other(run, op)
        run.done_until += 1
        if run.fail_on_errors is not None and run.errors >= run.fail_on_errors:
            run.stopped = True


def _post_result(run: Run, op: Operation, outcome: provisioning.RowResult) -> None:
    if outcome.stopped:
        return  # not reached: not reported
    if outcome.created is None:
        _fail(run, op, row_problem(outcome))
        return
    resource = to_resource(outcome.created, run.base)
    assert op.bulk_id is not None
    run.created[op.bulk_id] = int(resource.id or 0)
    op.result = {
        "method": "POST",
        "bulkId": op.bulk_id,
        "location": resource.meta.location if resource.meta else None,
        "version": resource.meta.version if resource.meta else None,
        "status": "201",
    }


def _fail(run: Run, op: Operation, problem: ScimProblem) -> None:
    run.errors += 1
    op.result = {
        "method": op.method or None,
        "bulkId": op.bulk_id,
        "status": str(problem.status),
        "response": problem.error.model_dump(),
    }
    if op.method not in ("POST", "") and op.path:
        op.result["location"] = f"{run.base}{op.path}" if not op.path.startswith("http") else op.path


def _user_id(run: Run, path: str) -> int:
    """The user a PUT/PATCH/DELETE path names: /Users/<id> or /Users/bulkId:<bulkId>."""
    prefix = "/Users/"
    if not path.startswith(prefix):
        raise ScimProblem(404, "Operations other than POST name a user: /Users/<id>.")
    ref = path[len(prefix) :]
    if ref.startswith("bulkId:"):
        bulk_id = ref[len("bulkId:") :]
        if bulk_id not in run.created:
            raise ScimProblem(409, f'bulkId "{bulk_id}" names no user created earlier in this request.', "invalidValue")
        return run.created[bulk_id]
    if not ref.isdigit() or len(ref) > 18:
        raise ScimProblem(404, "No such user in this account.")
    return int(ref)


def _other(run: Run, op: Operation) -> None:
    company, who = run.caller.company_id, _actor(run.caller)
    try:
        if op.method not in ("PUT", "PATCH", "DELETE"):
            raise ScimProblem(
                400, f'"{op.method}" is not a Bulk method: use POST, PUT, PATCH or DELETE.', "invalidSyntax"
            )
        user_id = _user_id(run, op.path)
        if op.method == "DELETE":
            provisioning.delete_user(company, user_id, actor=who)
            op.result = {"method": "DELETE", "location": f"{run.base}/Users/{user_id}", "status": "204"}
            return
        if op.method == "PUT":
            provisioning.get_user(company, user_id)
            person = to_person(User.model_validate(op.data, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST))
            found = provisioning.replace_user(company, user_id, person, actor=who)
        else:
            current = to_resource(provisioning.get_user(company, user_id), run.base)
            PatchOp[User].model_validate(op.data, scim_ctx=Context.RESOURCE_PATCH_REQUEST).patch(current)
            found = provisioning.replace_user(company, user_id, to_person(current), actor=who, how="patched")
        resource = to_resource(found, run.base)
        op.result = {
            "method": op.method,
            "location": resource.meta.location if resource.meta else None,
            "version": resource.meta.version if resource.meta else None,
            "status": "200",
            "response": dump(resource),
        }
        if op.bulk_id:
            op.result["bulkId"] = op.bulk_id
    except (ValidationError, Exception) as exc:
        _fail(run, op, _problem(exc))
