"""Does a small file wait for a big one? Seconds for a small file to be judged by real
`bulk-upload worker` processes, alone and while a big file is being judged.

    python scripts/lane_latency.py                      # the workers ./dev.sh starts (one per lane)
    python scripts/lane_latency.py --big-rows 300000 --small-rows 1000 --db sqlite
    python scripts/lane_latency.py --worker "worker"    # any worker layout: one --worker per process

Each run uses a fresh database (a SQLite file, or a PostgreSQL schema) and a queue namespace of
its own on BULK_UPLOAD_QUEUE_URL (default: the local Redis), so it can run beside anything.
Prints one JSON line: the small file alone, the small file queued while the big one is judged,
the big file, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import _bootstrap
from sqlalchemy import select

from bench.databases import fresh_db

REPO = _bootstrap.REPO
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_QUEUE = "redis://127.0.0.1:6379/0"
LANE_WORKERS = ["worker --queues files creates", "worker --queues files-big creates-big"]  # as ./dev.sh starts them


def write_users(path: Path, rows: int, run: str) -> None:
    rng = random.Random(rows)
    with path.open("w", encoding="utf-8") as out:
        out.write("firstname,lastname,email,countryprefix,phone\n")
        for i in range(rows):
            out.write(f"Ada,Lovelace,ada.{i}.{run}@example{i % 20}.com,+44,07{rng.randint(400000000, 999999999)}\n")


def start_worker(command: str) -> subprocess.Popen:
    worker = subprocess.Popen(
        [sys.executable, "-m", "bulk_upload_app", *shlex.split(command)],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stderr is not None
    for line in worker.stderr:  # dramatiq logs it once its threads are up
        if "is ready for action" in line:
            break
    else:
        raise SystemExit(f"worker {command!r} stopped before it was ready")
    # Keep reading its log, so a full pipe never blocks it.
    threading.Thread(target=worker.stderr.read, daemon=True).start()
    return worker


def judged_after(engine, upload_ids: list[str], start: float, timeout: float = 900) -> dict[str, float]:
    """Seconds from `start` until each upload left "processing"."""
    from bulk_upload_app.models import BulkUpload

    done: dict[str, float] = {}
    while len(done) < len(upload_ids):
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"not judged within {timeout} s: {set(upload_ids) - set(done)}")
        with engine.connect() as conn:
            rows = conn.execute(
                select(BulkUpload.id, BulkUpload.status).where(BulkUpload.id.in_(upload_ids))  # type: ignore[attr-defined]
            ).all()
        for upload_id, status in rows:
            if status != "processing" and upload_id not in done:
                done[upload_id] = round(time.perf_counter() - start, 2)
        time.sleep(0.05)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--big-rows", type=int, default=300_000)
    parser.add_argument("--small-rows", type=int, default=1_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--queue-url", default=DEFAULT_QUEUE)
    parser.add_argument(
        "--worker", action="append", help=f"`bulk-upload` arguments of one worker (default {LANE_WORKERS})"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        run = uuid.uuid4().hex[:8]
        url, drop = fresh_db(args.db, workdir, args.pg_url)
        # The workers and this process read the same settings (settings.py reads the environment).
        for name, value in {
            "REFLEX_DB_URL": url,
            "BULK_UPLOAD_QUEUE_URL": args.queue_url,
            "BULK_UPLOAD_QUEUE_NAMESPACE": f"lanes-{run}",
            "BULK_UPLOAD_DEMO": "1",
        }.items():
            os.environ[name] = value
        workers: list[subprocess.Popen] = []
        try:
            from bulk_upload_app import jobs
            from bulk_upload_app.db import get_engine, session_scope
            from bulk_upload_app.models import Company
            from bulk_upload_app.seed import seed_demo
            from bulk_upload_app.uploads import pipeline

            engine = get_engine()
            with session_scope(engine) as session:
                company_id = seed_demo(session)
                company = session.get(Company, company_id)
                assert company is not None
                company.seats = 10_000_000

            def received(rows: int, name: str) -> str:
                path = workdir / name
                write_users(path, rows, f"{run}{name[:1]}")
                return pipeline.receive(
                    engine,
                    company_id=company_id,
                    admin_user_id=None,
                    file_name=name,
                    data=path.read_bytes(),
                    user_type="agent",
                )

            first_small = received(args.small_rows, "alone.csv")
            second_small = received(args.small_rows, "beside.csv")
            big = received(args.big_rows, "big.csv")
            workers = [start_worker(command) for command in (args.worker or LANE_WORKERS)]

            start = time.perf_counter()
            jobs.enqueue_processing(first_small)
            alone = judged_after(engine, [first_small], start)[first_small]

            start = time.perf_counter()
            jobs.enqueue_processing(big)
            time.sleep(1.0)  # the big file is being read and judged
            small_start = time.perf_counter()
            jobs.enqueue_processing(second_small)
            beside = judged_after(engine, [second_small], small_start)[second_small]
            big_s = judged_after(engine, [big], start)[big]
            print(
                json.dumps(
                    {
                        "db": args.db,
                        "workers": args.worker or LANE_WORKERS,
                        "small_rows": args.small_rows,
                        "big_rows": args.big_rows,
                        "small_alone_s": alone,
                        "small_during_big_s": beside,
                        "big_s": big_s,
                        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
                    }
                ),
                flush=True,
            )
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
            drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
