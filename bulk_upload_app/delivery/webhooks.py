"""Webhooks: a company's HTTPS endpoints told `user_import.finished` when one of its batches ends.

An endpoint is registered through the API with its URL; we make its signing secret (shown once
to the caller, kept to sign). Each finish of a batch queues one outbox row per endpoint, in the
transaction of the finish itself (delivery/outbox.py: `enqueue_batch_finished`), so delivery has
the outbox's guarantees: sent once per finish, retried with backoff, given up and recorded.

Each delivery is a POST of JSON with
`Bulk-Upload-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`
and `Bulk-Upload-Timestamp: <t>`: a receiver recomputes the HMAC over the raw body and refuses
a timestamp more than a few minutes old (replays). `Bulk-Upload-Delivery` (the outbox row's id)
is the same on every retry of one message, for the receiver to drop duplicates.

Endpoints must be `https://` on a public address: a name resolving to a private, loopback or
link-local address is refused when sending, so a company cannot make our servers call inside the
network. BULK_UPLOAD_WEBHOOK_ALLOW_INSECURE=1 (demo mode and tests only) lifts both rules.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bulk_upload_app import routes
from bulk_upload_app.db import session_scope
from bulk_upload_app.delivery.sending import DeliveryFailed, NotDelivered
from bulk_upload_app.models import WebhookEndpoint, utcnow
from bulk_upload_app.settings import Settings

EVENT = "user_import.finished"
MAX_ENDPOINTS = 10
TIMEOUT_SECONDS = 10.0
# An answer that trying again cannot change: the receiver refuses the message itself.
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 410, 413, 415, 422})


class WebhookProblem(ValueError):
    """A URL we won't call, or too many endpoints; the message says why."""


class WebhookNotFound(LookupError):
    """No such endpoint in this company (also another company's)."""


@dataclass(frozen=True)
class EndpointListing:
    id: str
    url: str
    created_at: datetime
    created_by: str


def check_url(url: str, settings: Settings) -> str:
    url = url.strip()
    if len(url) > 500:
        raise WebhookProblem("The URL is longer than 500 characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        raise WebhookProblem("That is not a URL.") from None
    allowed = ("https", "http") if settings.webhook_allow_insecure else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise WebhookProblem("A webhook URL must start with https:// and name a host.")
    if parts.username or parts.password:
        raise WebhookProblem("A webhook URL must not carry a user name or password.")
    if parts.fragment:
        raise WebhookProblem("A webhook URL must not have a #fragment.")
    return url


def register(session: Session, company_id: int, url: str, *, created_by: str, settings: Settings) -> tuple[str, str]:
    """(endpoint id, signing secret): the secret is shown once to the caller."""
    url = check_url(url, settings)
    existing = session.exec(select(WebhookEndpoint.id).where(WebhookEndpoint.company_id == company_id)).all()
    if len(existing) >= MAX_ENDPOINTS:
        raise WebhookProblem(f"A company may register at most {MAX_ENDPOINTS} webhooks; delete one first.")
    endpoint = WebhookEndpoint(
        id=f"wh_{secrets.token_hex(12)}",
        company_id=company_id,
        url=url,
        secret=f"whsec_{secrets.token_urlsafe(32)}",
        created_by=created_by[:120],
    )
    session.add(endpoint)
    return endpoint.id, endpoint.secret


def listing(session: Session, company_id: int) -> list[EndpointListing]:
    rows = session.exec(
        select(WebhookEndpoint).where(WebhookEndpoint.company_id == company_id).order_by(WebhookEndpoint.created_at)
    ).scalars()
    return [EndpointListing(e.id, e.url, e.created_at, e.created_by) for e in rows]


def remove(session: Session, company_id: int, endpoint_id: str) -> None:
    endpoint = session.get(WebhookEndpoint, str(endpoint_id)[:32])
    if endpoint is None or endpoint.company_id != company_id:
        raise WebhookNotFound("There is no such webhook in this company.")
    session.delete(endpoint)


def endpoints_of(session: Session, company_id: int) -> list[tuple[str, str]]:
    """(id, url) of the company's endpoints: one outbox row each per finish."""
    return [
        (e.id, e.url)
        for e in session.exec(select(WebhookEndpoint).where(WebhookEndpoint.company_id == company_id)).scalars()
    ]


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event_body(delivery_id: int, upload_id: str, payload: dict[str, Any]) -> bytes:
    """The JSON POSTed: the finish as the outbox froze it."""
    document = {
        "id": f"evt_{delivery_id}",
        "type": EVENT,
        "created_at": payload.get("finished_at"),
        "data": {
            "id": upload_id,
            "status": payload.get("status"),
            "file_name": payload.get("file_name"),
            "source": payload.get("source"),
            "counts": {
                "rows": payload.get("total_rows"),
                "created": payload.get("created"),
                "failed": payload.get("failed"),
            },
            "reason": payload.get("reason") or None,
            "links": {"self": routes.api_import(upload_id)},
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()


def _public(host: str, port: int) -> None:
    """Refuse a host that resolves to an address inside a network (see the module docstring)."""
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise DeliveryFailed(f"{host} could not be resolved ({exc.strerror or exc})") from None
    for *_, address in found:
        ip = ipaddress.ip_address(address[0])
        if not ip.is_global:
            raise DeliveryFailed(
                f"{host} resolves to a non-public address; webhooks go to public hosts only", permanent=True
            )


def send_webhook(engine: Engine, claimed: Any, settings: Settings) -> None:
    """The outbox's sender for kind "webhook" (see outbox.deliver_due)."""
    import httpx

    endpoint_id = str(claimed.payload.get("endpoint_id", ""))
    with session_scope(engine, read_only=True) as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        secret = endpoint.secret if endpoint is not None and endpoint.company_id == claimed.company_id else None
    if secret is None:
        raise NotDelivered("not sent: the webhook was deleted")
    url = claimed.recipients[0]
    parts = urlsplit(url)
    if not settings.webhook_allow_insecure:
        _public(parts.hostname or "", parts.port or 443)
    body = event_body(claimed.id, claimed.upload_id, claimed.payload)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "bulk-upload-webhooks/1",
        "Bulk-Upload-Event": EVENT,
        "Bulk-Upload-Delivery": str(claimed.id),
        "Bulk-Upload-Timestamp": str(timestamp),
        "Bulk-Upload-Signature": signature(secret, timestamp, body),
    }
    try:
        answer = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT_SECONDS, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:300]) from None
    if 200 <= answer.status_code < 300:
        return
    raise DeliveryFailed(f"HTTP {answer.status_code}", permanent=answer.status_code in PERMANENT_STATUSES)


def queue_rows(session: Session, company_id: int, base: dict[str, Any]) -> list[dict[str, Any]]:
    """The outbox rows of one finish for the company's endpoints (`base`: the email row's values)."""
    rows = []
    for endpoint_id, url in endpoints_of(session, company_id):
        rows.append(
            {
                **base,
                "kind": "webhook",
                "target": endpoint_id,  # two endpoints with one URL are two messages
                "recipients": [url],
                "payload": {**base["payload"], "endpoint_id": endpoint_id},
                "status": "pending",
                "last_error": None,
                "created_at": base.get("created_at", utcnow()),
            }
        )
    return rows
