"""The wizard embedded in the example company dashboard (examples/host), on another origin.

The app server (tests.support.app_server) allows only http://127.0.0.1:EMBED_HOST_PORT to frame it and shares
E2E_JWT_SECRET with the example host, which signs a fresh token on every page load.
"""

from __future__ import annotations

import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.models import User
from bulk_upload_app.seed import DEMO_ADMIN_EMAIL
from bulk_upload_app.settings import environment
from tests.support.app_server import EMBED_HOST_PORT, seat_shop_url
from tests.support.dashboard import E2E_JWT_ISSUER, E2E_JWT_SECRET, e2e_token
from tests.support.factories import new_company, unique, users_file
from tests.support.paths import REPO
from tests.support.processes import StartFailed, free_port, launch, stop_process_group, wait_for_urls
from tests.support.wizard_page import counts

pytestmark = pytest.mark.browser


def _serve_host(port: int, app_url: str, company: int, user: int, log: Path):
    env = {**environment(), "BULK_UPLOAD_JWT_SECRET": E2E_JWT_SECRET, "BULK_UPLOAD_JWT_ISSUER": E2E_JWT_ISSUER}
    command = [sys.executable, str(REPO / "examples" / "host" / "serve.py"), "--port", str(port)]
    command += ["--app-url", app_url, "--company", str(company), "--user", str(user)]
    process = launch(command, log, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_urls(process, [url], what="the example host", timeout=20, log_path=log, interval=0.1)
    except StartFailed as exc:
        stop_process_group(process, log)
        pytest.fail(str(exc))
    return process, url


@pytest.fixture(scope="module")
def demo_admin(app_server):
    with session_scope(get_engine(app_server.db_url), read_only=True) as session:
        user = session.exec(select(User).where(User.email == DEMO_ADMIN_EMAIL)).scalars().one()
        return user.company_id, user.id


@pytest.fixture(scope="module")
def hosts(app_server, demo_admin, tmp_path_factory):
    """The allowed example dashboard and the same page on a foreign origin (another port)."""
    log = tmp_path_factory.mktemp("hosts") / "hosts.log"
    started = [
        _serve_host(EMBED_HOST_PORT, app_server.base_url, *demo_admin, log),
        _serve_host(free_port(), app_server.base_url, *demo_admin, log),
    ]
    try:
        yield started[0][1], started[1][1]
    finally:
        for process, _ in started:
            stop_process_group(process, log)


@pytest.fixture
def host_page(browser, app_server):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def app_frame(page):
    return page.frame_locator("#bulk-upload-frame")


def messages(page, kind: str) -> list[dict]:
    return page.evaluate("(kind) => window.hostMessages.filter(m => m.type === kind)", kind)


def test_the_app_sends_frame_ancestors_and_cors_for_the_dashboard_only(app_server, hosts):
    allowed, foreign = hosts
    for path in ("/", "/users/bulk-upload", "/ping"):
        with urllib.request.urlopen(app_server.base_url + path, timeout=10) as response:
            assert response.headers["Content-Security-Policy"].startswith(f"frame-ancestors {allowed};")
    for origin, allowed_origin in ((allowed, True), (foreign, False)):
        request = urllib.request.Request(app_server.base_url + "/ping", headers={"Origin": origin})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert (response.headers.get("Access-Control-Allow-Origin") == origin) is allowed_origin


def test_the_wizard_works_inside_the_dashboard(host_page, app_server, hosts, tmp_path):
    company = new_company(app_server.db_url, 50, name=unique("Embed Co"))
    tag = unique("embed")
    rows = [(f"Emb{i}", "Framed", f"emb{i}.{tag}@example.com", "+44", f"07400 22345{i}") for i in range(2)]
    host_page.goto(f"{hosts[0]}/?company={company}")
    frame = app_frame(host_page)
    expect(frame.get_by_role("heading", name="Download template")).to_be_visible()
    # embed mode: none of our own header or navigation
    expect(frame.get_by_role("link", name="Contact Center")).to_be_hidden()
    # the host sizes the iframe from our height messages
    host_page.wait_for_function("() => window.hostMessages.some(m => m.type === 'height')")
    frame.get_by_role("button", name="Continue").click()
    expect(frame.get_by_role("heading", name="Upload files")).to_be_visible()
    frame.locator("#users_file input[type=file]").set_input_files(str(users_file(tmp_path, rows)))
    frame.get_by_role("button", name="Upload files").click()
    counts(frame, 2, 2, 0)
    heights = {m["height"] for m in messages(host_page, "height")}
    assert len(heights) >= 2, heights  # it told the host as its height changed
    box = host_page.locator("#bulk-upload-frame").bounding_box()
    assert abs(box["height"] - messages(host_page, "height")[-1]["height"]) <= 2
    assert box["width"] > 1000  # width follows the host
    frame.get_by_role("button", name="Continue").click()
    frame.get_by_role("button", name="Create users").click()
    frame.get_by_role("alertdialog").get_by_role("button", name="Confirm").click()
    expect(frame.get_by_text("2 users added")).to_be_visible(timeout=60_000)
    host_page.wait_for_function("() => window.hostMessages.some(m => m.type === 'batch-created')")
    created = messages(host_page, "batch-created")
    assert len(created) == 1 and created[0]["created"] == 2 and created[0]["failed"] == 0, created
    host_page.wait_for_function("() => window.hostMessages.some(m => m.type === 'batch-finished')")
    finished = messages(host_page, "batch-finished")
    assert finished == [
        {
            "source": "bulk-upload",
            "type": "batch-finished",
            "uploadId": created[0]["uploadId"],
            "created": 2,
            "failed": 0,
            "status": "created",
        }
    ], finished
    with session_scope(get_engine(app_server.db_url), read_only=True) as session:
        emails = session.exec(select(User.email).where(User.company_id == company)).scalars().all()
    assert sorted(emails) == sorted(r[2] for r in rows)


def test_the_legacy_dashboard_opens_in_the_hosts_top_frame(host_page, app_server, hosts, tmp_path):
    company = new_company(app_server.db_url, 0)
    host_page.goto(f"{hosts[0]}/?company={company}")
    frame = app_frame(host_page)
    frame.get_by_role("button", name="Continue").click()
    frame.locator("#users_file input[type=file]").set_input_files(
        str(users_file(tmp_path, [("Leg", "Acy", f"{unique('legacy')}@example.com", "+44", "07400 123999")]))
    )
    frame.get_by_role("button", name="Upload files").click()
    link = frame.locator("#legacy-dashboard-link")
    expect(link).to_be_visible()
    shop = seat_shop_url(app_server)
    host_page.route(
        f"{shop}**",
        lambda route: (
            route.fulfill(content_type="text/html", body="<title>Seats</title>")
            if not app_server.mode.demo
            else route.continue_()
        ),
    )
    link.click()
    # the app only told the host; the host navigated its own top frame
    host_page.wait_for_url(f"{shop}**")


def test_a_foreign_origin_cannot_frame_the_app(host_page, hosts):
    host_page.goto(hosts[1])
    time.sleep(2)
    frame = host_page.frame(url=lambda url: "/users/bulk-upload" in url)
    assert frame is None or not frame.locator("h1").count()
    child = [f for f in host_page.frames if f != host_page.main_frame]
    assert child and all("users/bulk-upload" not in f.url or not f.locator("h1").count() for f in child)
    assert not host_page.evaluate("() => window.hostMessages.length")


@pytest.mark.parametrize("kind", ["expired", "tampered", "wrong-secret", "replayed"])
def test_bad_tokens_are_refused_with_a_clear_message(browser, host_page, hosts, demo_admin, kind):
    company, user = demo_admin
    if kind == "expired":
        token = e2e_token(company, user, now=time.time() - 600, lifetime=60)
        words = "expired"
    elif kind == "tampered":
        head, body, sig = e2e_token(company, user, role="agent").split(".")
        token = f"{head}.{body[:-4]}AAAA.{sig}"
        words = "not valid"
    elif kind == "wrong-secret":
        token = e2e_token(company, user, secret="not-the-shared-secret-" + "z" * 32)
        words = "not valid"
    else:
        token = e2e_token(company, user)
        first = browser.new_context()
        try:
            page = first.new_page()
            page.goto(f"{hosts[0]}/?token={token}")
            expect(app_frame(page).get_by_role("heading", name="Download template")).to_be_visible(timeout=15_000)
        finally:
            first.close()
        words = "already used"
    host_page.goto(f"{hosts[0]}/?token={token}")
    alert = app_frame(host_page).locator("#sign-in-error")
    expect(alert).to_contain_text(words)
    expect(app_frame(host_page).get_by_role("heading", name="Download template")).to_be_hidden()


def test_a_role_other_than_admin_gets_the_only_admins_page(host_page, hosts):
    host_page.goto(f"{hosts[0]}/?role=agent")
    expect(app_frame(host_page).get_by_text("Only admins can add users")).to_be_visible()


def test_the_host_renews_the_sign_in_by_posting_a_fresh_token(host_page, app_server, hosts):
    """README "Embedding": {source: "bulk-upload-host", type: "renew-token", token} from the
    configured parent is spent as a new sign-in (its jti is recorded), and the frame keeps working."""
    import jwt

    from bulk_upload_app.models import UsedToken

    host_page.goto(hosts[0])
    frame = app_frame(host_page)
    expect(frame.get_by_role("heading", name="Download template")).to_be_visible()
    expect(host_page.locator("#bulk-upload-frame")).not_to_have_attribute("src", "")
    token = host_page.evaluate("() => fetch('/token').then(r => r.json()).then(d => d.token)")
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    host_page.evaluate(
        """([token, origin]) => document.getElementById('bulk-upload-frame').contentWindow
        .postMessage({source: 'bulk-upload-host', type: 'renew-token', token}, origin)""",
        [token, app_server.base_url],
    )

    def spent() -> bool:
        with session_scope(get_engine(app_server.db_url), read_only=True) as session:
            return session.get(UsedToken, jti) is not None

    for _ in range(100):
        if spent():
            break
        host_page.wait_for_timeout(100)
    assert spent(), "the renewed token was never accepted"
    frame.get_by_role("button", name="Continue").click()
    expect(frame.get_by_role("heading", name="Upload files")).to_be_visible()
    # The address inside the frame no longer holds any token.
    assert "token=" not in host_page.frames[1].url
