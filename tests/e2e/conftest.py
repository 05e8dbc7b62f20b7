"""Browser tests against the real production build of the app.

`app_server` (session) runs every browser test in two modes, one after the other (pytest
orders the tests by this session-scoped parameter; one server is alive at a time):

- `sqlite-1-worker`: a fresh SQLite database, one Granian worker, UI state in memory;
- `postgres-redis-2-workers` (production): a fresh PostgreSQL schema (BULK_UPLOAD_TEST_PG_URL +
  `?options=-csearch_path%3D<schema>`, dropped afterwards), an empty Redis database 1..15 of
  BULK_UPLOAD_TEST_REDIS_URL's server (claimed with a marker key, flushed before and after;
  db 0 is never touched), GRANIAN_WORKERS=2. Left out (skipped) when BULK_UPLOAD_WITHOUT
  names postgres or redis; fails when either does not answer.

Each mode migrates and seeds its database, then starts `reflex run --env prod` as its own
process group. In Reflex 0.10 prod is
one port: the backend (Granian) serves the compiled frontend, /ping and the websocket
(/_event). `browser` (session) is Debian's Chromium driven by Playwright, which never downloads
a browser of its own; `page` is a fresh context per test.

Both fail, not skip, when Chromium is missing or the app does not come up, unless
BULK_UPLOAD_WITHOUT contains "browser". The server is stopped by SIGTERM to its process group
(then SIGKILL); if pytest itself is killed, the kernel sends `reflex` SIGTERM (PR_SET_PDEATHSIG).

A prod start always re-runs the Vite build (Reflex deletes the build dir first); what is
reused is the web dir with its node_modules (npm install only when package.json changes).
Tests share the one database: a test that changes the demo company's data puts it back.
Tests that write to the database themselves use `app_server.db_url` (PostgreSQL in production
mode). HTTP responses carry `X-Bulk-Upload-Worker: <pid>` (BULK_UPLOAD_WORKER_HEADER=1), so tests
can tell which worker served a request.

Knobs: CHROMIUM_PATH, BULK_UPLOAD_E2E_START_TIMEOUT (seconds, default 540: under pytest's own
600 s per-test timeout, which counts this fixture's set-up), BULK_UPLOAD_E2E_WEB_DIR (the
frontend build dir, default <repo>/.web-e2e, kept apart from .web so a `./dev.sh run` next to
the tests is not disturbed; xdist workers other than gw0 get .web-e2e-gwN),
BULK_UPLOAD_SCREENSHOTS=1 (screenshots into docs/screenshots/).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from ..helpers import PG_URL, ServiceMissing, postgres_schema  # noqa: F401  (re-exported for scripts/)
from .helpers import CONNECTION_PROBE, REPO, screenshot, set_screenshot_tmp_dir, wait_connected

__all__ = ["screenshot", "wait_connected"]

WITHOUT = {part.strip() for part in os.environ.get("BULK_UPLOAD_WITHOUT", "").split(",") if part.strip()}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEFAULT_START_TIMEOUT = 540.0
REDIS_URL = os.environ.get("BULK_UPLOAD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SQLITE_MODE = "sqlite-1-worker"
PRODUCTION_MODE = "postgres-redis-2-workers"
MODES = (SQLITE_MODE, PRODUCTION_MODE)
E2E_JWT_SECRET = "e2e-shared-secret-" + "s" * 32  # the app's and the example host's
E2E_JWT_ISSUER = "https://dashboard.e2e.example.com"
PRODUCTION_SEAT_SHOP = "https://dashboard.e2e.example.com/billing/seats"  # never visited by the tests


def e2e_token(company_id: int, user_id: int, role: str = "admin", **kwargs) -> str:
    """A sign-in token as the e2e servers' dashboard makes it."""
    from bulk_upload_app.auth import make_token

    kwargs.setdefault("secret", E2E_JWT_SECRET)
    kwargs.setdefault("issuer", E2E_JWT_ISSUER)
    return make_token(company_id, user_id, role, **kwargs)


