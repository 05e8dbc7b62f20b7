"""Production mode (PostgreSQL + Redis + 2 Granian workers): the workers really share the work.

Which worker served what:
- HTTP: the server runs with BULK_UPLOAD_WORKER_HEADER=1, so every response carries
  `X-Bulk-Upload-Worker: <pid>`.
- the websocket: Granian ignores headers on the websocket handshake, so we read what Reflex
  itself writes to Redis when a tab's socket connects: `token_manager_socket_record_<tab token>`
  holds the `instance_id` of the worker process that owns the socket (a fresh id per worker
  start). The tab's token is the page's sessionStorage["token"].
The kernel spreads new connections over the workers, so a test that needs "another worker"
opens new connections until one lands there.

Run only in the `postgres-redis-2-workers` mode of `app_server` (skipped in `sqlite-1-worker`).
"""

from __future__ import annotations

import urllib.request
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from sqlalchemy import select

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.models import User
from tests.support.app_server import demo_admin_ids
from tests.support.browser import CONNECTION_PROBE, wait_connected
from tests.support.dashboard import e2e_token
from tests.support.factories import new_company, unique, users_file
from tests.support.services import socket_owner
from tests.support.wizard_page import cell, counts, set_free_seats, upload

pytestmark = pytest.mark.browser
PRODUCTION_ONLY = True  # conftest skips these tests in the sqlite-1-worker mode (before starting that server)
HEADER = "x-bulk-upload-worker"
TRIES = 10  # new connections to land on the other worker: (1/2)^10 if the kernel picks at random


def ping_worker(base_url: str) -> int:
    request = urllib.request.Request(base_url + "/ping", headers={"Connection": "close"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.headers[HEADER])


class Tab:
    """A browser context + page that can tell which worker its websocket landed on."""

    def __init__(self, browser, app_server) -> None:
        self.redis_url = app_server.redis_url
        self.app_server = app_server
        self.signed_in = app_server.mode.demo  # production: the first page needs a dashboard token
        self.context = browser.new_context(base_url=app_server.base_url, viewport={"width": 1280, "height": 900})
        self.context.add_init_script(CONNECTION_PROBE)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)

    def worker(self) -> str:
        """The worker (instance id) that holds this page's websocket now."""
        for _ in range(100):
            token = self.page.evaluate("() => window.sessionStorage.getItem('token')")
            if token and (owner := socket_owner(self.redis_url, token)):
                return owner
            self.page.wait_for_timeout(100)
        raise AssertionError(f"no socket record in Redis for the tab on {self.page.url}")

    def goto(self, url: str) -> str:
        """Open url, wait for the websocket; returns the worker it landed on."""
        if not self.signed_in and "token=" not in url:
            url += ("&" if "?" in url else "?") + f"token={e2e_token(*demo_admin_ids(self.app_server))}"
        self.signed_in = True
        self.page.goto(url)
        wait_connected(self.page)
        return self.worker()

    def reload(self) -> str:
        self.page.reload()
        wait_connected(self.page)
        return self.worker()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tabs(browser, app_server):
    opened: list[Tab] = []

    def open_tab() -> Tab:
        opened.append(Tab(browser, app_server))
        return opened[-1]

    yield open_tab
    for tab in opened:
        tab.close()


def test_two_worker_processes_serve_the_app(app_server):
    seen: Counter[int] = Counter()
    for _ in range(5):
        with ThreadPoolExecutor(8) as pool:
            seen.update(pool.map(lambda _: ping_worker(app_server.base_url), range(40)))
        if len(seen) >= 2:
            break
    group = app_server.group_pids()
    assert len(seen) == app_server.workers, f"workers seen {dict(seen)}; server's processes {sorted(group)}"
    assert set(seen) <= group, f"{set(seen)} are not processes of the server ({sorted(group)})"
    assert app_server.pid not in seen  # `reflex run` itself only supervises


def _draft_with_an_edit_and_settings(page, tmp_path, tag: str) -> tuple[str, bool]:
    """Upload 3 rows (one bad email), fix it, go to the settings and change two.

    Returns the draft's path and the "Send SMS" value set.
    """
    rows = [(f"W{i}", "Worker", f"w{i}.{tag}@example.com", "+44", "") for i in range(3)]
    rows[1] = ("W1", "Worker", f"w1.{tag}@example", "+44", "")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Upload files")).to_be_visible()
    upload(page, users_file(tmp_path, rows))
    counts(page, 3, 2, 1)
    cell(page, "email", 3).fill(f"w1-fixed.{tag}@example.com")
    cell(page, "email", 3).press("Tab")
    counts(page, 3, 3, 0)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("switch", name="Use company settings (default)").click()
    sms = page.get_by_role("switch", name="Send SMS")
    expect(sms).to_be_visible()
    sms_on = sms.get_attribute("aria-checked") != "true"
    sms.click()
    expect(sms).to_have_attribute("aria-checked", "true" if sms_on else "false")
    return urlsplit(page.url).path, sms_on


