"""Demo mode versus production, seen from outside: what is served, the headers, the sign-in
token's life in the address bar, the upload size cut-off on the real server, accessibility at
first paint and in embed mode."""

from __future__ import annotations

import http.client
import socket
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from bulk_upload_app.ui.wizard.upload import UploadState
from tests.support.app_server import demo_admin_ids
from tests.support.browser import CONNECTION_PROBE, axe_violations, wait_connected
from tests.support.dashboard import e2e_token

pytestmark = pytest.mark.browser
MB = 1024 * 1024


def test_the_demo_badge_shows_in_demo_mode_only(page, app_server):
    page.goto("/users")
    wait_connected(page)
    badge = page.locator("#demo-badge")
    if app_server.mode.demo:
        expect(badge).to_be_visible()
        expect(badge).to_contain_text("Demo")
    else:
        expect(page.get_by_role("heading", name="Users")).to_be_visible()
        expect(badge).to_have_count(0)


@pytest.mark.production_only  # demo mode serves the seat shop on purpose (test_legacy_dashboard.py)
def test_production_serves_no_demo_seat_shop(page, app_server):
    page.goto("/legacy-dashboard")
    wait_connected(page)
    expect(page.get_by_role("button", name="Add seats")).to_have_count(0)
    expect(page.get_by_role("spinbutton", name="Seats to add")).to_have_count(0)


@pytest.mark.parametrize("path", ["/", "/users", "/ping", "/app.css", "/users/bulk-upload"])
def test_every_response_carries_the_security_headers(app_server, path):
    with urllib.request.urlopen(app_server.base_url + path, timeout=20) as response:
        headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors http://127.0.0.1:" in csp and "object-src 'none'" in csp and "base-uri 'self'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in headers  # plain http here; see tests/unit/test_http_guard.py


def test_cors_answers_the_apps_origin_and_the_dashboard_only(app_server):
    def allowed(origin: str) -> str | None:
        request = urllib.request.Request(app_server.base_url + "/ping", headers={"Origin": origin})
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.headers.get("Access-Control-Allow-Origin")

    assert allowed(app_server.base_url) == app_server.base_url
    assert allowed("https://evil.example.com") is None


def test_the_sign_in_token_leaves_the_address_and_the_tab_stays_signed_in(browser, app_server):
    context = browser.new_context(base_url=app_server.base_url)
    context.add_init_script(CONNECTION_PROBE)
    try:
        page = context.new_page()
        page.goto(f"/users?token={e2e_token(*demo_admin_ids(app_server))}")
        page.wait_for_function("() => !new URLSearchParams(window.location.search).has('token')")
        assert "token=" not in page.url
        expect(page.get_by_role("link", name="Bulk user upload")).to_be_visible()
        page.reload()  # the spent token is gone from the address; the tab's sign-in remains
        wait_connected(page)
        expect(page.get_by_role("link", name="Bulk user upload")).to_be_visible()
        assert page.evaluate("() => document.querySelector('meta[name=referrer]').content") == "no-referrer"
    finally:
        context.close()


def _upload_request(app_server, headers: dict[str, str]) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", app_server.port), timeout=30)
    lines = [
        "POST /_upload HTTP/1.1",
        f"Host: 127.0.0.1:{app_server.port}",
        "Reflex-Client-Token: e2e-no-such-tab",
        f"Reflex-Event-Handler: {UploadState.get_full_name()}.receive_file",
        "Content-Type: multipart/form-data; boundary=xyz",
        *[f"{k}: {v}" for k, v in headers.items()],
        "",
        "",
    ]
    sock.sendall("\r\n".join(lines).encode())
    return sock


def _status_of(sock: socket.socket) -> int:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status


def test_a_declared_500_mb_upload_is_refused_before_its_body(app_server):
    sock = _upload_request(app_server, {"Content-Length": str(500 * MB)})
    try:
        started = time.monotonic()
        assert _status_of(sock) == 413
        assert time.monotonic() - started < 10  # answered without a byte of the body
    finally:
        sock.close()


def test_a_streamed_upload_stops_being_read_past_the_limit(app_server):
    """Chunked, no length: the server stops reading at the limit (100 MB + form room) and closes;
    before http_guard it read all 500 MB."""
    sock = _upload_request(app_server, {"Transfer-Encoding": "chunked"})
    piece = b"x" * (256 * 1024)
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    sent = 0
    try:
        with pytest.raises(OSError):  # the server closes on us (reset / broken pipe)
            while sent < 500 * MB:
                sock.sendall(chunk)
                sent += len(piece)
        assert sent < 160 * MB, f"{sent / MB:.0f} MB were read before the server stopped"
    finally:
        sock.close()


def test_a_page_at_first_paint_and_in_embed_mode_passes_axe(browser, app_server):
    context = browser.new_context(base_url=app_server.base_url, viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        page.goto(
            f"/users/bulk-upload?embed=1&token={e2e_token(*demo_admin_ids(app_server))}", wait_until="domcontentloaded"
        )
        found, report = axe_violations(page)  # before the app is connected: the loading state
        assert not found, "first paint: " + report
        expect(page.get_by_role("heading", name="Download template")).to_be_visible()
        found, report = axe_violations(page)
        assert not found, "embed mode: " + report
    finally:
        context.close()
