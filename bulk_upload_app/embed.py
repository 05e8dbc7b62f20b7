"""Embedding in the company dashboard: who may frame the app, CORS, and the parent-window messages.

BULK_UPLOAD_FRAME_ANCESTORS lists the dashboard origins (space-separated, e.g.
"https://dashboard.example.com https://eu.dashboard.example.com"). Every HTTP response of the
app (the compiled frontend is served by the same backend in prod) carries
`Content-Security-Policy: frame-ancestors <those origins>`; unset, only the app itself may frame
it (`'self'`). CORS and the websocket accept those origins plus the app's own
(REFLEX_DEPLOY_URL); unset, any origin (local development).
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit

FRAME_ANCESTORS_ENV = "BULK_UPLOAD_FRAME_ANCESTORS"


def _origin(value: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, or None."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def frame_ancestors() -> list[str]:
    """The configured dashboard origins (invalid entries are an error, not silently dropped)."""
    raw = os.environ.get(FRAME_ANCESTORS_ENV, "").replace(",", " ").split()
    origins = []
    for item in raw:
        origin = _origin(item)
        if origin is None or origin != item.rstrip("/").lower():
            raise ValueError(f"{FRAME_ANCESTORS_ENV}: {item!r} is not an origin like https://dashboard.example.com")
        origins.append(origin)
    return origins


def app_origins() -> list[str]:
    """The app's own origin(s), from REFLEX_DEPLOY_URL / REFLEX_API_URL (defaults of `reflex run`)."""
    found = []
    for name, default in (("REFLEX_DEPLOY_URL", "http://localhost:3000"), ("REFLEX_API_URL", "http://localhost:8000")):
        origin = _origin(os.environ.get(name) or default)
        if origin and origin not in found:
            found.append(origin)
    return found


def cors_allowed_origins() -> tuple[str, ...]:
    ancestors = frame_ancestors()
    if not ancestors:
        return ("*",)
    return tuple(dict.fromkeys([*app_origins(), *ancestors]))


def csp_header() -> bytes:
    ancestors = frame_ancestors()
    return f"frame-ancestors {' '.join(ancestors) if ancestors else chr(39) + 'self' + chr(39)}".encode()


WORKER_HEADER_ENV = "BULK_UPLOAD_WORKER_HEADER"  # tests only: name the serving worker process


def worker_header_enabled() -> bool:
    return os.environ.get(WORKER_HEADER_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def frame_guard(app):  # noqa: ANN001, ANN201 - an ASGI app in, an ASGI app out (rx.App api_transformer)
    """Add the frame-ancestors policy to every HTTP response.

    With BULK_UPLOAD_WORKER_HEADER=1 (the e2e tests' production mode; never in production: it
    tells clients a process id) every HTTP response also carries
    `X-Bulk-Upload-Worker: <pid of the worker process that served it>`. (Not the websocket
    handshake: Granian 2.8 ignores headers in `websocket.accept`.)
    """
    header = (b"content-security-policy", csp_header())
    with_worker = worker_header_enabled()

    async def guarded(scope, receive, send):  # noqa: ANN001, ANN202
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def send_with_policy(message):  # noqa: ANN001, ANN202
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"content-security-policy"]
                headers.append(header)
                if with_worker:  # the pid now: forked workers share what the supervisor imported
                    headers.append((b"x-bulk-upload-worker", str(os.getpid()).encode()))
                message = {**message, "headers": headers}
            await send(message)

        return await app(scope, receive, send_with_policy)

    return guarded


def client_config_script() -> str:
    """Runs before embed.js: the origins the page may post messages to (fixed when the frontend is built)."""
    return f"window.__BULK_UPLOAD_EMBED__ = {json.dumps({'parentOrigins': frame_ancestors()})};"


def post_to_parent(kind: str, **data) -> str:  # noqa: ANN003
    """JS that posts {source: "bulk-upload", type: kind, ...data} to the configured parent origin."""
    return f"window.bulkUploadEmbed && window.bulkUploadEmbed.post({json.dumps(kind)}, {json.dumps(data)})"
