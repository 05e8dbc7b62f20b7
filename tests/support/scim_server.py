"""The SCIM service alone, as the app serves it (`http_guard` around `mount_scim`), on a real
Granian HTTP server in its own process: the integration tests' server (the whole Reflex app
needs a frontend build; the browser tests and scim2-tester's run use that one).

`scim_server(db_url, tmp)` starts it on a free port of 127.0.0.1 with REFLEX_DB_URL=db_url and
yields its base URL (.../scim/v2); it is stopped (its process group) afterwards.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bulk_upload_app.http_guard import http_guard
from bulk_upload_app.scim import mount_scim

from .paths import REPO
from .processes import die_with_parent, free_port, http_status, log_tail, stop_process_group


async def _nothing_here(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"not found"})


app = http_guard(mount_scim(_nothing_here))


@contextlib.contextmanager
def scim_server(db_url: str, tmp: Path, timeout: float = 60.0) -> Iterator[str]:
    port = free_port()
    log_path = tmp / f"scim-server-{port}.log"
    env = {**os.environ, "REFLEX_DB_URL": db_url}
    command = [
        sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--no-ws", "tests.support.scim_server:app",
    ]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    base = f"http://127.0.0.1:{port}/scim/v2"
    try:
        deadline = time.monotonic() + timeout
        while http_status(f"{base}/ServiceProviderConfig") != "401":
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the SCIM server did not start:\n{log_tail(log_path)}")
            time.sleep(0.1)
        yield base
    finally:
        stop_process_group(process, log_path)
