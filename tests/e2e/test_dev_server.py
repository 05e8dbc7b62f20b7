"""`./dev.sh run`, the development server, keeps one backend through a whole upload.

The dev server (Granian with hot reload) restarts the backend whenever a file it watches
changes: every non-hidden top-level entry of the project root, minus a few names and
extensions. A runtime file there (the SQLite database's -wal/-shm, an uploaded file) restarted
it on every write, and the wizard never got past the upload (issue 8). Runtime files now live
in the hidden `.var/`.

The test runs dev.sh itself (so whatever dev.sh run sets is what is tested), with its own
defaults for the database and the upload dir, in a temporary copy of the repository (the
tracked and untracked-but-not-ignored files), so the developer's own `.var/` is never touched.
The copy reuses the test run's virtualenv and the project's `.tools/` (symlinks), and a web dir
kept between runs, `<repo>/.web-e2e-dev` (REFLEX_WEB_WORKDIR; npm install only the first time).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import (
    DEFAULT_START_TIMEOUT,
    _die_with_parent,
    _free_port,
    _group_pids,
    _left_out_browser,
    _log,
    _status,
    _stop,
    _tail,
)
from .helpers import CONNECTION_PROBE, REPO, screenshot, wait_connected

pytestmark = pytest.mark.browser

# Granian, at debug level: "Changes detected, reloading workers..", "Modified: <path>", "Spawning worker-1 with PID: <pid>".
RESTART_LINE = re.compile(r"changes detected|reloading workers|modified: |spawning worker", re.IGNORECASE)
START_TIMEOUT = float(os.environ.get("BULK_UPLOAD_E2E_START_TIMEOUT", DEFAULT_START_TIMEOUT))
SPAWNED_PID = re.compile(r"spawning worker-\d+ with pid: (\d+)", re.IGNORECASE)


@dataclass
class DevServer:
    root: Path  # the repository copy dev.sh runs in
    frontend_url: str
    backend_url: str
    log_path: Path
    process: subprocess.Popen

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def restarts_since(self, start: int) -> list[str]:
        """The dev server's reload lines logged after character `start` of its log."""
        return [line for line in self.log()[start:].splitlines() if RESTART_LINE.search(line)]

    def backend_pids(self) -> set[int]:
        """The Python processes in the server's process group other than `reflex` itself: the
        backend worker(s) (and any multiprocessing helper). A hot reload replaces the worker."""
        found = set()
        for pid in _group_pids(self.process.pid) - {self.process.pid}:
            with contextlib.suppress(OSError):
                if "python" in Path(f"/proc/{pid}/exe").resolve().name:
                    found.add(pid)
        return found


def _copy_repository(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():  # a deleted-but-tracked file is not in a fresh clone of this tree either
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _link_installed_tools(target: Path) -> None:
    """Point the copy's .venv and .tools at the ones already installed, so dev.sh installs nothing."""
    venv = Path(sys.prefix)
    if venv == Path(sys.base_prefix):
        pytest.fail("run the tests from the project's virtualenv (./dev.sh test does)", pytrace=False)
    # dev.sh reinstalls (`pip install -e .`) when its stamp does not match pyproject.toml: here that
    # would point the shared virtualenv's editable install at this temporary copy.
    want = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + f"{sys.version}\n".encode()).hexdigest()
    stamp = venv / ".bulk-upload-install-stamp"
    have = stamp.read_text().strip() if stamp.exists() else "(none)"
    if have != want:
        pytest.fail(f"{venv} is not installed for this pyproject.toml ({stamp}: {have}); run ./dev.sh test "
                    "once, so that the dev.sh run in the test does not reinstall the shared virtualenv.",
                    pytrace=False)
    (target / ".venv").symlink_to(venv)
    for tools in (REPO / ".tools", venv.parent / ".tools"):  # a worktree shares its checkout's
        if tools.is_dir():
            (target / ".tools").symlink_to(tools)
            break


