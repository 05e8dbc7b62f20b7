"""The Users page in a real browser: the demo company's users, its seats, the way to bulk upload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from bulk_upload_app.seed import _USERS
from tests.support.browser import axe_violations, screenshot, wait_connected

pytestmark = pytest.mark.browser

DEMO_NAMES = [f"{first} {last}" for first, last, *_ in _USERS]


def open_users(page):
    page.goto("/users")
    wait_connected(page)
    table = page.get_by_role("table", name="Users")
    expect(table.get_by_role("row", name=re.compile(r"\bDana Admin\b"))).to_be_visible()
    return table


def test_users_table_lists_the_demo_users(page):
    table = open_users(page)
    assert len(DEMO_NAMES) == 10
    expect(table.get_by_role("row")).to_have_count(1 + len(DEMO_NAMES))  # header + users
    for name in DEMO_NAMES:
        expect(table.get_by_role("rowheader", name=name, exact=True)).to_be_visible()
    dana = table.get_by_role("row", name=re.compile(r"\bDana Admin\b"))
    expect(dana).to_contain_text("admin@demo-company.example.com")
    expect(page.get_by_text("Page 1 of 1")).to_be_visible()
    screenshot(page, "users")


def test_users_page_shows_seats_and_the_way_to_bulk_upload(page):
    open_users(page)
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    expect(page.get_by_text(re.compile(r"Seats used:\s*10 / 25"))).to_be_visible()
    link = page.get_by_role("link", name="Bulk user upload")
    expect(link).to_be_visible()
    assert link.get_attribute("href") == "/users/bulk-upload"


def test_root_lands_on_users(page):
    page.goto("/")
    wait_connected(page)
    expect(page).to_have_url(re.compile(r"/users/?$"))
    expect(page.get_by_role("table", name="Users")).to_be_visible()


def test_users_page_has_no_serious_accessibility_violations(page):
    """axe-core finds no serious or critical problem on the Users page."""
    open_users(page)
    found, report = axe_violations(page)
    assert not found, report
