"""Security headers on every response, and the upload request's size cut-off (ASGI level)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from bulk_upload_app.http_guard import http_guard
from bulk_upload_app.request_size import FORM_OVERHEAD_BYTES

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def _settings(monkeypatch):
    monkeypatch.setenv("BULK_UPLOAD_MAX_FILE_MB", "1")
    monkeypatch.setenv("BULK_UPLOAD_FRAME_ANCESTORS", "https://dash.example.com")
    monkeypatch.setenv("REFLEX_DEPLOY_URL", "http://localhost:3000")
    monkeypatch.delenv("BULK_UPLOAD_WORKER_HEADER", raising=False)


def run(coroutine):
    """asyncio.run in its own thread: Playwright's sync API may leave a loop running in this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class Body:
    """A request body of `total` bytes in 64 KB pieces, counting what the app pulled."""

    def __init__(self, total: int):
        self.total, self.pulled = total, 0

    async def receive(self):
        piece = min(64 * 1024, self.total - self.pulled)
        self.pulled += piece
        return {"type": "http.request", "body": b"x" * piece, "more_body": self.pulled < self.total}


async def reading_app(scope, receive, send):
    """Reads the whole body like Starlette's request.stream(), then answers 200."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-security-policy", b"x")]})
    await send({"type": "http.response.body", "body": b"ok"})


def call(path: str, body: Body, headers=(), scheme="http"):
    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "scheme": scheme, "headers": list(headers), "method": "POST"}
    run(http_guard(reading_app)(scope, body.receive, send))
    start = sent[0]
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, sent


def test_every_response_carries_the_security_headers():
    status, headers, _ = call("/users", Body(10))
    assert status == 200
    assert headers["content-security-policy"] == (
        "frame-ancestors https://dash.example.com; object-src 'none'; base-uri 'self'"
    )
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in headers


def test_hsts_when_served_over_https(monkeypatch):
    _, headers, _ = call("/users", Body(10), scheme="https")
    assert headers["strict-transport-security"].startswith("max-age=")
    monkeypatch.setenv("REFLEX_DEPLOY_URL", "https://bulk-upload.example.com")  # behind a TLS proxy
    _, headers, _ = call("/users", Body(10))
    assert "strict-transport-security" in headers


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    body = Body(500 * MB)
    status, headers, _ = call("/_upload", body, headers=[(b"content-length", str(500 * MB).encode())])
    assert status == 413 and headers["connection"] == "close" and body.pulled == 0
    assert headers["x-content-type-options"] == "nosniff"


def test_a_body_growing_past_the_limit_stops_being_read():
    body = Body(500 * MB)  # chunked: no length declared
    status, headers, sent = call("/_upload", body)
    assert status == 413 and headers["connection"] == "close"
    assert body.pulled <= 1 * MB + FORM_OVERHEAD_BYTES + 64 * 1024
    assert b"too large" in sent[-1]["body"]


def test_an_upload_within_the_limit_is_read_whole():
    body = Body(MB // 2)
    status, _, _ = call("/_upload", body, headers=[(b"content-length", str(MB // 2).encode())])
    assert status == 200 and body.pulled == MB // 2


def test_other_paths_have_no_size_cut_off():
    body = Body(5 * MB)
    status, _, _ = call("/_event", body)
    assert status == 200 and body.pulled == 5 * MB
