"""The Match columns step (issue 12), walked by role and name as an admin with a keyboard or a
screen reader would: exports of Google Workspace, Microsoft 365 and Okta, and a wrong guess corrected."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.models import Company
from bulk_upload_app.seed import DEMO_COMPANY
from tests.support.browser import wait_connected
from tests.support.exports import google_workspace_csv, microsoft_365_csv, okta_csv
from tests.support.wizard_page import counts, open_upload_step, set_free_seats, upload

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _seats_put_back(app_server):
    """These tests create no users (later tests count the demo company's users); the seats go back too."""
    with session_scope(get_engine(app_server.db_url)) as session:
        company = session.exec(select(Company).where(Company.name == DEMO_COMPANY)).scalars().one()
        seats = company.seats
    yield
    with session_scope(get_engine(app_server.db_url)) as session:
        company = session.exec(select(Company).where(Company.name == DEMO_COMPANY)).scalars().one()
        company.seats = seats


def select_for(page, title: str):
    return page.get_by_role("combobox", name=f"Import “{title}” as", exact=True)


@pytest.mark.parametrize(
    "build,email_title",
    [
        (google_workspace_csv, "Email Address [Required]"),
        (microsoft_365_csv, "User principal name"),
        (okta_csv, "email"),
    ],
)
def test_an_export_is_matched_with_our_guess_and_every_user_is_valid(page, app_server, tmp_path, build, email_title):
    set_free_seats(app_server.db_url, 50)
    path = tmp_path / f"{build.__name__}.csv"
    path.write_bytes(build(domain=f"{uuid.uuid4().hex[:8]}.example.com"))
    open_upload_step(page)
    upload(page, path)
    expect(page.get_by_role("heading", name="Match columns")).to_be_visible(timeout=30_000)
    expect(select_for(page, email_title)).to_have_text("Email (required)")
    page.get_by_role("button", name="Continue").click()
    counts(page, 3, 3, 0)
    expect(page.get_by_text("country prefix was derived", exact=False).first).to_be_visible()


def test_a_wrong_guess_is_corrected_then_remembered(page, app_server, tmp_path):
    from tests.support.browser import axe_violations, screenshot

    set_free_seats(app_server.db_url, 50)
    tag = uuid.uuid4().hex[:8]
    header = "Vorname,Nachname,E-Mail privat,E-Mail geschäftlich,Land"
    rows = [
        f"Max{i},Muster,max{i}.{tag}@gmail.example.com,max{i}.{tag}@firma.example.com,Deutschland" for i in range(2)
    ]
    path = tmp_path / "mitarbeiter.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    open_upload_step(page)
    upload(page, path)
    expect(page.get_by_role("heading", name="Match columns")).to_be_visible(timeout=30_000)
    table = page.get_by_role("table", name="Columns of your file")
    expect(table.get_by_role("rowheader", name="E-Mail geschäftlich")).to_be_visible()
    # Our guess: the first column of addresses, the private one. The admin wants the work address.
    expect(select_for(page, "E-Mail privat")).to_have_text("Email (required)")
    expect(select_for(page, "Land")).to_have_text("Don't import")
    found, report = axe_violations(page)
    assert not found, report
    screenshot(page, "10-match-columns")

    work = select_for(page, "E-Mail geschäftlich")
    work.focus()
    page.keyboard.press("Enter")  # keyboard only: open, pick, confirm
    page.get_by_role("option", name="Email (required)").press("Enter")
    expect(work).to_have_text("Email (required)")
    status = page.get_by_role("status").filter(has_text="one column only")
    expect(status).to_contain_text("Each field can be matched to one column only: Email.")
    expect(page.get_by_role("button", name="Continue")).to_be_disabled()
    found, report = axe_violations(page)
    assert not found, report

    select_for(page, "E-Mail privat").click()
    page.get_by_role("option", name="Don't import").click()
    expect(page.get_by_role("button", name="Continue")).to_be_enabled()
    page.get_by_role("button", name="Continue").click()
    counts(page, 2, 2, 0)
    expect(page.get_by_role("textbox", name="email of row 2", exact=True)).to_have_value(
        f"max0.{tag}@firma.example.com"
    )
    prefix = page.get_by_role("textbox", name="countryprefix of row 2", exact=True)
    expect(prefix).to_have_value("+49")  # derived from "Land", and editable
    # Marked in the grid: the column's header, and each derived cell is described as such.
    expect(page.get_by_role("columnheader", name="countryprefix derived")).to_be_visible()
    expect(prefix).to_have_accessible_description(re.compile("derived from the file's other columns"))
    expect(page.get_by_text('derived from the column "Land"', exact=False)).to_be_visible()
    expect(page.get_by_text('"E-Mail geschäftlich" → email', exact=False).first).to_be_visible()

    # The same titles again: matched as the admin did, told in a notice, no Match step.
    rows = [
        f"Eva{i},Muster,eva{i}.{tag}@gmail.example.com,eva{i}.{tag}@firma.example.com,Deutschland" for i in range(2)
    ]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    page.goto("/users")
    wait_connected(page)
    open_upload_step(page)
    upload(page, path)
    counts(page, 2, 2, 0)
    expect(page.get_by_text("matched them last time", exact=False)).to_be_visible()
    expect(page.get_by_role("textbox", name="email of row 2", exact=True)).to_have_value(
        f"eva0.{tag}@firma.example.com"
    )
