"""The app purges by itself: after start, then every interval, in a thread, never crashing.

The loop gets a fake sleep (which also ends it, as the app's shutdown does, by cancelling) and a
fake purge; nothing here waits for real time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading

import pytest

from bulk_upload_app import housekeeping
from bulk_upload_app.uploads.retention import PurgeResult
from tests.support.paths import REPO


def run_in_own_loop(coroutine):
    """asyncio.run in its own thread: Playwright's sync API may leave a loop running in this one."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def run_loop(purge, *, wakeups: int, first_delay: float = 60) -> list[float]:
    """Run purge_periodically until its `wakeups`-th sleep; the sleeps it asked for."""
    slept: list[float] = []

    async def sleep(seconds):
        slept.append(seconds)
        if len(slept) >= wakeups:
            raise asyncio.CancelledError
        await asyncio.sleep(0)

    async def main():
        with pytest.raises(asyncio.CancelledError):
            await housekeeping.purge_periodically(purge=purge, sleep=sleep, first_delay=first_delay)

    run_in_own_loop(main())
    return slept


@pytest.fixture(autouse=True)
def default_interval(monkeypatch):
    monkeypatch.delenv("BULK_UPLOAD_PURGE_INTERVAL_MINUTES", raising=False)


def test_it_purges_shortly_after_start_then_every_interval(monkeypatch):
    monkeypatch.setenv("BULK_UPLOAD_PURGE_INTERVAL_MINUTES", "15")
    runs = []
    slept = run_loop(lambda: runs.append(1) or PurgeResult(), wakeups=4)
    assert slept == [60, 900, 900, 900] and len(runs) == 3


def test_a_failing_purge_is_logged_and_tried_again(caplog):
    outcomes = iter([RuntimeError("database is down"), PurgeResult(files_removed=["a" * 32 + ".upload"])])

    def purge():
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with caplog.at_level(logging.INFO, logger="bulk_upload"):
        run_loop(purge, wakeups=3)
    failed = [r for r in caplog.records if r.getMessage() == "retention purge failed"]
    assert len(failed) == 1 and "database is down" in str(failed[0].exc_info[1])
    assert any('"bulk_upload.purge"' in r.getMessage() and '"files_removed"' in r.getMessage() for r in caplog.records)


def test_the_purge_runs_in_a_thread_while_the_event_loop_keeps_serving():
    loop_served = threading.Event()
    seen = {}

    def purge():
        # Only a coroutine on the event loop sets the event: if the purge blocked the loop, it never would.
        seen["served"] = loop_served.wait(timeout=10)
        seen["thread"] = threading.get_ident()
        return PurgeResult()

    async def serve_meanwhile():
        while not loop_served.is_set():
            await asyncio.sleep(0.01)
            loop_served.set()

    slept: list[float] = []

    async def sleep(seconds):
        slept.append(seconds)
        if len(slept) == 2:
            raise asyncio.CancelledError

    async def main():
        server = asyncio.create_task(serve_meanwhile())
        with pytest.raises(asyncio.CancelledError):
            await housekeeping.purge_periodically(purge=purge, sleep=sleep, first_delay=0)
        await server
        return threading.get_ident()

    loop_thread = run_in_own_loop(main())
    assert seen["served"] is True and seen["thread"] != loop_thread


@pytest.mark.parametrize("value", ["0", "-3"])
def test_no_interval_or_bad_settings_mean_no_purge_and_no_crash(monkeypatch, value):
    monkeypatch.setenv("BULK_UPLOAD_PURGE_INTERVAL_MINUTES", value)
    runs = []

    async def main():
        await housekeeping.purge_periodically(purge=lambda: runs.append(1), sleep=lambda s: asyncio.sleep(0))

    run_in_own_loop(main())
    assert runs == []


def test_the_app_starts_the_purge_and_the_delivery_with_its_lifespan_and_stops_them_cleanly():
    # A fresh interpreter: importing the app builds Reflex's global app and config.
    script = (
        "import asyncio\n"
        "from bulk_upload_app.bulk_upload_app import app\n"
        "async def main():\n"
        "    async with app._run_lifespan_tasks(None):\n"
        "        await asyncio.sleep(0)\n"
        "        print(sorted(t.get_name().split('|')[1] for t in asyncio.all_tasks()\n"
        "                     if t.get_name().startswith('reflex_lifespan_task|')))\n"
        "asyncio.run(main())\n"
        "print('stopped')\n"
    )
    # no production secrets needed; a queue URL is (nothing connects to it here)
    env = {
        **os.environ,
        "BULK_UPLOAD_DEMO": "1",
        "REFLEX_DB_URL": "sqlite://",
        "BULK_UPLOAD_QUEUE_URL": "redis://127.0.0.1:1/0",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["['deliver_periodically',", "'purge_periodically']", "stopped"]


def test_notifications_are_delivered_every_interval_and_a_failure_never_stops_the_loop(caplog):
    calls: list[str] = []
    slept: list[float] = []

    def deliver():
        calls.append("deliver")
        if len(calls) == 1:
            raise RuntimeError("mail server down")
        return 1

    async def sleep(seconds):
        slept.append(seconds)
        if len(slept) >= 4:
            raise asyncio.CancelledError
        await asyncio.sleep(0)

    with caplog.at_level(logging.ERROR, logger="bulk_upload"), pytest.raises(asyncio.CancelledError):
        run_in_own_loop(housekeeping.deliver_periodically(deliver=deliver, sleep=sleep, interval=60))
    assert calls == ["deliver"] * 3 and slept == [60] * 4
    assert "notification delivery failed" in caplog.text
