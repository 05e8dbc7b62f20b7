"""Upload history, the results file and undo, clicked through as an admin would; and company B's
uploads out of reach by URL and by crafted events."""

from __future__ import annotations

import csv
import io
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.models import (
    BulkUpload,
    Company,
    User,
)
from bulk_upload_app.seed import DEMO_COMPANY
from bulk_upload_app.uploads import creating, pipeline
from tests.support.browser import REWRITER, axe_violations, record_frames, screenshot, wait_connected
from tests.support.factories import users_file
from tests.support.wizard_page import REFUSAL, counts, create_and_confirm, open_upload_step, set_free_seats, upload

pytestmark = pytest.mark.browser


def demo_company_id(db_url: str) -> int:
    with session_scope(get_engine(db_url), read_only=True) as session:
        return session.exec(select(Company.id).where(Company.name == DEMO_COMPANY)).scalars().one()


def user_count(db_url: str, company_id: int) -> int:
    with session_scope(get_engine(db_url), read_only=True) as session:
        return session.exec(select(func.count()).select_from(User).where(User.company_id == company_id)).scalar_one()


def test_upload_with_failures_then_history_results_file_and_undo(page, app_server, tmp_path, demo_put_back):
    set_free_seats(app_server.db_url, 50)
    company = demo_company_id(app_server.db_url)
    before = user_count(app_server.db_url, company)
    tag = uuid.uuid4().hex[:8]
    rows = [(f"Hi{i}", "Story", f"hi{i}.{tag}@example.com", "+44", "") for i in range(3)]
    rows.append(("Bad", "Story", "not-an-email", "+44", ""))
    name = f"history-{tag}.csv"
    open_upload_step(page)
    upload(page, users_file(tmp_path, rows, name=name))
    counts(page, 4, 3, 1)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("tab", name="Advanced settings")).to_be_visible()
    create_and_confirm(page, 3)
    result_url = page.url

    # The history, from the result page: newest first, with a plain status.
    page.get_by_role("link", name="All bulk uploads").click()
    expect(page.get_by_role("heading", name="Bulk uploads")).to_be_visible()
    table = page.get_by_role("table", name="Bulk uploads")
    first = table.get_by_role("row").nth(1)
    expect(first).to_contain_text(name)
    expect(first).to_contain_text("Created with failures")
    expect(first).to_contain_text("wizard")
    found, axe_report = axe_violations(page)
    assert not found, axe_report
    screenshot(page, "11-history")

    # The results file: every row with its outcome and code, the file's columns first.
    with page.expect_download() as got:
        page.get_by_role("button", name=f"Download results (CSV) of {name}").click()
    report = list(csv.reader(io.StringIO(Path(got.value.path()).read_text(encoding="utf-8-sig"))))
    assert report[0] == [
        "firstname",
        "lastname",
        "email",
        "countryprefix",
        "phone",
        "row",
        "outcome",
        "error_code",
        "error_message",
    ]
    assert [(r[2], r[6], r[7]) for r in report[1:]] == [
        *[(f"hi{i}.{tag}@example.com", "created", "") for i in range(3)],
        ("not-an-email", "not created (errors)", "INVALID_EMAIL"),
    ]

    # The filter narrows the list to that status.
    page.get_by_role("combobox", name="Filter by status").click()
    page.get_by_role("option", name="Undone", exact=True).click()
    expect(page.get_by_text("No bulk uploads with this status.")).to_be_visible()
    page.get_by_role("combobox", name="Filter by status").click()
    page.get_by_role("option", name="Created with failures").click()
    expect(table.get_by_role("row").nth(1)).to_contain_text(name)

    # Open it again: its result page, with Undo and a preview first.
    table.get_by_role("link", name=name).click()
    expect(page).to_have_url(result_url)
    expect(page.get_by_text("3 users added")).to_be_visible()
    page.get_by_role("button", name="Undo this upload").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("3 users will be removed")
    # Radix fades the dialog in: measured mid-fade its buttons are paler than they end up.
    page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')")
    found, axe_report = axe_violations(page)  # the preview dialog over the result page
    assert not found, axe_report
    screenshot(page, "12-undo-preview")
    dialog.get_by_role("button", name="Remove users").click()
    expect(page.locator("#undo-result")).to_contain_text("This upload was undone. 3 users were removed")
    expect(page.get_by_role("button", name="Undo this upload")).to_have_count(0)
    assert user_count(app_server.db_url, company) == before

    # The users page and its seat count: the users are gone, their seats free again.
    page.get_by_role("link", name="View users").click()
    expect(page.get_by_text(re.compile(rf"Seats used:\s*{before} / {before + 50}"))).to_be_visible()
    expect(page.get_by_text(f"hi0.{tag}@example.com")).to_have_count(0)
    page.get_by_role("link", name="Bulk uploads").click()
    expect(page.get_by_role("table", name="Bulk uploads").get_by_role("row").nth(1)).to_contain_text("Undone")


