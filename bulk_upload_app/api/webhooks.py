"""The routes of /api/v1/webhooks: register, list and delete the endpoints told `user_import.finished`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from bulk_upload_app import routes
from bulk_upload_app.api.answers import IdempotencyKey, json_response, once, problems
from bulk_upload_app.api.caller import Caller
from bulk_upload_app.api.schemas import NewWebhook, WebhookPage, WebhookRequest
from bulk_upload_app.services import webhooks

router = APIRouter(prefix=routes.API)


@router.post(
    "/webhooks",
    status_code=201,
    response_model=NewWebhook,
    summary="Register a webhook",
    description="The endpoint is POSTed `user_import.finished` (JSON, signed with the secret returned "
    "now, only now) each time one of the company's batches finishes; retried with backoff until it "
    "answers 2xx.",
    responses=problems(401, 422, 429),
    tags=["webhooks"],
)
def register_webhook(who: Caller, body: WebhookRequest, idempotency_key: IdempotencyKey = None) -> Response:
    def produce() -> Response:
        found, secret = webhooks.register_webhook(who.company_id, body.url, created_by=who.actor)
        return json_response(201, {"id": found.id, "url": found.url, "created_at": found.created_at, "secret": secret})

    return once(who, idempotency_key, f"webhook {body.url}", produce)


@router.get(
    "/webhooks",
    response_model=WebhookPage,
    summary="The company's webhooks",
    responses=problems(401, 422, 429),
    tags=["webhooks"],
)
def list_webhooks(who: Caller) -> Response:
    found = webhooks.list_webhooks(who.company_id)
    return json_response(200, {"data": [{"id": e.id, "url": e.url, "created_at": e.created_at} for e in found]})


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a webhook",
    description="Deliveries not yet made to it are dropped.",
    responses={204: {"description": "Deleted."}, **problems(401, 404, 422, 429)},
    tags=["webhooks"],
)
def delete_webhook(who: Caller, webhook_id: Annotated[str, Path(max_length=64)]) -> Response:
    webhooks.delete_webhook(who.company_id, webhook_id)
    return Response(status_code=204)