def _pick_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


EMBED_HOST_PORT = _pick_port()  # the example dashboard (examples/host), allowed to frame the app
# Reflex settings from the caller's shell that would change what the harness starts.
_REFLEX_ENV_DROPPED = (
    "REFLEX_FRONTEND_PORT", "REFLEX_BACKEND_PORT", "REFLEX_BACKEND_HOST", "REFLEX_API_URL", "REFLEX_DEPLOY_URL",
    "REFLEX_REDIS_URL", "REFLEX_ENV_MODE", "REFLEX_SKIP_COMPILE", "REFLEX_BACKEND_ONLY", "REFLEX_FRONTEND_ONLY",
    "REFLEX_MOUNT_FRONTEND_COMPILED_APP", "REFLEX_COMPILE_CONTEXT", "REFLEX_FRONTEND_PATH",
    "GRANIAN_WORKERS", "BULK_UPLOAD_DEV_SIGNIN", "BULK_UPLOAD_DEMO", "BULK_UPLOAD_LEGACY_DASHBOARD_URL",
)


def _left_out_browser() -> None:
    if "browser" in WITHOUT:
        pytest.skip("browser left out by BULK_UPLOAD_WITHOUT")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)
            # Modules with PRODUCTION_ONLY = True: skipped in the other modes at collection, so a
            # run of only those tests does not start the sqlite-1-worker server for nothing.
            callspec = getattr(item, "callspec", None)
            mode = callspec.params.get("app_server") if callspec else None
            if getattr(getattr(item, "module", None), "PRODUCTION_ONLY", False) and mode != PRODUCTION_MODE:
                item.add_marker(pytest.mark.skip(reason=f"needs the {PRODUCTION_MODE} mode (this is {mode})"))
            # The demo seat shop (/legacy-dashboard) exists in demo mode only (the sqlite mode).
            demo_only = getattr(getattr(item, "module", None), "DEMO_ONLY", False) or item.get_closest_marker("demo_only")
            if demo_only and mode == PRODUCTION_MODE:
                item.add_marker(pytest.mark.skip(reason=f"demo mode only: {PRODUCTION_MODE} runs without it"))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"_e2e_report_{report.when}", report)
    return report


# ---------------------------------------------------------------- the app


@dataclass(frozen=True)
class Mode:
    """What a server runs on. db_url None: a fresh SQLite file in the server's tmp dir."""

    name: str = SQLITE_MODE
    db_url: str | None = None
    redis_url: str | None = None  # None: UI state in memory
    workers: int = 1
    demo: bool = True  # BULK_UPLOAD_DEMO=1: demo sign-in and the demo seat shop; False: production


@dataclass
class AppServer:
    base_url: str
    db_url: str
    log_path: Path
    port: int
    pid: int
    started_in: float  # seconds from `reflex run` to both URLs answering
    mode: Mode = field(default_factory=Mode)
    tmp: Path | None = field(default=None, repr=False)
    process: subprocess.Popen | None = field(default=None, repr=False)
    timeout: float = DEFAULT_START_TIMEOUT

    @property
    def workers(self) -> int:
        return self.mode.workers

    @property
    def redis_url(self) -> str | None:
        return self.mode.redis_url

    def log_tail(self, lines: int = 60) -> str:
        return _tail(self.log_path, lines)

    def group_pids(self) -> set[int]:
        """Every process of the server's process group (reflex, Granian supervisor and workers)."""
        return _group_pids(self.pid)

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, self.log_path)

    def restart(self) -> float:
        """Stop the server and start it again on the same port and database; returns the start time (s)."""
        assert self.tmp is not None, "restart() needs the server's tmp dir"
        self.stop()
        process, server = _start(self.tmp, self.log_path, self.timeout, mode=self.mode, port=self.port)
        self.process, self.pid, self.started_in = process, server.pid, server.started_in
        return server.started_in


