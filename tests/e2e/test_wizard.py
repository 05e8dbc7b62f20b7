"""The Bulk user upload wizard, clicked through as an admin would, on the production build."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
from playwright.sync_api import expect
from sqlalchemy import select, text

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.models import (
    Company,
    Group,
    GroupMember,
    OutboundNumber,
    Skill,
    User,
    UserOutboundNumber,
    UserSkill,
)
from tests.support.app_server import seat_shop_url
from tests.support.browser import screenshot, wait_connected
from tests.support.factories import unique, users_file
from tests.support.wizard_page import cell, counts, create_and_confirm, open_upload_step, set_free_seats, upload

pytestmark = pytest.mark.browser


def test_happy_path_creates_exactly_these_users_with_these_settings(page, app_server, tmp_path):
    set_free_seats(app_server.db_url, 50)
    tag = unique("happy")
    rows = [(f"Ann{i}", "Happy", f"ann{i}.{tag}@example.com", "+44", f"07400 12345{i}") for i in range(3)]
    open_upload_step(page)
    with page.expect_download() as csv_download:
        page.get_by_role("button", name="Back").click()
        page.get_by_role("button", name="Download template (CSV)").click()
    assert csv_download.value.suggested_filename == "bulk-user-upload-template.csv"
    with page.expect_download() as xlsx_download:
        page.get_by_role("button", name="Download template (Excel)").click()
    saved = tmp_path / "template.xlsx"
    xlsx_download.value.save_as(saved)
    book = openpyxl.load_workbook(saved)
    assert [c.value for c in book.worksheets[0][1]] == ["firstname", "lastname", "email", "countryprefix", "phone"]
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("combobox", name="User type for this batch").click()
    page.get_by_role("option", name="Supervisor").click()
    upload(page, users_file(tmp_path, rows))
    counts(page, 3, 3, 0)
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("tab", name="Advanced settings")).to_be_visible()
    page.get_by_role("combobox", name="Load existing").click()
    page.get_by_role("option", name="Lena Fischer", exact=False).click()
    expect(page.get_by_text("Loaded from Lena Fischer", exact=False)).to_be_visible()
    expect(page.get_by_role("switch", name="Use company settings (default)")).not_to_be_checked()
    page.get_by_role("switch", name="Send SMS").click()  # edit what was loaded
    page.get_by_role("checkbox", name="Sales", exact=True).click()
    page.get_by_role("checkbox", name="+12025550143", exact=False).click()
    page.get_by_role("tab", name="User skills").click()
    expect(page.get_by_role("checkbox", name="English", exact=True)).to_be_checked()  # loaded from Lena
    page.get_by_role("textbox", name="New skill").fill("Mandarin")
    page.get_by_role("button", name="Add skill").click()
    page.get_by_role("combobox", name="Skill level for Mandarin").click()
    page.get_by_role("option", name="5 - Expert").click()
    screenshot(page, "wizard-skills")
    create_and_confirm(page, 3)
    screenshot(page, "wizard-result")
    expect(page.get_by_role("link", name="View users")).to_be_visible()
    expect(page.get_by_role("link", name="Upload another file")).to_be_visible()

    with session_scope(get_engine(app_server.db_url), read_only=True) as session:
        users = session.exec(select(User).where(User.email.like(f"%{tag}%")).order_by(User.email)).scalars().all()
        assert [u.email for u in users] == [r[2] for r in rows]
        assert {u.user_type for u in users} == {"supervisor"}
        lena = session.exec(select(User).where(User.email == "lena.fischer@demo-company.example.com")).scalars().one()
        expected_settings = {**lena.settings, "sms": not lena.settings["sms"]}
        assert all(u.settings == expected_settings for u in users)
        ids = [u.id for u in users]
        groups = session.exec(select(Group.name).join(GroupMember).where(GroupMember.user_id == ids[0])).scalars().all()
        assert sorted(groups) == ["Billing", "Sales", "Support"]  # Lena's two, plus Sales
        numbers = (
            session.exec(
                select(OutboundNumber.number).join(UserOutboundNumber).where(UserOutboundNumber.user_id == ids[0])
            )
            .scalars()
            .all()
        )
        assert "+12025550143" in numbers
        skills = dict(
            session.exec(select(Skill.name, UserSkill.level).join(UserSkill).where(UserSkill.user_id == ids[0])).all()
        )
        assert skills == {"English": 4, "Billing questions": 3, "Mandarin": 5}


def test_errors_fixed_inline_and_a_row_removed(page, app_server, tmp_path):
    set_free_seats(app_server.db_url, 50)
    tag = unique("fix")
    rows = [
        ("Grace", "Hopper", f"grace.{tag}@example.com", "+1", ""),
        ("Alan", "Turing", f"alan.{tag}@example", "44", ""),  # bad email
        ("Ada", "Lovelace", f"ada.{tag}@example.com", "+999", ""),  # bad prefix
        ("Linus", "Torvalds", f"grace.{tag}@example.com", "+358", ""),  # duplicate
        ("Remove", "Me", f"remove.{tag}@example.com", "", ""),  # missing prefix, removed
    ]
    open_upload_step(page)
    upload(page, users_file(tmp_path, rows))
    counts(page, 5, 1, 4)
    expect(cell(page, "email", 3)).to_have_attribute("aria-invalid", "true")
    cell(page, "email", 3).focus()
    expect(page.get_by_role("tooltip")).to_contain_text("INVALID_EMAIL")
    page.get_by_role("switch", name="Only rows with errors").click()
    expect(cell(page, "email", 2)).to_have_count(0)
    page.get_by_role("switch", name="Only rows with errors").click()
    screenshot(page, "wizard-review-errors")

    cell(page, "email", 3).fill(f"alan.{tag}@example.com")
    cell(page, "email", 3).press("Tab")
    expect(cell(page, "email", 3)).to_have_attribute("aria-invalid", "false")
    cell(page, "countryprefix", 4).fill("+44")
    cell(page, "countryprefix", 4).press("Tab")
    expect(cell(page, "countryprefix", 4)).to_have_attribute("aria-invalid", "false")
    cell(page, "email", 5).fill(f"linus.{tag}@example.com")
    cell(page, "email", 5).press("Tab")
    expect(cell(page, "email", 5)).to_have_attribute("aria-invalid", "false")
    page.get_by_role("button", name="Remove row 6").click()
    expect(page.get_by_role("button", name="Remove row 6")).to_have_count(0)
    counts(page, 4, 4, 0)
    page.get_by_role("searchbox", name="Search rows").fill("linus")
    expect(cell(page, "email", 2)).to_have_count(0)
    expect(cell(page, "email", 5)).to_be_visible()
    page.get_by_role("button", name="Continue").click()
    create_and_confirm(page, 4)
    with session_scope(get_engine(app_server.db_url), read_only=True) as session:
        emails = sorted(session.exec(select(User.email).where(User.email.like(f"%{tag}%"))).scalars())
    assert emails == sorted(f"{n}.{tag}@example.com" for n in ("grace", "alan", "ada", "linus"))


def test_seat_shortage_goes_to_the_legacy_dashboard_and_back(page, app_server, tmp_path):
    set_free_seats(app_server.db_url, 2)
    tag = unique("seats")
    rows = [(f"S{i}", "Seat", f"s{i}.{tag}@example.com", "+44", "") for i in range(5)]
    open_upload_step(page)
    upload(page, users_file(tmp_path, rows))
    banner = page.get_by_role("alert").filter(has_text="Not enough seats")
    expect(banner).to_contain_text("need 5 seats, but only 2 are free. Add at least 3 seats")
    draft_url = page.url
    screenshot(page, "wizard-seats")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("button", name="Create users")).to_be_disabled()
    if app_server.mode.demo:
        page.get_by_role("link", name="Go to legacy dashboard").click()
        expect(page).to_have_url(re.compile("/legacy-dashboard"))
        page.get_by_role("spinbutton", name="Seats to add").fill("3")
        page.get_by_role("button", name="Add seats").click()
        page.get_by_role("link", name="Back to bulk user upload").click()
    else:  # production: the company dashboard's own seat shop (stood in for here), then back
        shop = seat_shop_url(app_server)
        page.route(f"{shop}**", lambda route: route.fulfill(content_type="text/html", body="<title>Seats</title>"))
        page.get_by_role("link", name="Go to legacy dashboard").click()
        expect(page).to_have_url(re.compile(re.escape(shop)))
        assert "return=/users/bulk-upload/" in page.url
        set_free_seats(app_server.db_url, 5)  # bought there
        page.goto(draft_url)
    expect(page).to_have_url(draft_url)
    expect(page.get_by_role("tab", name="Advanced settings")).to_be_visible()  # the step we left
    expect(page.get_by_text("Not enough seats")).to_have_count(0)
    create_and_confirm(page, 5)


def test_an_email_taken_meanwhile_is_reported_with_its_code(page, app_server, tmp_path):
    set_free_seats(app_server.db_url, 50)
    tag = unique("race")
    rows = [(f"R{i}", "Race", f"r{i}.{tag}@example.com", "+44", "") for i in range(3)]
    open_upload_step(page)
    upload(page, users_file(tmp_path, rows))
    counts(page, 3, 3, 0)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("tab", name="Advanced settings")).to_be_visible()
    with session_scope(get_engine(app_server.db_url)) as session:  # another admin, elsewhere, meanwhile
        other = Company(name=unique("Rival"), seats=5, default_settings={})
        session.add(other)
        session.flush()
        session.add(
            User(
                company_id=other.id,
                firstname="Taken",
                lastname="Meanwhile",
                email=f"r1.{tag}@example.com",
                country_prefix="+44",
                extension=1000,
                user_type="agent",
            )
        )
    page.get_by_role("button", name="Create users").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Create 2 users?")  # re-checked when the dialog opens
    dialog.get_by_role("button", name="Cancel").click()
    with session_scope(get_engine(app_server.db_url)) as session:  # and once more, after the check
        session.execute(
            text("UPDATE app_user SET email = :new WHERE email = :old"),
            {"new": f"r2.{tag}@example.com", "old": f"r1.{tag}@example.com"},
        )
    page.get_by_role("button", name="Create users").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("2 users added")).to_be_visible(timeout=60_000)
    failed = page.get_by_role("table", name="Users that failed")
    expect(failed).to_contain_text(f"r2.{tag}@example.com")
    expect(failed).to_contain_text("EMAIL_ALREADY_EXISTS")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download failed rows (CSV)").click()
    with open(download.value.path(), encoding="utf-8-sig") as saved:
        report = list(csv.reader(io.StringIO(saved.read())))
    assert report[0][:3] == ["firstname", "lastname", "email"]
    assert [(r[2], r[6]) for r in report[1:]] == [(f"r2.{tag}@example.com", "EMAIL_ALREADY_EXISTS")]
    from tests.support.browser import axe_violations

    found, axe_report = axe_violations(page)  # the result page with failures
    assert not found, axe_report
    buttons = page.get_by_role("button", name=re.compile("^Download failed rows")).all_inner_texts()
    assert "Excel" in buttons[0], buttons  # the safer report is offered first


def test_a_file_level_error_then_a_good_file(page, app_server, tmp_path):
    set_free_seats(app_server.db_url, 50)
    open_upload_step(page)
    fake = tmp_path / "photo.csv"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
    upload(page, fake)
    expect(page.get_by_role("alert")).to_contain_text("UNSUPPORTED_FILE")
    missing = users_file(tmp_path, [("A", "B", "+44")], name="no-email.csv", header="firstname,lastname,countryprefix")
    upload(page, missing)
    expect(page.get_by_role("alert")).to_contain_text('MISSING_COLUMN The required column "email" is missing')
    screenshot(page, "wizard-file-error")
    good = users_file(tmp_path, [("Good", "File", f"{unique('good')}@example.com", "+44", "")], name="good.csv")
    upload(page, good)
    counts(page, 1, 1, 0)


def test_every_step_passes_axe(page, app_server, tmp_path):
    """No serious or critical WCAG violations on any step, errors shown included."""
    from tests.support.browser import axe_violations

    set_free_seats(app_server.db_url, 50)
    reports = []

    def check(step: str) -> None:
        found, report = axe_violations(page)
        if found:
            reports.append(f"{step}: {report}")

    page.goto("/users/bulk-upload")
    wait_connected(page)
    expect(page.get_by_role("heading", name="Download template")).to_be_visible()
    check("template")
    page.get_by_role("button", name="Continue").click()
    check("upload")
    tag = unique("axe")
    upload(
        page,
        users_file(
            tmp_path, [("A", "B", f"a.{tag}@example", "+999", ""), ("C", "D", f"c.{tag}@example.com", "+44", "")]
        ),
    )
    counts(page, 2, 1, 1)
    check("review")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("switch", name="Use company settings (default)").click()
    expect(page.get_by_role("switch", name="Send SMS")).to_be_visible()
    check("advanced settings")
    page.get_by_role("tab", name="User skills").click()
    check("user skills")
    assert not reports, "\n".join(reports)