@pytest.fixture
def company_b_upload(app_server):
    """Company B with a finished upload of 2 users whose names say they are B's."""
    engine = get_engine(app_server.db_url)
    tag = uuid.uuid4().hex[:8]
    secret = f"Quokka{tag}"
    with session_scope(engine) as session:
        company = Company(name=f"Company B {tag}", seats=10, default_settings={})
        session.add(company)
        session.flush()
        company_id = company.id
    data = (
        "firstname,lastname,email,countryprefix,phone\n"
        + "".join(f"{secret}{i},Bsecret,q{i}-{tag}@b.example.com,+44,\n" for i in range(2))
    ).encode()
    upload_id = pipeline.draft_from_file(
        engine, company_id=company_id, admin_user_id=None, file_name=f"{secret}.csv", data=data, limits=ReadLimits()
    )
    creating.create_users(engine, company_id, upload_id)
    return {"company_id": company_id, "upload_id": upload_id, "secret": secret}


def b_state(db_url: str, b: dict):
    with session_scope(get_engine(db_url), read_only=True) as session:
        upload = session.get(BulkUpload, b["upload_id"])
        users = session.exec(select(User.email).where(User.company_id == b["company_id"]).order_by(User.email)).all()
        return upload.status, upload.version, [tuple(u) for u in users]


def test_company_b_uploads_are_out_of_reach_by_url_and_by_crafted_events(
    page, app_server, company_b_upload, tmp_path, demo_put_back
):
    b = company_b_upload
    before = b_state(app_server.db_url, b)
    page.context.add_init_script(REWRITER)
    frames = record_frames(page)

    # By URL: B's finished upload (its result page, Undo, downloads) is "not found".
    page.goto(f"/users/bulk-upload/{b['upload_id']}")
    wait_connected(page)
    expect(page.get_by_role("alert")).to_contain_text(REFUSAL)
    expect(page.get_by_role("button", name="Undo this upload")).to_have_count(0)

    # The history lists only A's uploads; one of A's with a failed row gives a real download event.
    set_free_seats(app_server.db_url, 50)
    tag = uuid.uuid4().hex[:8]
    name = f"mine-{tag}.csv"
    open_upload_step(page)
    upload(
        page,
        users_file(
            tmp_path, [("Own", "Row", f"own.{tag}@example.com", "+44", ""), ("X", "Y", "bad", "+44", "")], name=name
        ),
    )
    counts(page, 2, 1, 1)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("tab", name="Advanced settings")).to_be_visible()
    create_and_confirm(page, 1)
    page.goto("/users/bulk-uploads")
    wait_connected(page)
    expect(page.get_by_role("table", name="Bulk uploads")).to_contain_text(name)
    expect(page.get_by_role("table", name="Bulk uploads")).not_to_contain_text(b["secret"])

    from bulk_upload_app.ui.history import HistoryState

    download = f"{HistoryState.get_full_name()}.download"
    for kind, button in (("results", "Download results (CSV)"), ("failed", "Download failed rows (CSV)")):
        downloads: list = []
        listener = lambda d, got=downloads: got.append(d)  # noqa: E731
        page.on("download", listener)
        page.evaluate(
            "([n, p]) => window.__rewrites.push({ name: n, payload: p })",
            [download, {"upload_id": b["upload_id"], "kind": kind, "fmt": "csv"}],
        )
        page.get_by_role("button", name=f"{button} of {name}").click()
        page.wait_for_function("() => window.__rewrites.length === 0")
        expect(page.get_by_role("status").filter(has_text=REFUSAL)).to_be_visible()
        page.wait_for_timeout(1000)
        assert downloads == [], f"a {kind} file of company B was downloaded"
        page.remove_listener("download", listener)
    sent = page.evaluate("() => window.__sent.map(e => [e.name, e.payload.upload_id])")
    assert [download, b["upload_id"]] in sent, sent  # the crafted events did go out

    assert b_state(app_server.db_url, b) == before
    html = page.content()
    assert b["secret"] not in html and not any(b["secret"] in f for f in frames)
