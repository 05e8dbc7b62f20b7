"""Users → API keys in a real browser: make a key (shown once, focused, with a warning), list it,
revoke it after a confirmation; by role and name, keyboard first, axe-clean."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from bulk_upload_app.access import api_keys
from bulk_upload_app.db import get_engine, session_scope
from tests.support.browser import axe_violations, screenshot, wait_connected

pytestmark = pytest.mark.browser


def key_works(db_url: str, key: str) -> bool:
    with session_scope(get_engine(db_url), read_only=True) as session:
        return api_keys.find(session, key) is not None


def test_create_copy_list_and_revoke_a_key(page, app_server):
    name = f"Okta {uuid.uuid4().hex[:6]}"
    page.goto("/users")
    wait_connected(page)
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()

    field = page.get_by_role("textbox", name="Name of the new key")
    field.focus()
    page.keyboard.type(name)
    page.keyboard.press("Enter")

    shown = page.get_by_role("textbox", name="New API key")
    expect(shown).to_be_focused()
    key = shown.input_value()
    assert re.fullmatch(r"bu_live_[A-Za-z0-9_-]{43}", key)
    expect(page.get_by_role("alert").filter(has_text="won't be shown again")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Your new key “{name}”")).to_be_visible()
    assert key_works(app_server.db_url, key)
    found, report = axe_violations(page)
    assert not found, report
    screenshot(page, "api-keys-new-key")

    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("status").filter(has_text="Copied")).to_be_visible()
    page.get_by_role("button", name="I have copied the key").click()
    expect(shown).to_have_count(0)
    expect(page.get_by_text(key)).to_have_count(0)

    table = page.get_by_role("table", name="API keys")
    row = table.get_by_role("row", name=re.compile(re.escape(name)))
    expect(row).to_contain_text(key[:12])
    expect(row).to_contain_text("Active")

    row.get_by_role("button", name=f"Revoke the key {name}").click()
    dialog = page.get_by_role("alertdialog", name=f"Revoke the key “{name}”?")
    expect(dialog).to_be_visible()
    # Radix fades the dialog in: measured mid-fade its buttons are paler than they end up.
    page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')")
    found, report = axe_violations(page)
    assert not found, report
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert key_works(app_server.db_url, key)

    row.get_by_role("button", name=f"Revoke the key {name}").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Revoke key").click()
    expect(page.get_by_role("status").filter(has_text="was revoked")).to_be_visible()
    expect(row).to_contain_text("Revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    assert not key_works(app_server.db_url, key)
    screenshot(page, "api-keys-list")


def test_an_empty_name_is_refused_and_the_page_is_axe_clean(page):
    page.goto("/users/api-keys")
    wait_connected(page)
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    found, report = axe_violations(page)
    assert not found, report
    field = page.get_by_role("textbox", name="Name of the new key")
    field.fill("   ")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("alert").filter(has_text="Give the key a name")).to_be_visible()
    expect(page.get_by_role("textbox", name="New API key")).to_have_count(0)
