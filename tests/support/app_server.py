"""The app's production build, `reflex run --env prod`, started for the browser tests and scripts/.

A server runs in a `Mode`:

- `sqlite-1-worker` (`Mode()`): a fresh SQLite database in the server's tmp dir, one Granian
  worker, UI state in memory, demo mode (demo sign-in and the demo seat shop);
- `postgres-redis-2-workers` (`production_mode()`): a fresh PostgreSQL schema and an empty Redis
  database (tests.support.services), GRANIAN_WORKERS=2, demo mode off: admins sign in with the
  dashboard's tokens only (tests.support.dashboard).

`prepare_database` migrates and seeds the mode's database; `start_server` starts `reflex run
--env prod` as its own process group and waits until the app answers; `AppServer.stop()` /
`stop_server` SIGTERM the group (then SIGKILL); `AppServer.restart()` starts it again on the
same port and database. In Reflex 0.10 prod is one port: the backend (Granian) serves the
compiled frontend, /ping and the websocket (/_event). HTTP responses carry
`X-Bulk-Upload-Worker: <pid>` (BULK_UPLOAD_WORKER_HEADER=1), so tests can tell which worker
served a request. If the parent process is killed, the kernel sends `reflex` SIGTERM.

A prod start always re-runs the Vite build (Reflex deletes the build dir first); what is reused
is the web dir with its node_modules (npm install only when package.json changes):
BULK_UPLOAD_E2E_WEB_DIR, default <repo>/.web-e2e (kept apart from .web so a `./dev.sh run` next
to the tests is not disturbed; xdist workers other than gw0 get .web-e2e-gwN).
BULK_UPLOAD_E2E_START_TIMEOUT: seconds to wait for the app (default 540).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bulk_upload_app.jobs import BIG_LANE, SMALL_LANE
from bulk_upload_app.settings import environment, harness_settings
from tests.support.dashboard import E2E_JWT_ISSUER, E2E_JWT_SECRET, PRODUCTION_SEAT_SHOP
from tests.support.paths import REPO
from tests.support.processes import (
    StartFailed,
    free_port,
    group_pids,
    launch,
    log_line,
    log_tail,
    stop_process_group,
    wait_for_urls,
)
from tests.support.services import REDIS_URL, postgres_schema, redis_database

# Under pytest's own 600 s per-test timeout, which counts a fixture's set-up.
DEFAULT_START_TIMEOUT = 540.0
START_TIMEOUT = harness_settings().e2e_start_timeout or DEFAULT_START_TIMEOUT
SQLITE_MODE = "sqlite-1-worker"
PRODUCTION_MODE = "postgres-redis-2-workers"
MODES = (SQLITE_MODE, PRODUCTION_MODE)
EMBED_HOST_PORT = free_port()  # the example dashboard (examples/host), allowed to frame the app
MAIL_PORT = free_port()  # the tests' SMTP server (tests.support.mail_server, the e2e `mail_inbox`)
E2E_MAIL_FROM = "Bulk upload <no-reply@e2e.example.com>"
# Reflex settings from the caller's shell that would change what the harness starts.
REFLEX_ENV_DROPPED = (
    "REFLEX_FRONTEND_PORT",
    "REFLEX_BACKEND_PORT",
    "REFLEX_BACKEND_HOST",
    "REFLEX_API_URL",
    "REFLEX_DEPLOY_URL",
    "REFLEX_REDIS_URL",
    "REFLEX_ENV_MODE",
    "REFLEX_SKIP_COMPILE",
    "REFLEX_BACKEND_ONLY",
    "REFLEX_FRONTEND_ONLY",
    "REFLEX_MOUNT_FRONTEND_COMPILED_APP",
    "REFLEX_COMPILE_CONTEXT",
    "REFLEX_FRONTEND_PATH",
    "GRANIAN_WORKERS",
    "BULK_UPLOAD_DEV_SIGNIN",
    "BULK_UPLOAD_DEMO",
    "BULK_UPLOAD_LEGACY_DASHBOARD_URL",
)


@dataclass(frozen=True)
class Mode:
    """What a server runs on. db_url None: a fresh SQLite file in the server's tmp dir."""

    name: str = SQLITE_MODE
    db_url: str | None = None
    redis_url: str | None = None  # None: UI state in memory
    workers: int = 1
    demo: bool = True  # BULK_UPLOAD_DEMO=1: demo sign-in and the demo seat shop; False: production
    job_workers: int = 1  # `bulk-upload worker` processes per lane beside the app (jobs.py)