def _dev_env(web_dir: Path) -> dict[str, str]:
    # Nothing from the caller's shell may choose the database, the upload dir or the ports:
    # the defaults are what is under test.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REFLEX_", "BULK_UPLOAD_", "GRANIAN_", "VIRTUAL_ENV"))}
    env.update(REFLEX_WEB_WORKDIR=str(web_dir), PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory):
    _left_out_browser()
    tmp = tmp_path_factory.mktemp("dev_server")
    root = tmp / "repo"
    root.mkdir()
    _copy_repository(root)
    _link_installed_tools(root)
    log_path = tmp / "dev-server.log"
    frontend_port, backend_port = _free_port(), _free_port()
    while backend_port == frontend_port:
        backend_port = _free_port()
    command = ["./dev.sh", "run", "--frontend-port", str(frontend_port), "--backend-port", str(backend_port),
               "--loglevel", "debug"]
    _log(log_path, f"starting {' '.join(command)} in {root}")
    timeout = START_TIMEOUT
    frontend_url, backend_url = f"http://localhost:{frontend_port}", f"http://localhost:{backend_port}"
    started = time.monotonic()
    with log_path.open("a") as log:
        process = subprocess.Popen(
            command, cwd=root, env=_dev_env(REPO / ".web-e2e-dev"), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent,
        )
    try:
        problem = None
        deadline = started + timeout
        while True:
            if process.poll() is not None:
                problem = f"`./dev.sh run` exited with code {process.returncode} before the app answered"
                break
            front, ping = _status(f"{frontend_url}/"), _status(f"{backend_url}/ping")
            if front == "200" and ping == "200":
                break
            if time.monotonic() > deadline:
                problem = f"the dev server did not answer within {timeout:.0f} s (/ -> {front}, /ping -> {ping})"
                break
            time.sleep(0.5)
        if problem:
            pytest.fail(f"{problem}. Log {log_path} ends with:\n{_tail(log_path, 80)}\n"
                        "(Set BULK_UPLOAD_WITHOUT=browser to leave the browser tests out.)", pytrace=False)
        _log(log_path, f"dev server answers after {time.monotonic() - started:.1f} s")
        yield DevServer(root, frontend_url, backend_url, log_path, process)
    finally:
        _stop(process, log_path)


# The fixture's start (up to BULK_UPLOAD_E2E_START_TIMEOUT) counts against the test's timeout.
@pytest.mark.timeout(START_TIMEOUT + 300)
def test_dev_server_keeps_its_backend_through_an_upload(dev_server, browser, tmp_path):
    # The server has answered; wait out the start-up's own compile before taking the baseline.
    time.sleep(3)
    before_pids, before_log = dev_server.backend_pids(), dev_server.log()
    spawned = [int(pid) for pid in SPAWNED_PID.findall(before_log)]
    assert spawned and spawned[-1] in before_pids, (
        f"the backend worker Granian spawned ({spawned}) is not among the server's Python processes "
        f"{before_pids}:\n{_tail(dev_server.log_path)}")

    tag = uuid.uuid4().hex[:8]
    users = tmp_path / "dev-users.csv"
    users.write_text("firstname,lastname,email,countryprefix,phone\n" + "".join(
        f"Dev{i},Reload,dev{i}.{tag}@example.com,+44,07400 12345{i}\n" for i in range(3)))

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
        expect(page.get_by_role("textbox", name="email of row 2", exact=True)).to_have_value(
            f"dev0.{tag}@example.com")
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
        created = db.execute('SELECT count(*) FROM app_user WHERE email LIKE ?', (f"%.{tag}@example.com",)).fetchone()[0]
    assert created == 3, f"{created} of the 3 users are in {runtime / 'bulk_upload.db'}"
    assert (runtime / "uploads").is_dir(), "the uploaded file was not received under .var/uploads"
    assert not (dev_server.root / "bulk_upload.db").exists() and not (dev_server.root / "var").exists()


def _restart_report(lines: list[str], server: DevServer) -> str:
    reloads = sum("changes detected" in line.lower() for line in lines)
    return (f"the dev server restarted its backend {reloads} time(s) during the upload (log {server.log_path}):\n"
            + "\n".join(lines[:24]))
