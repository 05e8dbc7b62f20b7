"""The real app's backend, `reflex run --env prod --backend-only`, for tests of its HTTP API.

The backend is the whole ASGI app as production runs it (Reflex's routes, the import API mounted
through `api_transformer`, `http_guard` around both) without the frontend build, so it answers
within seconds. Same environment as tests.support.app_server (its `Mode`s: SQLite with one
worker, or PostgreSQL + Redis with two workers and demo mode off) and its `bulk-upload worker`s
for the jobs, database migrated and seeded.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.app_server import Mode, prepare_database, server_env, start_job_workers
from tests.support.processes import free_port, log_line, serving, stop_process_group

START_TIMEOUT = 120.0


@dataclass(frozen=True)
class ApiServer:
    base_url: str
    db_url: str
    env: dict[str, str]
    log_path: Path


@contextlib.contextmanager
def api_server(tmp: Path, mode: Mode, **extra_env: str) -> Iterator[ApiServer]:
    port = free_port()
    env = {**server_env(tmp, port, mode), **extra_env}
    log_path = tmp / "api-server.log"
    prepare_database(env, log_path)
    command = [
        sys.executable,
        "-m",
        "reflex",
        "run",
        "--env",
        "prod",
        "--backend-only",
        "--loglevel",
        "info",
        "--backend-port",
        str(port),
        "--backend-host",
        "127.0.0.1",
    ]
    log_line(log_path, f"mode {mode.name}")
    job_workers = start_job_workers(env, log_path, mode.job_workers)
    base_url = f"http://127.0.0.1:{port}"
    try:
        with serving(
            command, log_path, [f"{base_url}/api/v1/openapi.json"], what="the API", timeout=START_TIMEOUT, env=env,
            interval=0.3,
        ):  # fmt: skip
            yield ApiServer(base_url, env["REFLEX_DB_URL"], env, log_path)
    finally:
        for worker in job_workers:
            stop_process_group(worker, log_path)
