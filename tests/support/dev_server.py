"""`./dev.sh run`, the development server (Granian with hot reload), for tests/e2e/test_dev_server.py.

`run_dev_server` runs dev.sh itself (so whatever dev.sh run sets is what is tested), with its own
defaults for the database and the upload dir, in a temporary copy of the repository (the tracked
and untracked-but-not-ignored files), so the developer's own `.var/` is never touched. The copy
reuses the running virtualenv and the project's `.tools/` (symlinks), and a web dir kept between
runs, `<repo>/.web-e2e-dev` (REFLEX_WEB_WORKDIR; npm install only the first time).

The virtualenv must be installed for this pyproject.toml (dev.sh's install stamp): otherwise the
dev.sh in the copy would reinstall the shared virtualenv, pointing its editable install at the copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bulk_upload_app.settings import environment
from tests.support.app_server import START_TIMEOUT
from tests.support.paths import REPO
from tests.support.processes import StartFailed, free_port, group_pids, log_line, serving

# Granian, at debug level: "Changes detected, reloading workers..", "Modified: <path>", "Spawning worker-1 with PID: <pid>".
RESTART_LINE = re.compile(r"changes detected|reloading workers|modified: |spawning worker", re.IGNORECASE)
SPAWNED_PID = re.compile(r"spawning worker-\d+ with pid: (\d+)", re.IGNORECASE)
DEV_WEB_DIR = REPO / ".web-e2e-dev"


@dataclass
class DevServer:
    """A running `./dev.sh run` in a copy of the repository."""

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
        for pid in group_pids(self.process.pid) - {self.process.pid}:
            with contextlib.suppress(OSError):
                if "python" in Path(f"/proc/{pid}/exe").resolve().name:
                    found.add(pid)
        return found


def copy_repository(target: Path) -> None:
    """Copy the repository's tracked and untracked-but-not-ignored files into `target`."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():  # a deleted-but-tracked file is not in a fresh clone of this tree either
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def link_installed_tools(target: Path) -> None:
    """Point the copy's .venv and .tools at the ones already installed, so dev.sh installs nothing.
    Raises StartFailed outside a virtualenv, or when its install stamp does not match pyproject.toml."""
    venv = Path(sys.prefix)
    if venv == Path(sys.base_prefix):
        raise StartFailed("run the tests from the project's virtualenv (./dev.sh test does)")
    # dev.sh reinstalls (`pip install -e .`) when its stamp does not match pyproject.toml: here that
    # would point the shared virtualenv's editable install at this temporary copy.
    want = hashlib.sha256((REPO / "pyproject.toml").read_bytes() + f"{sys.version}\n".encode()).hexdigest()
    stamp = venv / ".bulk-upload-install-stamp"
    have = stamp.read_text().strip() if stamp.exists() else "(none)"
    if have != want:
        raise StartFailed(
            f"{venv} is not installed for this pyproject.toml ({stamp}: {have}); run ./dev.sh test "
            "once, so that the dev.sh run in the test does not reinstall the shared virtualenv."
        )
    (target / ".venv").symlink_to(venv)
    for tools in (REPO / ".tools", venv.parent / ".tools"):  # a worktree shares its checkout's
        if tools.is_dir():
            (target / ".tools").symlink_to(tools)
            break


def dev_env(web_dir: Path) -> dict[str, str]:
    """This process's environment without anything that would choose the database, the upload
    dir or the ports: dev.sh's defaults are what is under test."""
    env = {
        k: v
        for k, v in environment().items()
        if not k.startswith(("REFLEX_", "BULK_UPLOAD_", "GRANIAN_", "VIRTUAL_ENV"))
    }
    # The job queue's keys of its own: a `./dev.sh run` of a developer on the same Redis must not
    # take this server's jobs (its worker would read another database).
    env.update(
        REFLEX_WEB_WORKDIR=str(web_dir),
        PYTHONUNBUFFERED="1",
        BULK_UPLOAD_QUEUE_NAMESPACE=f"bulk-upload-dev-test-{os.getpid()}",
    )
    return env


@contextlib.contextmanager
def run_dev_server(tmp: Path, timeout: float = START_TIMEOUT, web_dir: Path = DEV_WEB_DIR) -> Iterator[DevServer]:
    """`./dev.sh run --loglevel debug` on two free ports in a copy of the repository under `tmp`,
    until the frontend and /ping answer; stopped (its process group) at the end. Raises StartFailed."""
    root = tmp / "repo"
    root.mkdir()
    copy_repository(root)
    link_installed_tools(root)
    log_path = tmp / "dev-server.log"
    frontend_port, backend_port = free_port(), free_port()
    while backend_port == frontend_port:
        backend_port = free_port()
    command = [
        "./dev.sh",
        "run",
        "--frontend-port",
        str(frontend_port),
        "--backend-port",
        str(backend_port),
        "--loglevel",
        "debug",
    ]
    log_line(log_path, f"starting {' '.join(command)} in {root}")
    frontend_url, backend_url = f"http://localhost:{frontend_port}", f"http://localhost:{backend_port}"
    started = time.monotonic()
    urls = [f"{frontend_url}/", f"{backend_url}/ping"]
    try:
        with serving(
            command, log_path, urls, what="`./dev.sh run`", timeout=timeout, env=dev_env(web_dir), cwd=root,
            interval=0.5,
        ) as process:  # fmt: skip
            log_line(log_path, f"dev server answers after {time.monotonic() - started:.1f} s")
            yield DevServer(root, frontend_url, backend_url, log_path, process)
    except StartFailed as exc:
        raise StartFailed(f"{exc}\n(Set BULK_UPLOAD_WITHOUT=browser to leave the browser tests out.)") from None
