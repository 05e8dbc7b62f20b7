"""A batch created with failures in the browser emails its uploader: the message arrives at the
test's own SMTP server (aiosmtpd), read as a mail client would; the app's notices follow it."""

from __future__ import annotations

import html
import time
import uuid

import pytest
from playwright.sync_api import expect

from bulk_upload_app.db import get_engine
from bulk_upload_app.delivery import outbox
from bulk_upload_app.seed import DEMO_ADMIN_EMAIL
from bulk_upload_app.settings import load_settings
from bulk_upload_app.uploads.report import REPORT_HEADER
from tests.support.app_server import demo_admin_ids, server_env
from tests.support.browser import axe_violations, screenshot, wait_connected
from tests.support.dashboard import e2e_token
from tests.support.factories import users_file
from tests.support.wizard_page import counts, create_and_confirm, open_upload_step, set_free_seats, upload

pytestmark = pytest.mark.browser


def mail_client_view(received) -> str:
    """The message as a mail client shows it: its headers and attachment above its HTML part."""
    e = html.escape
    headers = "".join(
        f"<div><b>{label}:</b> {e(str(value))}</div>"
        for label, value in (
            ("From", received.message["From"]),
            ("To", received.message["To"]),
            ("Subject", received.subject),
            ("Attached", ", ".join(n for n, _ in received.attachments())),
        )
    )
    return (
        "<!doctype html><html lang='en'><body style='margin:0;font:14px system-ui,sans-serif'>"
        f"<div style='background:#f0f0f3;padding:12px 16px;line-height:1.6'>{headers}</div>"
        f"<iframe id='mail-body' title='The email' srcdoc='{e(received.html(), quote=True)}' "
        "style='width:100%;height:560px;border:0'></iframe></body></html>"
    )


# Sent by the app right after the batch, or by a worker once the job queue delivers it.
ARRIVES_WITHIN_SECONDS = 60


def test_a_batch_with_failures_emails_its_uploader_and_the_app_shows_it_finished(
    page,
    app_server,
    mail_inbox,
    tmp_path,
    demo_put_back,
):
    tag = uuid.uuid4().hex[:8]
    if app_server.mode.demo:
        address = DEMO_ADMIN_EMAIL  # the demo sign-in's admin
    else:  # the dashboard's token carries the admin's address in its `email` claim
        address = f"admin.{tag}@example.com"
        # A new tab (a new sign-in; the fixture's tab is signed in already, without an address).
        page = page.context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"/users?token={e2e_token(*demo_admin_ids(app_server), email=address)}")
        page.locator("#sign-in-checked").wait_for(state="attached")
        page.wait_for_function("() => !new URLSearchParams(window.location.search).has('token')")
    set_free_seats(app_server.db_url, 50)
    rows = [(f"Mia{i}", "Mail", f"mia{i}.{tag}@example.com", "+44", "") for i in range(3)]
    rows.append(("Bad", "Mail", f"bad.{tag}-at-example.com", "+44", ""))
    name = f"mail-{tag}.csv"
    open_upload_step(page)
    upload(page, users_file(tmp_path, rows, name=name))
    counts(page, 4, 3, 1)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("tab", name="Advanced settings")).to_be_visible()
    create_and_confirm(page, 3)
    result_path = page.url.removeprefix(app_server.base_url)

    # Whoever delivers (the app right after the batch, a worker later), the message arrives once;
    # delivering here too can only find it sent already or send it: the outbox's claim decides.
    settings = load_settings(server_env(app_server.tmp, app_server.port, app_server.mode))
    outbox.deliver_due(get_engine(app_server.db_url), settings=settings)
    (received,) = mail_inbox.wait_for(1, timeout=ARRIVES_WITHIN_SECONDS, subject_contains=name)
    assert received.rcpt_tos == [address]
    assert received.subject == f"Bulk upload “{name}”: Created with failures (3 created, 1 failed)"
    text = received.text()
    assert "Users created:                    3" in text and "Rows that could not be created:   1" in text
    assert "INVALID_EMAIL: 1" in text
    assert f"{app_server.base_url}{result_path}" in text
    attached = received.xlsx_rows()
    assert attached[0] == list(REPORT_HEADER)
    assert [(r[2], r[5], r[6]) for r in attached[1:]] == [(f"bad.{tag}-at-example.com", "5", "INVALID_EMAIL")]

    # The result page says where it went.
    page.reload()
    wait_connected(page)
    expect(page.locator("#email-notification")).to_contain_text(f"Emailed to {address}")

    # Leave, then come back to the Users page: the batch is news there, with a link to it.
    page.goto("/users")
    notice = page.locator("#finished-news")
    expect(notice).to_have_attribute("role", "status")
    expect(notice.get_by_role("link", name=name)).to_have_attribute("href", result_path)

    # The history shows it too, with what became of the email; once looked at, it is no longer news.
    page.get_by_role("link", name="Bulk uploads").click()
    expect(page.locator("#finished-news").get_by_role("link", name=name)).to_be_visible()
    row = page.get_by_role("table", name="Bulk uploads").get_by_role("row").nth(1)
    expect(row).to_contain_text(name)
    expect(row).to_contain_text(f"Emailed to {address}")
    found, axe_report = axe_violations(page)
    assert not found, axe_report
    page.goto("/users")
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    expect(page.locator("#finished-news").get_by_role("link", name=name)).to_have_count(0)

    # The email as the uploader sees it (its HTML part, rendered by the browser), for the README.
    mail_page = page.context.new_page()
    mail_page.set_viewport_size({"width": 760, "height": 700})
    mail_page.set_content(mail_client_view(received))
    body = mail_page.frame_locator("#mail-body")
    expect(body.get_by_role("heading", name=f"Bulk upload of “{name}”: Created with failures")).to_be_visible()
    expect(body.get_by_role("link", name="Open the upload")).to_have_attribute(
        "href", f"{app_server.base_url}{result_path}"
    )
    if app_server.mode.demo:
        screenshot(mail_page, "13-email", full_page=False)
    mail_page.close()

    if app_server.mode.demo:
        # Demo mode: the result page links to the demo mail box, which shows what the local
        # catcher caught (here the message, filed as `bulk-upload mail-catcher` files it).
        caught = app_server.tmp / "mail"
        caught.mkdir(exist_ok=True)
        (caught / f"{time.time_ns() // 1_000_000:013d}-{uuid.uuid4().hex}.eml").write_bytes(received.message.as_bytes())
        page.goto(result_path)
        page.get_by_role("link", name="Read the email in the demo mail box").click()
        expect(page.get_by_role("heading", name="Demo mail box")).to_be_visible()
        expect(page.get_by_role("heading", name=received.subject)).to_be_visible()
        shown = page.frame_locator("#shown-mail")
        expect(shown.get_by_role("heading", name=f"Bulk upload of “{name}”: Created with failures")).to_be_visible()
        found, axe_report = axe_violations(page)
        assert not found, axe_report
        screenshot(page, "demo-mail-box", for_docs=False)
