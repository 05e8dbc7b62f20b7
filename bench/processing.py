"""Where a big file's processing time goes: `python -m bench --process 1000000`.

For each database, in a fresh process on a fresh database: the file is received as the wizard
receives it (`pipeline.receive`: the bytes stored for the workers), then judged by the real job
function (`jobs._process_file`, what a `bulk-upload worker` runs), with no browser and no queue.
Each phase's time is summed by wrapping the functions that do it, in this process only; "first
chunk" is when the first rows were committed (what the first grid page waits for), "judged" when
the upload became a draft. Writes bench-results/processing.json.

`--poll` adds what the wizard's page does while a file is judged: another process reads the
upload's counts and first page twice a second (the web worker's progress poll), so the worker's
SQLite writes share the database with a reader as they do in the app.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.databases import fresh_db, results_dir
from bench.files import generate
from bulk_upload_app.settings import PROJECT_ROOT, environment
from tests.support.processes import launch, stop_process_group, wait_for_log_line

# (module, attribute, phase): the functions whose time is a phase of processing a file.
_PHASES = [
    ("bulk_upload_app.uploads.processing", "read_raw", "read"),
    ("bulk_upload_app.uploads.processing", "_parse", "match columns"),
    ("bulk_upload_app.uploads.processing", "_same_start", "compare head"),
    ("bulk_upload_app.uploads.processing", "validate_rows", "validate"),
    ("bulk_upload_app.uploads.staging", "check_against_account", "account check"),
    ("bulk_upload_app.uploads.processing", "check_against_account", "account check"),
    ("bulk_upload_app.uploads.staging", "_copy_staged", "insert rows"),
    ("bulk_upload_app.uploads.processing", "_beat", "lease + counts"),
    ("bulk_upload_app.uploads.lifecycle", "record_staged", "audit"),
]


@contextmanager
def _timed(phases: list[tuple[str, str, str]], totals: dict[str, float]):
    """Sum the time of each listed function into `totals` (nested phases are not subtracted)."""
    import importlib

    from sqlmodel import Session

    saved: list[tuple[Any, str, Any]] = []

    def wrap(fn: Callable, phase: str) -> Callable:
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                totals[phase] += time.perf_counter() - start

        return timed

    for module_name, attribute, phase in phases:
        module = importlib.import_module(module_name)
        if hasattr(module, attribute):
            saved.append((module, attribute, getattr(module, attribute)))
            setattr(module, attribute, wrap(getattr(module, attribute), phase))
    saved.append((Session, "commit", Session.commit))
    Session.commit = wrap(Session.commit, "commit")  # type: ignore[method-assign]
    try:
        yield
    finally:
        for owner, attribute, original in reversed(saved):
            setattr(owner, attribute, original)


def process_one(path: str, *, via_worker: bool = False) -> dict:
    """One measured run in this process, on the database of REFLEX_DB_URL (already migrated);
    `via_worker`: the job is queued for a `bulk-upload worker` started here (BULK_UPLOAD_QUEUE_URL),
    as the wizard queues it, and only the times the database shows are measured."""
    from bulk_upload_app import jobs
    from bulk_upload_app.db import get_engine, session_scope
    from bulk_upload_app.models import BulkUpload, Company
    from bulk_upload_app.seed import seed_demo
    from bulk_upload_app.uploads import pipeline, processing

    engine = get_engine()
    with session_scope(engine) as session:
        company_id = seed_demo(session)
        company = session.get(Company, company_id)
        assert company is not None
        company.seats = 10_000_000
    processing.warm_up()  # as the worker does when it starts

    start = time.perf_counter()
    data = Path(path).read_bytes()
    upload_id = pipeline.receive(
        engine,
        company_id=company_id,
        admin_user_id=None,
        file_name=Path(path).name,
        data=data,
        user_type="agent",
        actor="bench",
    )
    received = time.perf_counter() - start

    if via_worker:
        return {"receive_s": round(received, 2), **_through_worker(engine, upload_id)}
    totals: dict[str, float] = defaultdict(float)
    first_chunk: list[float] = []
    # What commits a chunk (`stage` on code from before chunks were written by a thread of their own).
    writes = "_write" if hasattr(processing._Staging, "_write") else "stage"
    write = getattr(processing._Staging, writes)

    def write_noting_first(self, *args, **kwargs):
        write(self, *args, **kwargs)
        if not first_chunk and self.staged:
            first_chunk.append(time.perf_counter())

    setattr(processing._Staging, writes, write_noting_first)
    cpu = time.process_time()
    start = time.perf_counter()
    with _timed(_PHASES, totals):
        jobs._process_file(upload_id)
    judged = time.perf_counter() - start
    cpu = time.process_time() - cpu
    setattr(processing._Staging, writes, write)
    with session_scope(engine, read_only=True) as session:
        upload = session.get(BulkUpload, upload_id)
        assert upload is not None
        counts = {"status": upload.status, "rows": upload.total_rows, "valid": upload.valid_rows}
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if database and Path(f"{database}-wal").exists():
        counts["wal_mb"] = round(Path(f"{database}-wal").stat().st_size / 2**20)
    return {
        **counts,
        "receive_s": round(received, 2),
        "first_chunk_s": round(first_chunk[0] - start, 2) if first_chunk else None,
        "judged_s": round(judged, 2),
        "cpu_s": round(cpu, 2),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "phases_s": {phase: round(seconds, 2) for phase, seconds in sorted(totals.items(), key=lambda kv: -kv[1])},
    }


def _cpu_seconds_of_tree(pid: int) -> float:
    """CPU seconds used so far by a process and its descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _through_worker(engine, upload_id: str) -> dict:
    """Queue the received upload for a real worker process and follow it as the page does."""
    from sqlalchemy import select

    from bulk_upload_app import jobs
    from bulk_upload_app.db import session_scope
    from bulk_upload_app.models import BulkUpload

    log = Path(tempfile.mkdtemp(prefix="bench-worker-")) / "worker.log"
    worker = launch([sys.executable, "-m", "bulk_upload_app", "worker"], log, cwd=PROJECT_ROOT)
    try:
        # Its threads are up (dramatiq logs it): the wizard's worker is always running.
        wait_for_log_line(worker, "is ready for action", what="the worker", timeout=120, log_path=log)
        cpu = _cpu_seconds_of_tree(worker.pid)
        start = time.perf_counter()
        jobs.enqueue_processing(upload_id)
        first = None
        while True:
            with session_scope(engine, read_only=True) as session:
                status, rows = session.execute(
                    select(BulkUpload.status, BulkUpload.total_rows).where(BulkUpload.id == upload_id)
                ).one()
            now = time.perf_counter() - start
            if first is None and rows:
                first = now
            if status != "processing":
                return {
                    "status": status,
                    "first_chunk_s": round(first or now, 2),
                    "judged_s": round(now, 2),
                    "worker_cpu_s": round(_cpu_seconds_of_tree(worker.pid) - cpu, 2),
                }
            time.sleep(0.1)
    finally:
        stop_process_group(worker, log)


