"""The SCIM service alone, as the app serves it (`http_guard` around `mount_scim`), on a real
Granian HTTP server in its own process: the integration tests' server (the whole Reflex app
needs a frontend build; the browser tests and scim2-tester's run use that one).

`scim_server(db_url, tmp)` starts it on a free port of 127.0.0.1 with REFLEX_DB_URL=db_url and
yields its base URL (.../scim/v2); it is stopped (its process group) afterwards.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from bulk_upload_app.http_guard import http_guard
from bulk_upload_app.scim import mount_scim
from bulk_upload_app.settings import environment
from tests.support.processes import free_port, serving


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
    env = {**environment(), "REFLEX_DB_URL": db_url}
    command = [
        sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--no-ws", "tests.support.scim_server:app",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}/scim/v2"
    ready = [f"{base}/ServiceProviderConfig"]  # 401: up, and asking for a token
    with serving(
        command, log_path, ready, what="the SCIM server", timeout=timeout, env=env, status="401", interval=0.1
    ):
        yield base