def _expect_same_draft(page, tag: str, sms_on: bool) -> None:
    """The draft as _draft_with_an_edit_and_settings left it: settings step, its settings, rows, the edit."""
    expect(page.get_by_role("tab", name="Advanced settings")).to_be_visible()
    expect(page.get_by_role("switch", name="Use company settings (default)")).not_to_be_checked()
    expect(page.get_by_role("switch", name="Send SMS")).to_have_attribute("aria-checked", str(sms_on).lower())
    page.get_by_role("button", name="Back").click()
    counts(page, 3, 3, 0)
    expect(cell(page, "email", 3)).to_have_value(f"w1-fixed.{tag}@example.com")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("tab", name="Advanced settings")).to_be_visible()


def _land_elsewhere(step, avoid: str) -> str:
    for _ in range(TRIES):
        worker = step()
        if worker != avoid:
            return worker
    raise AssertionError(f"{TRIES} new websockets all landed on worker {avoid}")


def test_a_draft_continues_on_another_worker(tabs, app_server, tmp_path):
    """Signed in by a token: a reload on the other worker keeps the sign-in (Redis state), and
    another browser, on the other worker, continues the same draft and creates its users."""
    company = new_company(app_server.db_url, 50, name=unique("Embed Co"))
    tag = unique("workers")
    first = tabs()
    first_worker = first.goto(f"/users/bulk-upload?token={e2e_token(company, 7)}")
    expect(first.page.get_by_role("heading", name="Download template")).to_be_visible()
    draft, sms_on = _draft_with_an_edit_and_settings(first.page, tmp_path, tag)
    assert draft.startswith("/users/bulk-upload/"), draft

    # Same tab, reloaded: its token was spent, so only the tab's state (in Redis) still signs it in.
    _land_elsewhere(first.reload, avoid=first_worker)
    expect(first.page.locator("#sign-in-error")).to_have_count(0)
    _expect_same_draft(first.page, tag, sms_on)

    # Another browser (a new sign-in token each try) until its websocket is on the other worker.
    def other_browser() -> int:
        tab = tabs()
        other.append(tab)
        return tab.goto(f"{draft}?token={e2e_token(company, 7)}")

    other: list[Tab] = []
    _land_elsewhere(other_browser, avoid=first_worker)
    second = other[-1].page
    _expect_same_draft(second, tag, sms_on)
    second.get_by_role("button", name="Create users").click()
    second.get_by_role("alertdialog").get_by_role("button", name="Confirm").click()
    expect(second.get_by_text("3 users added")).to_be_visible(timeout=60_000)
    with session_scope(get_engine(app_server.db_url), read_only=True) as session:
        users = session.exec(select(User).where(User.company_id == company).order_by(User.email)).scalars().all()
    assert [u.email for u in users] == sorted(f"{n}.{tag}@example.com" for n in ("w0", "w1-fixed", "w2"))
    assert all(u.settings["sms"] is sms_on for u in users), [u.settings for u in users]


def test_a_draft_survives_a_server_restart(tabs, app_server, tmp_path):
    set_free_seats(app_server.db_url, 50)
    tag = unique("restart")
    tab = tabs()
    tab.goto("/users/bulk-upload")
    expect(tab.page.get_by_role("heading", name="Download template")).to_be_visible()
    draft, sms_on = _draft_with_an_edit_and_settings(tab.page, tmp_path, tag)
    old_group = app_server.group_pids()

    took = app_server.restart()
    assert not (old_group & app_server.group_pids()), "a process of the old server is still running"
    print(f"restart: the app answered again after {took:.1f} s")

    tab.reload()  # the same tab: its state is in Redis, its draft in PostgreSQL
    signed_out = tab.page.locator("#sign-in-error")
    try:
        signed_out.wait_for(state="visible", timeout=3_000)
    except PlaywrightTimeout:
        pass
    else:
        # Seen under heavy load (3 of ~9 runs): the tab's sign-in did not survive the restart, though
        # its draft did. The admin then reopens the page from the dashboard, as here; the closing note
        # of session 2 asks for the cause (Reflex's Redis state across a restart).
        warnings.warn("the tab's sign-in was lost across the restart; signed in again", stacklevel=1)
        tab.signed_in = False
        tab.goto(draft)
    _expect_same_draft(tab.page, tag, sms_on)
    fresh = tabs()  # and a new browser, to the draft's URL
    fresh.goto(draft)
    _expect_same_draft(fresh.page, tag, sms_on)
    fresh.page.get_by_role("button", name="Create users").click()
    fresh.page.get_by_role("alertdialog").get_by_role("button", name="Confirm").click()
    expect(fresh.page.get_by_text("3 users added")).to_be_visible(timeout=60_000)