@dataclass
class AppServer:
    """A running `reflex run --env prod` (see the module docstring)."""

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
    job_workers: list[subprocess.Popen] = field(default_factory=list, repr=False)

    @property
    def workers(self) -> int:
        return self.mode.workers

    def start_job_worker(self, lane: str) -> subprocess.Popen:
        """One more `bulk-upload worker` on a lane's queues ("small" or "big"), the server's queue and database."""
        assert self.tmp is not None
        worker = start_job_worker(server_env(self.tmp, self.port, self.mode), self.log_path, lane)
        self.job_workers.append(worker)
        return worker

    def restore_job_workers(self) -> None:
        """Back to the mode's workers per lane: the extra ones stopped, the missing ones started."""
        for lane in LANES:
            on_lane = [w for w in self.job_workers if lane_of(w) == lane]
            for extra in on_lane[self.mode.job_workers :]:
                self.kill_job_worker(extra)
            for _ in range(self.mode.job_workers - len(on_lane)):
                self.start_job_worker(lane)

    def kill_job_worker(self, worker: subprocess.Popen) -> None:
        """SIGKILL a worker's whole process group, as a crash or an OOM kill would."""
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        self.job_workers.remove(worker)

    @property
    def redis_url(self) -> str | None:
        return self.mode.redis_url

    def log_tail(self, lines: int = 60) -> str:
        return log_tail(self.log_path, lines)

    def group_pids(self) -> set[int]:
        """Every process of the server's process group (reflex, Granian supervisor and workers)."""
        return group_pids(self.pid)

    def stop(self) -> None:
        for worker in self.job_workers:
            stop_server(worker, self.log_path)
        self.job_workers.clear()
        if self.process is not None:
            stop_server(self.process, self.log_path)

    def restart(self) -> float:
        """Stop the server and start it again on the same port and database; returns the start time (s)."""
        assert self.tmp is not None, "restart() needs the server's tmp dir"
        self.stop()
        process, server = start_server(self.tmp, self.log_path, self.timeout, mode=self.mode, port=self.port)
        self.process, self.pid, self.started_in = process, server.pid, server.started_in
        self.job_workers = server.job_workers
        return server.started_in


@contextlib.contextmanager
def production_mode(owner: str, workers: int = 2, schema_prefix: str = "e2e"):
    """PostgreSQL schema + Redis database + `workers` Granian workers, demo mode off: admins sign
    in with the dashboard's tokens only (raises ServiceMissing)."""
    with postgres_schema(schema_prefix) as db_url, redis_database(owner) as redis_url:
        yield Mode(
            PRODUCTION_MODE if workers == 2 else f"postgres-redis-{workers}-workers",
            db_url=db_url,
            redis_url=redis_url,
            workers=workers,
            demo=False,
            job_workers=2,
        )


def web_dir() -> Path:
    """The frontend build dir: BULK_UPLOAD_E2E_WEB_DIR, else .web-e2e, or .web-e2e-gwN in an xdist
    worker (each runs its own server, and a prod start rebuilds its web dir; the browser tests run
    beside the xdist ones, see dev.sh)."""
    harness = harness_settings()
    if harness.e2e_web_dir is not None:
        return harness.e2e_web_dir.resolve()
    worker = harness.xdist_worker
    return REPO / (f".web-e2e-{worker}" if worker else ".web-e2e")


