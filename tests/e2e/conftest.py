"""Browser tests against the real production build of the app (tests.support.app_server).

`app_server` (session) runs every browser test in two modes, one after the other (pytest
orders the tests by this session-scoped parameter; one server is alive at a time):

- `sqlite-1-worker`: a fresh SQLite database, one Granian worker, UI state in memory;
- `postgres-redis-2-workers` (production): a fresh PostgreSQL schema (BULK_UPLOAD_TEST_PG_URL +
  `?options=-csearch_path%3D<schema>`, dropped afterwards), an empty Redis database 1..15 of
  BULK_UPLOAD_TEST_REDIS_URL's server (claimed with a marker key, flushed before and after;
  db 0 is never touched but by the job queue, under a namespace of the server's own), GRANIAN_WORKERS=2. Left out (skipped) when BULK_UPLOAD_WITHOUT
  names postgres or redis; fails when either does not answer.

Each mode migrates and seeds its database, then starts `reflex run --env prod` as its own
process group. `browser` (session) is Debian's Chromium driven by Playwright, which never
downloads a browser of its own; `page` is a fresh context per test (signed in with a dashboard
token in the production mode, which has no demo sign-in).

Both fail, not skip, when Chromium is missing or the app does not come up, unless
BULK_UPLOAD_WITHOUT contains "browser". The server is stopped by SIGTERM to its process group
(then SIGKILL); if pytest itself is killed, the kernel sends `reflex` SIGTERM (PR_SET_PDEATHSIG).

Tests share the one database: a test that changes the demo company's data puts it back.
Tests that write to the database themselves use `app_server.db_url` (PostgreSQL in production
mode). Modules with PRODUCTION_ONLY = True run in the production mode only; DEMO_ONLY = True (or
the `demo_only` marker) in the demo (sqlite) mode only.

Knobs: CHROMIUM_PATH, BULK_UPLOAD_E2E_START_TIMEOUT (seconds, default 540: under pytest's own
600 s per-test timeout, which counts this fixture's set-up), BULK_UPLOAD_E2E_WEB_DIR (the
frontend build dir, default <repo>/.web-e2e; xdist workers get .web-e2e-gwN),
BULK_UPLOAD_SCREENSHOTS=1 (screenshots into docs/screenshots/).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.models import BulkUploadRow, Company, GroupMember, User, UserOutboundNumber, UserSkill
from tests.support.app_server import (
    MODES,
    PRODUCTION_MODE,
    START_TIMEOUT,
    AppServer,
    Mode,
    StartFailed,
    demo_admin_ids,
    prepare_database,
    production_mode,
    server_env,
    start_server,
)
from tests.support.browser import (
    CHROMIUM_ARGS,
    CHROMIUM_PATH,
    CONNECTION_PROBE,
    screenshot,
    set_screenshot_tmp_dir,
    sign_in_with_token,
)
from tests.support.services import WITHOUT, ServiceMissing, left_out


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    # A test made for one mode only is generated for that mode only (deselected in the other, not
    # skipped): the production mode has no demo seat shop, the sqlite mode has one worker and no
    # Redis. Modules say it with PRODUCTION_ONLY / DEMO_ONLY, single tests with a marker.
    keep, dropped = [], []
    for item in items:
        if here not in Path(str(item.path)).parents:
            keep.append(item)
            continue
        item.add_marker(pytest.mark.browser)
        callspec = getattr(item, "callspec", None)
        mode = callspec.params.get("app_server") if callspec else None
        module = getattr(item, "module", None)
        production_only = getattr(module, "PRODUCTION_ONLY", False) or item.get_closest_marker("production_only")
        demo_only = getattr(module, "DEMO_ONLY", False) or item.get_closest_marker("demo_only")
        if mode is not None and (
            (production_only and mode != PRODUCTION_MODE) or (demo_only and mode == PRODUCTION_MODE)
        ):
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"_e2e_report_{report.when}", report)
    return report


# ---------------------------------------------------------------- the app


_ALIVE: dict[str, AppServer] = {}  # at most one at a time (checked)
_STARTED_KEY = pytest.StashKey[list]()


@pytest.fixture(scope="session", params=MODES)
def app_server(request, tmp_path_factory, pytestconfig):
    """The app's production build in one mode (see the module docstring), on a free port of 127.0.0.1."""
    left_out("browser")
    name = request.param
    # Every mode needs Redis (its job queue); the production mode PostgreSQL too. Skipped only when
    # the test command was told to leave that part out; a service that does not answer fails.
    needs = ("postgres", "redis") if name == PRODUCTION_MODE else ("redis",)
    if missing := [p for p in needs if p in WITHOUT]:
        pytest.skip(f"{name} mode needs {' and '.join(missing)}, left out by BULK_UPLOAD_WITHOUT")
    if _ALIVE:
        pytest.fail(f"{name}: another app server is still running: {list(_ALIVE)}", pytrace=False)
    tmp = tmp_path_factory.mktemp(f"app_server-{name}")
    log_path = tmp / "server.log"
    with contextlib.ExitStack() as stack:
        if name == PRODUCTION_MODE:
            try:
                mode = stack.enter_context(production_mode(f"e2e:{os.getpid()}"))
            except ServiceMissing as exc:
                pytest.fail(f"{name}: {exc}", pytrace=False)
        else:
            mode = Mode()
        try:
            prepare_database(server_env(tmp, 0, mode), log_path)
            _process, server = start_server(tmp, log_path, START_TIMEOUT, mode=mode)
        except StartFailed as exc:
            pytest.fail(str(exc), pytrace=False)
        _ALIVE[name] = server
        pytestconfig.stash.setdefault(_STARTED_KEY, []).append(server)
        try:
            yield server
        finally:
            server.stop()
            _ALIVE.pop(name, None)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for server in config.stash.get(_STARTED_KEY, []):
        terminalreporter.write_line(
            f"e2e {server.mode.name}: app (reflex run --env prod, {server.workers} worker(s)) answered after "
            f"{server.started_in:.1f} s; log {server.log_path}"
        )


