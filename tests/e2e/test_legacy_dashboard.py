"""The demo legacy dashboard in a real browser: adding seats, and the safe way back.

Demo mode only: production serves no such page (tests/e2e/test_production_mode.py).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.models import Company
from bulk_upload_app.seed import DEMO_COMPANY
from tests.support.browser import axe_violations, screenshot, wait_connected

pytestmark = pytest.mark.browser

DEMO_SEATS = 25

DEMO_ONLY = True


def _set_demo_seats(db_url: str, seats: int) -> None:
    with session_scope(get_engine(db_url)) as session:
        session.exec(update(Company).where(Company.name == DEMO_COMPANY).values(seats=seats))


@pytest.fixture
def demo_seats(app_server):
    """The demo company has its 25 seats before and after the test (the server's database is shared)."""
    _set_demo_seats(app_server.db_url, DEMO_SEATS)
    yield DEMO_SEATS
    _set_demo_seats(app_server.db_url, DEMO_SEATS)


def open_dashboard(page, query: str = ""):
    page.goto(f"/legacy-dashboard{query}")
    wait_connected(page)
    expect(page.get_by_role("heading", name="Legacy dashboard", level=1)).to_be_visible()
    # on_load has run once the company is shown.
    expect(page.get_by_role("heading", name=DEMO_COMPANY)).to_be_visible()


def test_adding_seats_shows_on_the_users_page(page, demo_seats):
    open_dashboard(page, "?return=/users/bulk-upload")
    expect(page.get_by_text(re.compile(r"Seats used:\s*10 / 25"))).to_be_visible()
    seats = page.get_by_label("Seats to add")
    expect(seats).to_have_attribute("type", "number")
    seats.fill("5")
    page.get_by_role("button", name="Add seats").click()
    expect(page.get_by_role("status")).to_contain_text("25 → 30 seats")
    expect(page.get_by_text(re.compile(r"Seats used:\s*10 / 30"))).to_be_visible()
    back = page.get_by_role("link", name="Back to bulk user upload")
    assert back.get_attribute("href") == "/users/bulk-upload"
    screenshot(page, "legacy-dashboard")

    page.goto("/users")
    wait_connected(page)
    expect(page.get_by_text(re.compile(r"Seats used:\s*10 / 30"))).to_be_visible()


def test_back_link_keeps_a_bulk_upload_path(page, demo_seats):
    open_dashboard(page, "?return=%2Fusers%2Fbulk-upload%2Fabc123%3Fstep%3Dseats")
    back = page.get_by_role("link", name="Back to bulk user upload")
    expect(back).to_have_attribute("href", "/users/bulk-upload/abc123?step=seats")


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/x", "//evil.example/x", "/users/bulk-upload/../../admin", "javascript:alert(1)"],
)
def test_back_link_never_leaves_the_app(page, demo_seats, target):
    from urllib.parse import quote

    open_dashboard(page, f"?return={quote(target, safe='')}")
    back = page.get_by_role("link", name="Back to bulk user upload")
    expect(back).to_have_attribute("href", "/users")


def test_dashboard_has_no_serious_accessibility_violations(page, demo_seats):
    open_dashboard(page)
    page.get_by_label("Seats to add").fill("2")
    page.get_by_role("button", name="Add seats").click()
    expect(page.get_by_role("status")).to_contain_text("25 → 27 seats")
    found, report = axe_violations(page)
    assert not found, report


@pytest.mark.parametrize("value", ["0", "1001"])
def test_out_of_range_counts_are_not_sent(page, demo_seats, value):
    open_dashboard(page)
    seats = page.get_by_label("Seats to add")
    seats.fill(value)
    page.get_by_role("button", name="Add seats").click()
    assert seats.evaluate("input => input.validity.valid") is False  # the browser keeps the form
    page.wait_for_timeout(500)
    expect(page.get_by_role("status")).to_have_text("")
    expect(page.get_by_text(re.compile(r"Seats used:\s*10 / 25"))).to_be_visible()
