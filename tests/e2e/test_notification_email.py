"""A batch created with failures in the browser emails its uploader: the message arrives at the
test's own SMTP server (aiosmtpd), read as a mail client would; the app's notices follow it."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from bulk_upload_app.db import get_engine
from bulk_upload_app.importer import outbox
from bulk_upload_app.importer.report import REPORT_HEADER
from bulk_upload_app.seed import DEMO_ADMIN_EMAIL
from bulk_upload_app.settings import load_settings
from tests.e2e.test_history import demo_put_back  # noqa: F401 (fixture)
from tests.e2e.test_wizard import counts, create_and_confirm, open_upload_step, set_free_seats, upload, users_file
from tests.support.app_server import demo_admin_ids, server_env
from tests.support.browser import axe_violations, screenshot, wait_connected
from tests.support.dashboard import e2e_token

pytestmark = pytest.mark.browser

# Sent by the app right after the batch, or by a worker once the job queue delivers it.
ARRIVES_WITHIN_SECONDS = 60


def test_a_batch_with_failures_emails_its_uploader_and_the_app_shows_it_finished(
    page,
    app_server,
    mail_inbox,
    tmp_path,
    demo_put_back,  # noqa: F811
):
    tag = uuid.uuid4().hex[:8]
    if app_server.mode.demo:
        address = DEMO_ADMIN_EMAIL  # the demo sign-in's admin
    else:  # the dashboard's token carries the admin's address in its `email` claim
        address = f"admin.{tag}@example.com"
        page.goto(f"/users?token={e2e_token(*demo_admin_ids(app_server), email=address)}")
        page.locator("#sign-in-checked").wait_for(state="attached")
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
    mail_page.set_viewport_size({"width": 760, "height": 900})
    mail_page.set_content(received.html())
    expect(mail_page.get_by_role("heading", name=f"Bulk upload of “{name}”: Created with failures")).to_be_visible()
    if app_server.mode.demo:
        screenshot(mail_page, "13-email")
    mail_page.close()