def _poll(db_url: str, stop: Path) -> subprocess.Popen:
    """Another process reading what the wizard's page polls, until `stop` exists."""
    code = f"""
import time
from pathlib import Path
from sqlalchemy import select
from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.models import BulkUpload, BulkUploadRow
engine = get_engine({db_url!r})
print("poller", "ready", flush=True)
while not Path({str(stop)!r}).exists():
    with session_scope(engine, read_only=True) as session:
        upload = session.execute(select(BulkUpload).order_by(BulkUpload.created_at.desc()).limit(1)).scalar()
        if upload is not None:
            session.execute(
                select(BulkUploadRow).where(BulkUploadRow.upload_id == upload.id).order_by(BulkUploadRow.row_number).limit(50)
            ).all()
    time.sleep(0.5)
"""
    log = stop.with_name("poller.log")
    since = log.stat().st_size if log.exists() else 0  # one log for every run of this bench
    poller = launch([sys.executable, "-c", code], log, cwd=PROJECT_ROOT)
    # Its imports done: they are not the worker's to wait for. (Its code, in the log's first line,
    # prints the two words apart.)
    wait_for_log_line(poller, "poller ready", what="the poller", timeout=60, log_path=log, since=since)
    return poller


def process_bench(
    rows: int, databases: list[str], pg_url: str, *, runs: int = 1, poll: bool = False, via_worker: bool = False
) -> int:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        file = workdir / f"users-{rows}.csv"
        generate(file, rows, 0.05)
        for _ in range(runs):
            for db in databases:
                url, cleanup = fresh_db(db, workdir, pg_url)
                stop = workdir / "stop-poll"
                stop.unlink(missing_ok=True)
                poller = _poll(url, stop) if poll else None
                try:
                    out = subprocess.run(
                        [sys.executable, "-m", "bench", "--process-one", str(file)]
                        + (["--worker"] if via_worker else []),
                        check=True,
                        capture_output=True,
                        text=True,
                        cwd=PROJECT_ROOT,
                        env={**environment(), "REFLEX_DB_URL": url},
                    )
                finally:
                    if poller is not None:
                        stop.touch()
                        poller.wait()
                    cleanup()
                result = {
                    "rows": rows,
                    "db": db,
                    "file_mb": round(file.stat().st_size / 2**20, 1),
                    "poll": poll,
                    "via_worker": via_worker,
                    "load_avg": round(os.getloadavg()[0], 2),
                    **json.loads(out.stdout.strip().splitlines()[-1]),
                }
                results.append(result)
                print(json.dumps(result), flush=True)
    (results_dir() / "processing.json").write_text(json.dumps(results, indent=2))
    return 0
