"""The `bulk-upload` CLI as a child process, on a database of the benchmark's own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bulk_upload_app.settings import PROJECT_ROOT, environment


def cli(env: dict[str, str], *args: str) -> dict:
    """Run `python -m bulk_upload_app ARGS --json` with `env`; its JSON answer."""
    done = subprocess.run(
        [sys.executable, "-m", "bulk_upload_app", *args, "--json"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def company_and_env(db_url: str, workdir: Path) -> tuple[dict[str, str], int]:
    """The environment of the CLI (and servers) on `db_url`, and a new company with seats to spare."""
    env = {
        **environment(),
        "REFLEX_DB_URL": db_url,
        "BULK_UPLOAD_STORAGE_DIR": str(workdir / "uploads"),
        "BULK_UPLOAD_LEGACY_DASHBOARD_URL": "https://dashboard.example.com/seats",
        "BULK_UPLOAD_API_RATE_LIMIT": "1000000",
    }
    company = cli(env, "company", "create", "--name", "Bench", "--seats", "10000000")
    return env, int(company["id"])
