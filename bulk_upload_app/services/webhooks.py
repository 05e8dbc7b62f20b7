"""A company's webhook endpoints (delivery/webhooks.py): registered, listed and deleted by its API keys."""

from __future__ import annotations

from bulk_upload_app.db import session_scope
from bulk_upload_app.delivery import webhooks
from bulk_upload_app.delivery.webhooks import EndpointListing, WebhookNotFound, WebhookProblem
from bulk_upload_app.settings import get_settings

__all__ = [
    "EndpointListing",
    "WebhookNotFound",
    "WebhookProblem",
    "delete_webhook",
    "list_webhooks",
    "register_webhook",
]


def register_webhook(company_id: int, url: str, *, created_by: str) -> tuple[EndpointListing, str]:
    """The new endpoint and its signing secret (shown once); WebhookProblem for a URL we won't call."""
    with session_scope() as session:
        endpoint_id, secret = webhooks.register(
            session, company_id, url, created_by=created_by, settings=get_settings()
        )
        session.flush()
        found = next(e for e in webhooks.listing(session, company_id) if e.id == endpoint_id)
    return found, secret


def list_webhooks(company_id: int) -> list[EndpointListing]:
    with session_scope(read_only=True) as session:
        return webhooks.listing(session, company_id)


def delete_webhook(company_id: int, endpoint_id: str) -> None:
    """Another company's endpoint (or none): WebhookNotFound."""
    with session_scope() as session:
        webhooks.remove(session, company_id, endpoint_id)
