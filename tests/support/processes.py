"""The one launcher of the servers and workers the tests, benchmarks and scripts start: start a
process (`launch`), wait until it answers (`wait_for_urls`, `wait_for_port`), stop it
(`stop_process_group`); `serving` does all three around a `with` block. Also free ports, HTTP
probes and the harness's lines in a server's log.

A server runs as its own process group (start_new_session=True), so stopping it stops
everything it started (reflex, Granian supervisor and workers, node). What a server is started
with (its command, its environment) is its module's: app_server, api_server, scim_server,
dev_server, bench/.
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from tests.support.paths import REPO


class StartFailed(RuntimeError):
    """A server (or its preparation) did not come up; the message ends with its log's tail."""


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(url: str) -> str:
    """The HTTP status of a GET of `url` ("200", "404"...), or the name of the error that prevented one."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.status)
    except urllib.error.HTTPError as exc:
        return str(exc.code)
    except (OSError, ValueError) as exc:
        return type(exc).__name__


def log_line(path: Path, message: str) -> None:
    """Append a time-stamped harness line to a server's log."""
    with path.open("a") as log:
        log.write(f"[e2e {time.strftime('%H:%M:%S')}] {message}\n")


def log_tail(path: Path, lines: int = 60) -> str:
    """The last `lines` lines of a log (or why there is none)."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def group_pids(pgid: int) -> set[int]:
    """Every process of the process group `pgid` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp ...
        if int(fields[2]) == pgid:
            found.add(int(entry.name))
    return found


def die_with_parent() -> None:
    """Popen's preexec_fn: in the child before exec, get SIGTERM if the parent (pytest, a script)
    dies without its teardown (Linux only, PR_SET_PDEATHSIG; best effort)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def stop_process_group(process: subprocess.Popen, log_path: Path) -> None:
    """SIGTERM the server's whole process group (reflex, Granian workers, node), then SIGKILL what is left."""
    pgid = process.pid  # start_new_session=True: the group is led by the process we started
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
                    log_line(log_path, f"server stopped ({sig.name}, exit {process.returncode})")
                    return
            time.sleep(0.2)
    try:
        os.killpg(pgid, 0)
        log_line(log_path, f"WARNING: process group {pgid} still has members")
    except ProcessLookupError:
        log_line(log_path, f"server stopped (exit {process.returncode})")


def launch(
    command: Sequence[str], log_path: Path, *, env: Mapping[str, str] | None = None, cwd: Path = REPO
) -> subprocess.Popen:
    """Start `command` as its own process group, its output appended to `log_path`, no stdin; on
    Linux it gets SIGTERM if this process dies without stopping it. `env` None: this process's."""
    log_line(log_path, f"starting {' '.join(str(part) for part in command)}")
    with log_path.open("a") as log:
        return subprocess.Popen(
            list(command),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )


def _wait(
    process: subprocess.Popen,
    probe: Callable[[], tuple[bool, str]],
    *,
    what: str,
    timeout: float,
    log_path: Path,
    interval: float,
    note_every: float,
) -> float:
    """Poll `probe` (ready?, what it saw) until ready; the seconds it took. StartFailed, with the
    log's tail, when the process exits first or `timeout` passes (the process is left running)."""
    started = time.monotonic()
    next_note = started + note_every
    while True:
        if process.poll() is not None:
            problem = f"{what} exited with code {process.returncode} before it answered"
            break
        ready, seen = probe()
        now = time.monotonic()
        if ready:
            log_line(log_path, f"{what} answers after {now - started:.1f} s")
            return now - started
        if now > started + timeout:
            problem = f"{what} did not answer within {timeout:.0f} s ({seen})"
            break
        if now > next_note:
            log_line(log_path, f"waiting {now - started:.0f} s for {what}: {seen}")
            next_note = now + note_every
        time.sleep(interval)
    raise StartFailed(f"{problem}. Log {log_path} ends with:\n{log_tail(log_path, 80)}")


def wait_for_urls(
    process: subprocess.Popen,
    urls: Sequence[str],
    *,
    what: str,
    timeout: float,
    log_path: Path,
    status: str = "200",
    interval: float = 0.2,
    note_every: float = 15.0,
) -> float:
    """Wait until a GET of every one of `urls` answers `status`; the seconds it took (see `_wait`)."""

    def probe() -> tuple[bool, str]:
        seen = {url: http_status(url) for url in urls}
        return all(s == status for s in seen.values()), ", ".join(f"{u} -> {s}" for u, s in seen.items())

    return _wait(
        process, probe, what=what, timeout=timeout, log_path=log_path, interval=interval, note_every=note_every
    )


def wait_for_port(
    process: subprocess.Popen,
    port: int,
    *,
    what: str,
    timeout: float,
    log_path: Path,
    interval: float = 0.1,
) -> float:
    """Wait until something accepts TCP connections on 127.0.0.1:`port` (a non-HTTP server)."""

    def probe() -> tuple[bool, str]:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError as exc:
            return False, f"port {port}: {type(exc).__name__}"
        return True, f"port {port} open"

    return _wait(process, probe, what=what, timeout=timeout, log_path=log_path, interval=interval, note_every=15.0)


def wait_for_log_line(
    process: subprocess.Popen,
    needle: str,
    *,
    what: str,
    timeout: float,
    log_path: Path,
    since: int = 0,
    interval: float = 0.1,
) -> float:
    """Wait until `needle` appears in the process's log after byte `since` (a server without a
    port, e.g. a worker that logs when its threads are up)."""

    def probe() -> tuple[bool, str]:
        with log_path.open("rb") as log:
            log.seek(since)
            return needle.encode() in log.read(), f"no {needle!r} in its log yet"

    return _wait(process, probe, what=what, timeout=timeout, log_path=log_path, interval=interval, note_every=15.0)


@contextlib.contextmanager
def serving(
    command: Sequence[str],
    log_path: Path,
    urls: Sequence[str],
    *,
    what: str,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path = REPO,
    status: str = "200",
    interval: float = 0.2,
) -> Iterator[subprocess.Popen]:
    """`launch`, `wait_for_urls`, then the `with` block; the process group is stopped on the way
    out, also when it did not start (StartFailed)."""
    process = launch(command, log_path, env=env, cwd=cwd)
    try:
        wait_for_urls(process, urls, what=what, timeout=timeout, log_path=log_path, status=status, interval=interval)
        yield process
    finally:
        stop_process_group(process, log_path)
