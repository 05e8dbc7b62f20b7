"""Screenshots of every wizard step, from the real app, for the README.

    python scripts/screenshots.py                 # starts the production build on a fresh demo database
    python scripts/screenshots.py BASE_URL [OUT]  # or uses an app already running (it creates users there)

It walks the happy path as an admin would: Users, Bulk user upload, template, upload a
file with a few problems, review and fix them, settings, confirm, result.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import _bootstrap  # noqa: F401 - this checkout first on sys.path, before tests.support
from playwright.sync_api import expect, sync_playwright

from tests.support.app_server import prepare_database, server_env, start_server, stop_server
from tests.support.browser import CHROMIUM_ARGS, CHROMIUM_PATH
from tests.support.paths import SCREENSHOTS_DIR

OUT = SCREENSHOTS_DIR  # or the OUT argument

SAMPLE = """First Name,lastname,email,countryprefix,phone,department
Grace,Hopper,grace.hopper@example.com,+1,(415) 555-2671,Navy
Alan,Turing,alan.turing@example,44,07400 123456,Bletchley
Ada,Lovelace,ada.lovelace@example.com,0044,07400 654321,
Linus,Torvalds,grace.hopper@example.com,+358,,Kernel
Margaret,Hamilton,margaret.hamilton@example.com,+999,,Apollo
"""


def shot(page, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
    print("wrote", OUT / f"{name}.png")


def main() -> None:
    global OUT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "base_url",
        nargs="?",
        default="",
        help="an app already running (it creates users there); default: start the production build",
    )
    parser.add_argument("out", nargs="?", type=Path, default=SCREENSHOTS_DIR, help=f"default {SCREENSHOTS_DIR}")
    args = parser.parse_args()
    OUT = args.out
    if args.base_url:
        walk(args.base_url)
        return
    tmp = Path(tempfile.mkdtemp(prefix="screenshots-"))
    prepare_database(server_env(tmp, 0), tmp / "server.log")
    process, server = start_server(tmp, tmp / "server.log", 540)
    try:
        walk(server.base_url)
    finally:
        stop_server(process, tmp / "server.log")


def walk(base: str) -> None:
    expect.set_options(timeout=30000)
    sample = Path(tempfile.mkdtemp()) / "new-agents.csv"
    sample.write_text(SAMPLE)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(30000)
        page.goto(f"{base}/users")
        expect(page.get_by_role("table", name="Users")).to_be_visible()
        expect(page.get_by_role("rowheader", name="Dana Admin")).to_be_visible()
        shot(page, "1-users")
        page.get_by_role("link", name="Bulk user upload").click()
        expect(page.get_by_role("heading", name="Download template")).to_be_visible()
        shot(page, "2-template")
        page.get_by_role("button", name="Continue").click()
        page.locator("#users_file input[type=file]").set_input_files(str(sample))
        expect(page.get_by_text("new-agents.csv")).to_be_visible()
        shot(page, "3-upload")
        page.get_by_role("button", name="Upload files").click()
        expect(page.get_by_role("textbox", name="email of row 3")).to_have_value("alan.turing@example")
        expect(page.get_by_role("textbox", name="email of row 3")).to_have_attribute("aria-invalid", "true")
        shot(page, "4-review")
        page.get_by_role("textbox", name="email of row 3").fill("alan.turing@example.com")
        page.get_by_role("textbox", name="email of row 3").press("Tab")
        expect(page.get_by_role("textbox", name="email of row 3")).to_have_attribute("aria-invalid", "false")
        page.get_by_role("textbox", name="email of row 5").fill("linus.torvalds@example.com")
        page.get_by_role("textbox", name="email of row 5").press("Tab")
        page.get_by_role("button", name="Remove row 6").click()
        expect(page.get_by_role("button", name="Remove row 6")).to_have_count(0)
        shot(page, "5-review-fixed")
        dark = browser.new_page(viewport={"width": 1024, "height": 800}, color_scheme="dark")
        dark.goto(page.url)
        expect(dark.get_by_role("textbox", name="email of row 2", exact=True)).to_be_visible()
        shot(dark, "5b-review-dark-1024px")
        dark.close()
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("tab", name="Advanced settings")).to_be_visible()
        page.get_by_role("switch", name="Use company settings (default)").click()
        page.get_by_role("checkbox", name="Support", exact=True).click()
        page.wait_for_timeout(300)
        shot(page, "6-settings")
        page.get_by_role("tab", name="User skills").click()
        page.get_by_role("checkbox", name="English").click()
        page.get_by_role("textbox", name="New skill").fill("Mandarin")
        page.get_by_role("button", name="Add skill").click()
        page.wait_for_timeout(300)
        shot(page, "7-skills")
        page.get_by_role("button", name="Create users").click()
        expect(page.get_by_role("alertdialog")).to_be_visible()
        page.wait_for_timeout(600)  # let the dialog finish fading in
        shot(page, "8-confirm")
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_text("users added")).to_be_visible()
        shot(page, "9-result")
        browser.close()


if __name__ == "__main__":
    main()