def _group_pids(pgid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp ...
        if int(fields[2]) == pgid:
            found.add(int(entry.name))
    return found


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


CLAIM_KEY = "bulk_upload:test-claim"


@contextlib.contextmanager
def redis_database(owner: str):
    """An empty Redis database 1..15 on BULK_UPLOAD_TEST_REDIS_URL's server, ours until the end.

    Claimed with a marker key (SET NX, 6 h expiry, so a crashed run frees it), flushed before use
    and after. Database 0 is never used: other things keep data there.
    """
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        raise ServiceMissing(f"Redis at {REDIS_URL} does not answer ({exc}). Start it, or set "
                             "BULK_UPLOAD_WITHOUT=redis.") from exc
    for db in range(15, 0, -1):
        url = _with_db(REDIS_URL, db)
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
        if client.dbsize() == 0 and client.set(CLAIM_KEY, owner, nx=True, ex=6 * 3600):
            break
    else:
        raise ServiceMissing(f"no empty Redis database in 1..15 on {REDIS_URL}")
    client.flushdb()
    client.set(CLAIM_KEY, owner, ex=6 * 3600)  # the server's keys go next to it
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@contextlib.contextmanager
def production_mode(owner: str, workers: int = 2, schema_prefix: str = "e2e"):
    """PostgreSQL schema + Redis database + `workers` Granian workers, demo mode off: admins sign
    in with the dashboard's tokens only (raises ServiceMissing)."""
    with postgres_schema(schema_prefix) as db_url, redis_database(owner) as redis_url:
        yield Mode(PRODUCTION_MODE if workers == 2 else f"postgres-redis-{workers}-workers", db_url=db_url,
                   redis_url=redis_url, workers=workers, demo=False)


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (our own server)
            return str(response.status)
    except urllib.error.HTTPError as exc:
        return str(exc.code)
    except (OSError, ValueError) as exc:
        return type(exc).__name__


def _log(path: Path, message: str) -> None:
    with path.open("a") as log:
        log.write(f"[e2e {time.strftime('%H:%M:%S')}] {message}\n")


def _web_dir() -> Path:
    if configured := os.environ.get("BULK_UPLOAD_E2E_WEB_DIR"):
        return Path(configured).resolve()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    # Each xdist worker runs its own server, and a prod start rebuilds its web dir: one each.
    return REPO / (".web-e2e" if worker in ("", "gw0") else f".web-e2e-{worker}")


def _server_env(tmp: Path, port: int, mode: Mode | None = None) -> dict[str, str]:
    mode = mode or Mode()
    env = {k: v for k, v in os.environ.items() if k not in _REFLEX_ENV_DROPPED}
    node_bin = REPO / ".tools" / "node" / "node_modules" / ".bin"
    path = [str(Path(sys.executable).parent)]
    if (node_bin / "node").exists():
        path.append(str(node_bin))
    env["PATH"] = os.pathsep.join([*path, env.get("PATH", "")])
    base_url = f"http://127.0.0.1:{port}"
    env.update(
        REFLEX_DB_URL=mode.db_url or f"sqlite:///{tmp / 'app.db'}",
        GRANIAN_WORKERS=str(mode.workers),
        BULK_UPLOAD_WORKER_HEADER="1",  # X-Bulk-Upload-Worker: <pid> (tests/e2e/test_workers.py)
        BULK_UPLOAD_LEGACY_DASHBOARD_URL=f"{base_url}/legacy-dashboard" if mode.demo else PRODUCTION_SEAT_SHOP,
        BULK_UPLOAD_STORAGE_DIR=str(tmp / "uploads"),
        # The frontend's env.json gets the backend's address from these (else http://localhost:PORT).
        REFLEX_API_URL=base_url,
        REFLEX_DEPLOY_URL=base_url,
        REFLEX_WEB_WORKDIR=str(_web_dir()),
        REFLEX_STATES_WORKDIR=str(tmp / "states"),  # `reflex run` deletes its states dir
        PYTHONUNBUFFERED="1",
        # Embedding (tests/e2e/test_embed.py): only the example host's origin may frame the app.
        BULK_UPLOAD_FRAME_ANCESTORS=f"http://127.0.0.1:{EMBED_HOST_PORT}",
        BULK_UPLOAD_JWT_SECRET=E2E_JWT_SECRET,
        BULK_UPLOAD_JWT_ISSUER=E2E_JWT_ISSUER,
    )
    if mode.demo:
        env["BULK_UPLOAD_DEMO"] = "1"
    if mode.redis_url:
        env["REFLEX_REDIS_URL"] = mode.redis_url
    env.setdefault("REFLEX_USE_NPM", "1")
    env.setdefault("REFLEX_CHECK_LATEST_VERSION", "false")
    env.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    env.setdefault("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org/")  # as dev.sh: no mirror probing
    return env


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if pytest dies without its teardown (Linux only)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


def _stop(process: subprocess.Popen, log_path: Path) -> None:
    """SIGTERM the server's whole process group (reflex, Granian workers, node), then SIGKILL what is left."""
    pgid = process.pid  # start_new_session=True: the group is led by reflex
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if process.poll() is not None:
                try:
                    os.killpg(pgid, 0)  # members left after the leader exited?
                except ProcessLookupError:
                    _log(log_path, f"server stopped ({sig.name}, exit {process.returncode})")
                    return
            time.sleep(0.2)
    try:
        os.killpg(pgid, 0)
        _log(log_path, f"WARNING: process group {pgid} still has members")
    except ProcessLookupError:
        _log(log_path, f"server stopped (exit {process.returncode})")


def _prepare_database(env: dict[str, str], log_path: Path) -> None:
    for args in (("db", "upgrade"), ("demo-seed",)):
        _log(log_path, f"python -m bulk_upload_app {' '.join(args)}")
        with log_path.open("a") as log:
            done = subprocess.run(  # the demo company is the tests' data in both modes
                [sys.executable, "-m", "bulk_upload_app", *args], cwd=REPO, env={**env, "BULK_UPLOAD_DEMO": "1"}, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=120, check=False,
            )
        if done.returncode != 0:
            pytest.fail(
                f"`python -m bulk_upload_app {' '.join(args)}` failed (exit {done.returncode}); "
                f"log {log_path}:\n{_tail(log_path)}",
                pytrace=False,
            )


def _start(tmp: Path, log_path: Path, timeout: float, mode: Mode | None = None,
           port: int | None = None) -> tuple[subprocess.Popen, AppServer]:
    mode = mode or Mode()
    port = port or _free_port()
    env = _server_env(tmp, port, mode)
    base_url = env["REFLEX_API_URL"]
    command = [
        sys.executable, "-m", "reflex", "run", "--env", "prod", "--loglevel", "info",
        "--frontend-port", str(port), "--backend-port", str(port), "--backend-host", "127.0.0.1",
    ]
    _log(log_path, f"starting {' '.join(command[1:])} (mode {mode.name}, {mode.workers} worker(s), "
                   f"web dir {env['REFLEX_WEB_WORKDIR']})")
    started = time.monotonic()
    with log_path.open("a") as log:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    try:
        deadline, next_note = started + timeout, started + 15
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"`reflex run` exited with code {process.returncode} before the app answered")
            front, ping = _status(f"{base_url}/"), _status(f"{base_url}/ping")
            if front == "200" and ping == "200":
                break
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError(f"the app did not answer within {timeout:.0f} s (/ -> {front}, /ping -> {ping})")
            if now > next_note:
                _log(log_path, f"waiting {now - started:.0f} s: / -> {front}, /ping -> {ping}")
                next_note = now + 15
            time.sleep(0.5)
    except RuntimeError as exc:
        problem = str(exc)
    except BaseException:
        _stop(process, log_path)
        raise
    else:
        problem = None
    if problem is not None:
        _stop(process, log_path)
        pytest.fail(
            f"{problem}. Server log {log_path} ends with:\n{_tail(log_path, 80)}\n"
            "(Set BULK_UPLOAD_WITHOUT=browser to leave the browser tests out.)",
            pytrace=False,
        )
    elapsed = time.monotonic() - started
    _log(log_path, f"app answers at {base_url} after {elapsed:.1f} s")
    return process, AppServer(base_url, env["REFLEX_DB_URL"], log_path, port, process.pid, elapsed, mode=mode,
                              tmp=tmp, process=process, timeout=timeout)


