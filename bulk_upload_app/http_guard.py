"""What every HTTP response of the app carries, and the size limit on upload requests.

Installed as `rx.App(api_transformer=http_guard)`: it wraps the whole ASGI app (the compiled
frontend is served by the same backend in production), so no route can forget it.

- `Content-Security-Policy: frame-ancestors <dashboard origins>; object-src 'none'; base-uri 'self'`
  (only the configured dashboards may frame the app; unset, only the app itself),
  `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` (a sign-in token in an
  address never leaves in a Referer), and `Strict-Transport-Security` when served over HTTPS.
- An upload request (`/_upload`) larger than the file limit plus room for the form's other
  fields (request_size.upload_request_limit) is cut off as request_size enforces every limit;
  the answer is 413 and the connection is closed.
- With BULK_UPLOAD_WORKER_HEADER=1 (the e2e tests only: it tells clients a process id) every
  response also carries `X-Bulk-Upload-Worker: <pid of the serving worker>`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from bulk_upload_app.request_size import BodyCounter, TooLarge, file_limit_words, upload_request_limit
from bulk_upload_app.settings import Settings, get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATH_SUFFIX = "/_upload"
_OURS = {b"content-security-policy", b"x-content-type-options", b"referrer-policy", b"strict-transport-security"}


def content_security_policy(settings: Settings) -> str:
    ancestors = " ".join(settings.frame_ancestors) or "'self'"
    return f"frame-ancestors {ancestors}; object-src 'none'; base-uri 'self'"


def security_headers(settings: Settings, scheme: str) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", content_security_policy(settings).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]
    if scheme == "https" or settings.https:
        headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    return headers


def _declared_length(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            return value
    return None


async def _too_large(send: Send, limit_words: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"detail": f"The file is too large: uploads are limited to {limit_words}."})
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body.encode(), "more_body": False})


def http_guard(app: ASGIApp) -> ASGIApp:
    settings = get_settings()
    limit, limit_words = upload_request_limit(settings), file_limit_words(settings)

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        ours = security_headers(settings, scope.get("scheme", "http"))
        if settings.worker_header:  # the pid now: forked workers share what the supervisor imported
            ours.append((b"x-bulk-upload-worker", str(os.getpid()).encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [h for h in message.get("headers", []) if h[0].lower() not in _OURS]
                message = {**message, "headers": [*kept, *ours]}
            await send(message)

        if not scope.get("path", "").endswith(UPLOAD_PATH_SUFFIX):
            return await app(scope, receive, send_with_headers)
        body = BodyCounter(limit)
        try:
            body.check_declared(_declared_length(scope))
        except TooLarge:
            return await _too_large(send, limit_words, ours)
        await _limited_upload(app, scope, receive, send_with_headers, body, limit_words, ours)

    return guarded


async def _limited_upload(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    body: BodyCounter,
    limit_words: str,
    extra: list[tuple[bytes, bytes]],
) -> None:
    """Run an upload request, reading no more than its limit of body bytes.

    Past the limit the app is told the client went away (it stops parsing and cancels the
    upload's handler), its own answer is dropped, and the client gets 413 with the connection
    closed, so the rest of the body is never read.
    """
    over, answered = False, False

    async def counted() -> Message:
        nonlocal over
        if over:
            return {"type": "http.disconnect"}
        message = await receive()
        if message["type"] == "http.request":
            try:
                body.add(len(message.get("body", b"")))
            except TooLarge:
                over = True
                return {"type": "http.disconnect"}
        return message

    async def send_unless_over(message: Message) -> None:
        nonlocal answered
        if over and not answered:
            return
        answered = True
        await send(message)

    await app(scope, counted, send_unless_over)
    if over and not answered:
        await _too_large(send, limit_words, extra)