def server_env(tmp: Path, port: int, mode: Mode | None = None) -> dict[str, str]:
    """The environment of a server in `mode` on `port` (0 when only the database matters), its
    files under `tmp`: this process's environment minus REFLEX_ENV_DROPPED, plus the harness's."""
    mode = mode or Mode()
    env = {k: v for k, v in environment().items() if k not in REFLEX_ENV_DROPPED}
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
        BULK_UPLOAD_LEGACY_DASHBOARD_URL=_seat_shop(base_url, mode),
        BULK_UPLOAD_STORAGE_DIR=str(tmp / "uploads"),
        # The frontend's env.json gets the backend's address from these (else http://localhost:PORT).
        REFLEX_API_URL=base_url,
        REFLEX_DEPLOY_URL=base_url,
        REFLEX_WEB_WORKDIR=str(web_dir()),
        REFLEX_STATES_WORKDIR=str(tmp / "states"),  # `reflex run` deletes its states dir
        PYTHONUNBUFFERED="1",
        # Embedding (tests/e2e/test_embed.py): only the example host's origin may frame the app.
        BULK_UPLOAD_FRAME_ANCESTORS=f"http://127.0.0.1:{EMBED_HOST_PORT}",
        BULK_UPLOAD_JWT_SECRET=E2E_JWT_SECRET,
        BULK_UPLOAD_JWT_ISSUER=E2E_JWT_ISSUER,
        # Notification email goes to the tests' own SMTP server (read by tests/e2e/test_notification_email.py).
        BULK_UPLOAD_SMTP_URL=f"smtp://127.0.0.1:{MAIL_PORT}",
        BULK_UPLOAD_MAIL_FROM=E2E_MAIL_FROM,
        BULK_UPLOAD_MAIL_CATCHER_DIR=str(tmp / "mail"),
    )
    if mode.demo:
        env["BULK_UPLOAD_DEMO"] = "1"
    if mode.redis_url:
        env["REFLEX_REDIS_URL"] = mode.redis_url
    # The job queue: the mode's Redis database, else the test Redis; a namespace of this server's
    # own (stable across restarts), so servers and workers of other runs never take its jobs.
    env["BULK_UPLOAD_QUEUE_URL"] = mode.redis_url or REDIS_URL
    env["BULK_UPLOAD_QUEUE_NAMESPACE"] = "bulk-upload-test-" + hashlib.sha256(str(tmp).encode()).hexdigest()[:16]
    # A killed worker's job goes to another within seconds (the defaults: 15 s and 60 s).
    env.setdefault("BULK_UPLOAD_QUEUE_HEARTBEAT_SECONDS", "5")
    env.setdefault("BULK_UPLOAD_CREATE_LEASE_SECONDS", "10")
    env.setdefault("REFLEX_USE_NPM", "1")
    env.setdefault("REFLEX_CHECK_LATEST_VERSION", "false")
    env.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    env.setdefault("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org/")  # as dev.sh: no mirror probing
    return env


