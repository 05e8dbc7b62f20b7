"""The `bulk-upload` command in a subprocess, against a database of the test's own."""

from __future__ import annotations

import json
import subprocess
import sys

from bulk_upload_app.settings import environment


def cli(db_url: str, *args: str, demo: bool = True) -> tuple[int, dict | None, str]:
    """`python -m bulk_upload_app ARGS` on `db_url`: (exit code, its JSON when --json, stderr)."""
    env = {**environment(), "REFLEX_DB_URL": db_url}
    env.pop("BULK_UPLOAD_DEMO", None)
    if demo:  # the demo seed needs it; nothing else in the CLI looks at it
        env["BULK_UPLOAD_DEMO"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "bulk_upload_app", *args], capture_output=True, text=True, env=env, timeout=120
    )
    document = json.loads(done.stdout) if "--json" in args and done.stdout.strip() else None
    return done.returncode, document, done.stderr
