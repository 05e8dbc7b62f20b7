"""The servers the tests start, as processes: ports, probes, logs, process groups, stopping.

A server runs as its own process group (start_new_session=True), so stopping it stops
everything it started (reflex, Granian supervisor and workers, node).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


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
