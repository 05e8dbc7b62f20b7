"""`./dev.sh run`, the development server, keeps one backend through a whole upload.

The dev server (Granian with hot reload) restarts the backend whenever a file it watches
changes: every non-hidden top-level entry of the project root, minus a few names and
extensions. A runtime file there (the SQLite database's -wal/-shm, an uploaded file) restarted
it on every write, and the wizard never got past the upload (issue 8). Runtime files now live
in the hidden `.var/`.

The test runs dev.sh itself (so whatever dev.sh run sets is what is tested), with its own
defaults for the database and the upload dir, in a temporary copy of the repository, so the
developer's own `.var/` is never touched (tests.support.dev_server).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import uuid

import pytest
from playwright.sync_api import expect

from tests.support.app_server import START_TIMEOUT, StartFailed
from tests.support.browser import CONNECTION_PROBE, screenshot, wait_connected
from tests.support.dev_server import SPAWNED_PID, DevServer, run_dev_server
from tests.support.processes import log_tail
from tests.support.services import left_out

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory):
    left_out("browser")
    tmp = tmp_path_factory.mktemp("dev_server")
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(run_dev_server(tmp, START_TIMEOUT))
        except StartFailed as exc:
            pytest.fail(str(exc), pytrace=False)
        yield server


# The fixture's start (up to BULK_UPLOAD_E2E_START_TIMEOUT) counts against the test's timeout.
@pytest.mark.timeout(START_TIMEOUT + 300)
def test_dev_server_keeps_its_backend_through_an_upload(dev_server, browser, tmp_path):
    # The server has answered; wait out the start-up's own compile before taking the baseline.
    time.sleep(3)
    before_pids, before_log = dev_server.backend_pids(), dev_server.log()
    spawned = [int(pid) for pid in SPAWNED_PID.findall(before_log)]
    assert spawned and spawned[-1] in before_pids, (
        f"the backend worker Granian spawned ({spawned}) is not among the server's Python processes "
        f"{before_pids}:\n{log_tail(dev_server.log_path)}"
    )

    tag = uuid.uuid4().hex[:8]
    users = tmp_path / "dev-users.csv"
    users.write_text(
        "firstname,lastname,email,countryprefix,phone\n"
        + "".join(f"Dev{i},Reload,dev{i}.{tag}@example.com,+44,07400 12345{i}\n" for i in range(3))
    )

    context = browser.new_context(base_url=dev_server.frontend_url, viewport={"width": 1280, "height": 900})
    context.add_init_script(CONNECTION_PROBE)
    page = context.new_page()
    page.set_default_timeout(30_000)  # the Vite dev server compiles each page on its first request
    try:
        page.goto("/users", timeout=120_000)
        wait_connected(page, timeout=120_000)
        page.get_by_role("link", name="Bulk user upload").click()
        expect(page.get_by_role("heading", name="Download template")).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", name="Upload files")).to_be_visible()
        page.locator("#users_file input[type=file]").set_input_files(str(users))
        expect(page.get_by_text(users.name)).to_be_visible()
        page.get_by_role("button", name="Upload files").click()
        expect(page.get_by_text("All rows: 3")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Valid: 3", exact=True)).to_be_visible()
        expect(page.get_by_role("textbox", name="email of row 2", exact=True)).to_have_value(f"dev0.{tag}@example.com")
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("tab", name="Advanced settings")).to_be_visible()
        page.get_by_role("button", name="Create users").click()
        dialog = page.get_by_role("alertdialog")
        expect(dialog).to_contain_text("Create 3 users?")
        dialog.get_by_role("button", name="Confirm").click()
        expect(page.get_by_text("3 users added")).to_be_visible(timeout=60_000)
        disconnects = page.evaluate("() => window.__bulkUploadE2E.disconnects")
    except Exception as exc:
        with contextlib.suppress(Exception):
            print(f"screenshot: {screenshot(page, 'FAILED-dev-server', for_docs=False)}")
        if restarts := dev_server.restarts_since(len(before_log)):
            # The walk fails at whatever step a reload happened to hit; the reloads are the cause.
            raise AssertionError(_restart_report(restarts, dev_server)) from exc
        raise
    finally:
        context.close()

    restarts = dev_server.restarts_since(len(before_log))
    assert not restarts, _restart_report(restarts, dev_server)
    assert dev_server.backend_pids() == before_pids, "the backend worker process was replaced"
    assert disconnects == 0, f"the page's websocket dropped {disconnects} time(s)"

    runtime = dev_server.root / ".var"
    assert (runtime / "bulk_upload.db").is_file(), f"no database in {runtime}: {sorted(os.listdir(dev_server.root))}"
    with contextlib.closing(sqlite3.connect(f"file:{runtime / 'bulk_upload.db'}?mode=ro", uri=True)) as db:
        created = db.execute("SELECT count(*) FROM app_user WHERE email LIKE ?", (f"%.{tag}@example.com",)).fetchone()[
            0
        ]
    assert created == 3, f"{created} of the 3 users are in {runtime / 'bulk_upload.db'}"
    assert (runtime / "uploads").is_dir(), "the uploaded file was not received under .var/uploads"
    assert not (dev_server.root / "bulk_upload.db").exists() and not (dev_server.root / "var").exists()


def _restart_report(lines: list[str], server: DevServer) -> str:
    reloads = sum("changes detected" in line.lower() for line in lines)
    return (
        f"the dev server restarted its backend {reloads} time(s) during the upload (log {server.log_path}):\n"
        + "\n".join(lines[:24])
    )