@pytest.fixture(scope="session")
def mail_inbox():
    """The tests' SMTP server (aiosmtpd) on the port every e2e app server sends its email to
    (tests.support.app_server.MAIL_PORT); keeps every message for the tests to read."""
    from tests.support.app_server import MAIL_PORT
    from tests.support.mail_server import mail_server

    with mail_server(MAIL_PORT) as inbox:
        yield inbox


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    left_out("browser")
    set_screenshot_tmp_dir(tmp_path_factory.mktemp("screenshots"))
    executable = CHROMIUM_PATH
    if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {executable} (CHROMIUM_PATH). Install Debian's chromium "
            "(./dev.sh test does), or set BULK_UPLOAD_WITHOUT=browser.",
            pytrace=False,
        )
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    from playwright.sync_api import expect, sync_playwright

    # expect() has its own 5 s default; on 2 busy cores a first hydrate can take longer.
    expect.set_options(timeout=15_000)

    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        except Exception as exc:
            pytest.fail(f"Chromium at {executable} did not start: {exc}", pytrace=False)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser, app_server, request):
    """A new page in a new context (1280x900) on the app; 15 s default timeout."""
    context = browser.new_context(base_url=app_server.base_url, viewport={"width": 1280, "height": 900})
    context.add_init_script(CONNECTION_PROBE)
    new_page = context.new_page()
    new_page.set_default_timeout(15_000)
    problems: list[str] = []
    new_page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    new_page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    if not app_server.mode.demo:
        sign_in_with_token(new_page, app_server)
    try:
        yield new_page
    finally:
        report = getattr(request.node, "_e2e_report_call", None)
        if report is not None and report.failed:
            try:
                path = screenshot(new_page, f"FAILED-{request.node.name}", for_docs=False)
                problems.append(f"screenshot: {path}")
            except Exception as exc:
                problems.append(f"no screenshot: {exc}")
            if problems:
                print("\n".join(problems))
        context.close()


@pytest.fixture
def demo_put_back(app_server):
    """Tests share the demo company: its seats and users are as they were after each test here."""
    engine = get_engine(app_server.db_url)
    company, _admin = demo_admin_ids(app_server)
    with session_scope(engine, read_only=True) as session:
        seats = session.get(Company, company).seats
        users = set(session.exec(select(User.id).where(User.company_id == company)).scalars())
    yield
    with session_scope(engine) as session:
        added = [u for u in session.exec(select(User.id).where(User.company_id == company)).scalars() if u not in users]
        for link in (GroupMember, UserOutboundNumber, UserSkill):
            session.execute(delete(link).where(link.user_id.in_(added)))
        session.execute(update(BulkUploadRow).where(BulkUploadRow.user_id.in_(added)).values(user_id=None))
        session.execute(delete(User).where(User.id.in_(added)))
        session.execute(update(Company).where(Company.id == company).values(seats=seats))