_ALIVE: dict[str, AppServer] = {}  # at most one at a time (checked)


def demo_admin_ids(app_server: AppServer) -> tuple[int, int]:
    """(company id, user id) of the seeded demo company's admin."""
    from sqlalchemy import select

    from bulk_upload_app.db import get_engine, session_scope
    from bulk_upload_app.models import User
    from bulk_upload_app.seed import DEMO_ADMIN_EMAIL

    with session_scope(get_engine(app_server.db_url), read_only=True) as session:
        user = session.exec(select(User).where(User.email == DEMO_ADMIN_EMAIL)).scalars().one()
        return user.company_id, user.id


def seat_shop_url(app_server: AppServer) -> str:
    """Where the seat banner sends admins: the demo seat shop, or the (real) dashboard's."""
    return f"{app_server.base_url}/legacy-dashboard" if app_server.mode.demo else PRODUCTION_SEAT_SHOP


def sign_in_with_token(page, app_server: AppServer, path: str = "/users") -> None:
    """Production mode has no demo sign-in: open the app with a dashboard token, as the dashboard
    does; the tab stays signed in (its state is on the server) for the rest of the test."""
    page.goto(f"{path}?token={e2e_token(*demo_admin_ids(app_server))}")
    page.locator("#sign-in-checked").wait_for(state="attached")
    page.wait_for_function("() => !new URLSearchParams(window.location.search).has('token')")


