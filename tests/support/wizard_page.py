"""The wizard driven as an admin drives it, for the browser tests: open the upload step, upload a
file, read the counts, find a cell, create and confirm; and the demo company's free seats."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.models import Company, User
from bulk_upload_app.seed import DEMO_COMPANY
from tests.support.browser import screenshot, wait_connected

REFUSAL = "This bulk upload does not exist or belongs to another account."


def set_free_seats(db_url: str, free: int) -> None:
    with session_scope(get_engine(db_url)) as session:
        company = session.exec(select(Company).where(Company.name == DEMO_COMPANY)).scalars().one()
        used = len(session.exec(select(User.id).where(User.company_id == company.id)).all())
        company.seats = used + free


def open_upload_step(page) -> None:
    page.goto("/users")
    wait_connected(page)
    page.get_by_role("link", name="Bulk user upload").click()
    expect(page.get_by_role("heading", name="Download template")).to_be_visible()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Upload files")).to_be_visible()


def upload(page, path) -> None:
    page.locator("#users_file input[type=file]").set_input_files(str(path))
    expect(page.get_by_text(path.name)).to_be_visible()
    page.get_by_role("button", name="Upload files").click()


def counts(page, all_, valid, errors) -> None:
    expect(page.get_by_text(f"All rows: {all_}")).to_be_visible()
    expect(page.get_by_text(f"Valid: {valid}", exact=True)).to_be_visible()
    expect(page.get_by_text(f"With errors: {errors}")).to_be_visible()


def cell(page, column: str, row: int):
    return page.get_by_role("textbox", name=f"{column} of row {row}", exact=True)


def create_and_confirm(page, expected: int) -> None:
    page.get_by_role("button", name="Create users").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text(f"Create {expected} users?")
    screenshot(page, "wizard-confirm")
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text(f"{expected} users added")).to_be_visible(timeout=60_000)