def prepare_database(env: dict[str, str], log_path: Path) -> None:
    """Migrate and seed the demo company into env's REFLEX_DB_URL (the tests' data in both modes);
    raises StartFailed."""
    for args in (("db", "upgrade"), ("demo-seed",)):
        log_line(log_path, f"python -m bulk_upload_app {' '.join(args)}")
        with log_path.open("a") as log:
            done = subprocess.run(
                [sys.executable, "-m", "bulk_upload_app", *args],
                cwd=REPO,
                env={**env, "BULK_UPLOAD_DEMO": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=120,
                check=False,
            )
        if done.returncode != 0:
            raise StartFailed(
                f"`python -m bulk_upload_app {' '.join(args)}` failed (exit {done.returncode}); "
                f"log {log_path}:\n{log_tail(log_path)}"
            )


def start_server(
    tmp: Path, log_path: Path, timeout: float = START_TIMEOUT, mode: Mode | None = None, port: int | None = None
) -> tuple[subprocess.Popen, AppServer]:
    """Start `reflex run --env prod` in `mode` (its database prepared) on `port` (default: a free
    one) and wait until / and /ping answer 200; raises StartFailed (the server stopped)."""
    mode = mode or Mode()
    port = port or free_port()
    env = server_env(tmp, port, mode)
    base_url = env["REFLEX_API_URL"]
    command = [
        sys.executable,
        "-m",
        "reflex",
        "run",
        "--env",
        "prod",
        "--loglevel",
        "info",
        "--frontend-port",
        str(port),
        "--backend-port",
        str(port),
        "--backend-host",
        "127.0.0.1",
    ]
    log_line(
        log_path,
        f"starting {' '.join(command[1:])} (mode {mode.name}, {mode.workers} worker(s), "
        f"web dir {env['REFLEX_WEB_WORKDIR']})",
    )
    started = time.monotonic()
    job_workers = start_job_workers(env, log_path, mode.job_workers)
    process = launch(command, log_path, env=env)
    try:
        wait_for_urls(
            process, [f"{base_url}/", f"{base_url}/ping"], what="`reflex run`", timeout=timeout, log_path=log_path,
            interval=0.5,
        )  # fmt: skip
    except BaseException as exc:
        for worker in job_workers:
            stop_server(worker, log_path)
        stop_server(process, log_path)
        if isinstance(exc, StartFailed):
            raise StartFailed(f"{exc}\n(Set BULK_UPLOAD_WITHOUT=browser to leave the browser tests out.)") from None
        raise
    elapsed = time.monotonic() - started
    return process, AppServer(
        base_url,
        env["REFLEX_DB_URL"],
        log_path,
        port,
        process.pid,
        elapsed,
        mode=mode,
        tmp=tmp,
        process=process,
        timeout=timeout,
        job_workers=job_workers,
    )


# The job lanes (jobs.py): each has workers of its own, as ./dev.sh and compose start them.
LANES = {"small": SMALL_LANE, "big": BIG_LANE}


def start_job_workers(env: dict[str, str], log_path: Path, per_lane: int) -> list[subprocess.Popen]:
    """`per_lane` workers on each lane's queues."""
    return [start_job_worker(env, log_path, lane) for lane in LANES for _ in range(per_lane)]


def lane_of(worker: subprocess.Popen) -> str:
    return next(lane for lane, queues in LANES.items() if list(queues) == list(worker.args)[-len(queues) :])


def start_job_worker(env: dict[str, str], log_path: Path, lane: str) -> subprocess.Popen:
    """`python -m bulk_upload_app worker --queues <the lane's>` (one process, the lane's default
    threads: 2 on the small lane, 1 on the big one) in its own process group."""
    return launch(
        [sys.executable, "-m", "bulk_upload_app", "worker", "--processes", "1", "--queues", *LANES[lane]],
        log_path,
        env=env,
    )


def stop_server(process: subprocess.Popen, log_path: Path) -> None:
    """SIGTERM the server's whole process group (reflex, Granian workers, node), then SIGKILL what is left."""
    stop_process_group(process, log_path)


def _seat_shop(base_url: str, mode: Mode) -> str:
    return f"{base_url}/legacy-dashboard" if mode.demo else PRODUCTION_SEAT_SHOP


def seat_shop_url(server: AppServer) -> str:
    """Where the seat banner sends admins: the demo seat shop, or the (real) dashboard's."""
    return _seat_shop(server.base_url, server.mode)


def demo_admin_ids(server: AppServer) -> tuple[int, int]:
    """(company id, user id) of the seeded demo company's admin."""
    from sqlalchemy import select

    from bulk_upload_app.db import get_engine, session_scope
    from bulk_upload_app.models import User
    from bulk_upload_app.seed import DEMO_ADMIN_EMAIL

    with session_scope(get_engine(server.db_url), read_only=True) as session:
        user = session.exec(select(User).where(User.email == DEMO_ADMIN_EMAIL)).scalars().one()
        return user.company_id, user.id