@pytest.fixture(scope="session", params=MODES)
def app_server(request, tmp_path_factory, pytestconfig):
    """The app's production build in one mode (see the module docstring), on a free port of 127.0.0.1."""
    _left_out_browser()
    name = request.param
    if name == PRODUCTION_MODE and (missing := [p for p in ("postgres", "redis") if p in WITHOUT]):
        pytest.skip(f"{name} mode needs {' and '.join(missing)}, left out by BULK_UPLOAD_WITHOUT")
    if _ALIVE:
        pytest.fail(f"{name}: another app server is still running: {list(_ALIVE)}", pytrace=False)
    tmp = tmp_path_factory.mktemp(f"app_server-{name}")
    log_path = tmp / "server.log"
    timeout = float(os.environ.get("BULK_UPLOAD_E2E_START_TIMEOUT", DEFAULT_START_TIMEOUT))
    with contextlib.ExitStack() as stack:
        if name == PRODUCTION_MODE:
            try:
                mode = stack.enter_context(production_mode(f"e2e:{os.getpid()}"))
            except ServiceMissing as exc:
                pytest.fail(f"{name}: {exc}", pytrace=False)
        else:
            mode = Mode()
        _prepare_database(_server_env(tmp, 0, mode), log_path)
        _process, server = _start(tmp, log_path, timeout, mode=mode)
        _ALIVE[name] = server
        pytestconfig.stash.setdefault(_STARTED_KEY, []).append(server)
        try:
            yield server
        finally:
            server.stop()
            _ALIVE.pop(name, None)


_STARTED_KEY = pytest.StashKey[list]()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for server in config.stash.get(_STARTED_KEY, []):
        terminalreporter.write_line(
            f"e2e {server.mode.name}: app (reflex run --env prod, {server.workers} worker(s)) answered after "
            f"{server.started_in:.1f} s; log {server.log_path}"
        )


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    _left_out_browser()
    set_screenshot_tmp_dir(tmp_path_factory.mktemp("screenshots"))
    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
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
        except Exception as exc:  # noqa: BLE001
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
            except Exception as exc:  # noqa: BLE001
                problems.append(f"no screenshot: {exc}")
            if problems:
                print("\n".join(problems))
        context.close()
