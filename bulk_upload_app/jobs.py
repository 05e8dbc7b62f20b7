"""Durable jobs: processing a received file and creating a batch's users run as dramatiq messages
on Redis (BULK_UPLOAD_QUEUE_URL), executed by `bulk-upload worker` processes, never in a web worker.

Why dramatiq: its Redis broker keeps a message in the consuming worker's in-progress set until
the job ends, and every worker process proves it is alive with a heartbeat; when one is killed,
another worker puts its messages back on the queue (`heartbeat_timeout`), so a job survives the
death of its worker with nothing to do by hand. The jobs themselves are safe to run twice: the
processing lease and the create lease (leases.py) let only one
worker at a time act on an upload, and a redelivered job resumes (create) or restarts (processing)
where the database says it is. What a job did is in the database (status, counts, progress), so
any web worker, tab or browser shows it live.

Two lanes, so a big job can never hold every worker: files of BULK_UPLOAD_BIG_FILE_MB or more
and creates of BULK_UPLOAD_BIG_CREATE_ROWS or more go to the big lane's queues (BIG_LANE), everything
else to the small lane's (SMALL_LANE). A lane's workers are simply `bulk-upload worker --queues ...`
processes consuming its queues (dramatiq's own pools; `./dev.sh run` and compose start one pool per
lane), so an admin's 1,000-row file is judged at once however many million-row files are being read,
and a burst of big files waits for the big lane instead of taking the threads small files need.

The same code runs on a single machine with SQLite: `./dev.sh run` starts a Redis server and a
worker per lane beside the app; the workers read the same database file.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import func, select
from sqlmodel import col

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.delivery import outbox
from bulk_upload_app.errors import FileProblem, QueueMissing, UploadBusy, UploadNotFound
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.models import BulkUpload, UploadFile
from bulk_upload_app.settings import get_settings
from bulk_upload_app.statuses import UploadStatus
from bulk_upload_app.uploads import api_imports, capacity, create_lease, creating, lifecycle, processing, records
from bulk_upload_app.uploads.batch import BatchProblem
from bulk_upload_app.uploads.create_lease import CreateRunning

logger = logging.getLogger("bulk_upload.jobs")

FILES_QUEUE = "files"
CREATES_QUEUE = "creates"
BIG_FILES_QUEUE = "files-big"
BIG_CREATES_QUEUE = "creates-big"
SMALL_LANE = (FILES_QUEUE, CREATES_QUEUE)
BIG_LANE = (BIG_FILES_QUEUE, BIG_CREATES_QUEUE)
LONGEST_JOB_MS = 6 * 3600 * 1000  # a million users on a slow database: never cut off mid-create
RETRY_PAUSE_MS = (1_000, 10_000)  # while another worker's lease is fresh: try again soon
# An idle worker asks Redis for a job this often (dramatiq's default, 1 s, is up to a second
# added to every admin's wait for the first rows); ~10 small requests a second a queue.
IDLE_POLL_MS = 100
MAX_TRY_LATER = 720  # ~2 h of waiting for a lease or a file slot


def _try_later(retries: int, exc: BaseException) -> bool:
    """Only "not yet" is retried; any other failure is recorded on the upload for the admin."""
    return isinstance(exc, processing.TryLater) and retries < MAX_TRY_LATER


def _make_broker(url: str, namespace: str, heartbeat_seconds: float) -> dramatiq.Broker:
    if not url:
        return StubBroker()  # imports work without a queue; `enqueue` refuses (QueueMissing)
    return RedisBroker(
        url=url,
        namespace=namespace,
        heartbeat_timeout=int(heartbeat_seconds * 1000),
        # Every fetch also looks for dead workers' messages: the queue is small, the check cheap,
        # and a killed worker's job is taken over within one heartbeat timeout.
        maintenance_chance=1_000_000,
    )


def configure(url: str | None = None, namespace: str | None = None) -> dramatiq.Broker:
    """Point the jobs at a queue (default: the settings'); used at import and by tests."""
    settings = get_settings()
    broker = _make_broker(
        settings.queue_url if url is None else url,
        namespace or settings.queue_namespace,
        settings.queue_heartbeat_seconds,
    )
    dramatiq.set_broker(broker)
    for actor in (process_file, process_big_file, create_users, create_big_batch):
        actor.broker = broker
        broker.declare_actor(actor)
    return broker


# Actors bind to the broker that is current when they are declared. Importing this module reads
# no setting (the CLI reports bad settings itself): the real broker is set by `configure`, which
# the worker entry point (worker.py) runs at import and `enqueue_*` run on first use.
dramatiq.set_broker(StubBroker())


def _limits() -> tuple[ReadLimits, capacity.Limits]:
    settings = get_settings()
    return ReadLimits(max_bytes=settings.max_file_bytes, max_rows=settings.max_rows), capacity.Limits.from_settings(
        settings
    )


def _job(fn: Callable[..., None], name: str, queue: str) -> dramatiq.Actor[..., None]:
    """One job function on one lane's queue (each lane has an actor of its own per job)."""
    return dramatiq.actor(
        actor_name=name,
        queue_name=queue,
        time_limit=LONGEST_JOB_MS,
        retry_when=_try_later,
        min_backoff=RETRY_PAUSE_MS[0],
        max_backoff=RETRY_PAUSE_MS[1],
    )(fn)


def _process_file(upload_id: str, ask_columns: bool = False) -> None:
    """Read, judge and stage a received file (uploads/processing.py)."""
    read_limits, capacity_limits = _limits()
    try:
        status = processing.process(
            get_engine(), upload_id, limits=read_limits, ask_columns=ask_columns, capacity_limits=capacity_limits
        )
    except FileProblem as problem:
        logger.info("upload %s: the file was refused (%s)", upload_id, problem.code.value)
        return
    except UploadNotFound:
        logger.warning("upload %s: gone before its file was processed", upload_id)
        return
    logger.info("upload %s: file processed, %s", upload_id, status)
    if status == UploadStatus.DRAFT:
        _create_if_asked(upload_id)


process_file = _job(_process_file, "process_file", FILES_QUEUE)
process_big_file = _job(_process_file, "process_big_file", BIG_FILES_QUEUE)


def _create_if_asked(upload_id: str) -> None:
    """An upload sent through the HTTP API with create=true: its create is queued once judged."""
    with session_scope() as session:
        follow = api_imports.queue_create_if_asked(session, upload_id, get_settings().legacy_dashboard_url)
    if follow is not None:
        company_id, actor = follow
        enqueue_create(company_id, upload_id, admin_user_id=None, actor=actor)


def _create_users(company_id: int, upload_id: str, admin_user_id: int | None, actor: str) -> None:
    """Create the valid rows' users of an upload (uploads/creating.py), resuming one whose worker died."""
    engine = get_engine()
    with session_scope(engine) as session:
        try:
            upload = records.get_upload(session, company_id, upload_id)
        except UploadNotFound:
            return
        if lifecycle.forget_cancel(upload):  # cancelled before a worker took it
            return
    create_lease.recover_stale(engine, company_id=company_id)
    try:
        creating.create_users(engine, company_id, upload_id, admin_user_id=admin_user_id, actor=actor)
    except CreateRunning as busy:
        raise processing.TryLater(str(busy)) from busy  # its worker may be dead: wait for its lease
    except UploadBusy:
        return  # created already (a redelivered job), or rows purged: nothing to do
    except (FileProblem, BatchProblem) as refused:
        # Seats taken by another batch, or a group deleted, since the admin confirmed: nothing
        # was created; the draft says why.
        _record_problem(company_id, upload_id, refused.message if isinstance(refused, FileProblem) else str(refused))
    except Exception:
        logger.exception("upload %s: creating users stopped; it can be resumed", upload_id)
    _send_notifications(engine)


create_users = _job(_create_users, "create_users", CREATES_QUEUE)
create_big_batch = _job(_create_users, "create_big_batch", BIG_CREATES_QUEUE)


def _send_notifications(engine) -> None:
    """The email about a batch's end goes from the worker that ended it (the outbox makes it once)."""
    try:
        outbox.deliver_due(engine)
    except Exception:
        logger.exception("sending notifications failed; the app's periodic delivery retries them")


def _record_problem(company_id: int, upload_id: str, problem: str) -> None:
    with session_scope() as session:
        try:
            upload = records.get_upload(session, company_id, upload_id)
        except UploadNotFound:
            return
        lifecycle.create_refused(upload, problem)
        session.add(upload)


def _send(actor: Any, *args: Any) -> None:
    if isinstance(actor.broker, StubBroker):
        configure()
    if isinstance(actor.broker, StubBroker):
        raise QueueMissing("No job queue is configured: set BULK_UPLOAD_QUEUE_URL to a Redis server.")
    actor.send(*args)


def enqueue_processing(upload_id: str, *, ask_columns: bool = False) -> None:
    """Queue the received file on its lane: the big one from BULK_UPLOAD_BIG_FILE_MB on (the rows
    are not counted yet; bytes are what the upload stored)."""
    # By id alone, not records.get_upload: the id is the one `receive` made a moment ago in
    # this process, never one from outside, and the file's size is all that is read.
    with session_scope(read_only=True) as session:
        size = session.execute(
            select(func.length(col(UploadFile.data))).where(col(UploadFile.upload_id) == upload_id)
        ).scalar_one_or_none()
    big = (size or 0) >= get_settings().big_file_bytes
    _send(process_big_file if big else process_file, upload_id, ask_columns)


def enqueue_create(company_id: int, upload_id: str, *, admin_user_id: int | None, actor: str) -> None:
    """Queue a batch's create on its lane: the big one from BULK_UPLOAD_BIG_CREATE_ROWS valid rows on."""
    # One column within the company, not records.get_upload: a gone upload still gets its job
    # (on the small lane), which finds nothing and ends, as the callers expect of a queue.
    with session_scope(read_only=True) as session:
        rows = session.execute(
            select(col(BulkUpload.valid_rows)).where(
                col(BulkUpload.id) == upload_id, col(BulkUpload.company_id) == company_id
            )
        ).scalar_one_or_none()
    big = (rows or 0) >= get_settings().big_create_rows
    _send(create_big_batch if big else create_users, company_id, upload_id, admin_user_id, actor)


QUEUES = (*SMALL_LANE, *BIG_LANE)


def worker_threads(queues: Sequence[str] = ()) -> int:
    """Jobs at once per process of a worker on `queues` (default: every queue): a big-lane
    worker's BULK_UPLOAD_WORKER_BIG_THREADS, any other's BULK_UPLOAD_WORKER_THREADS."""
    settings = get_settings()
    return settings.worker_big_threads if queues and set(queues) <= set(BIG_LANE) else settings.worker_threads


def run_worker(processes: int | None = None, threads: int | None = None, queues: Sequence[str] = ()) -> None:
    """`bulk-upload worker`: dramatiq's own worker runner (processes, threads, signals, restarts)
    on `queues` (default: every queue, both lanes); replaces the current process. A lane's pool
    is one such worker on its queues."""
    settings = get_settings()
    if not settings.queue_url:
        raise QueueMissing("No job queue is configured: set BULK_UPLOAD_QUEUE_URL to a Redis server.")
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown:  # dramatiq would wait on them for ever
        raise ValueError(f"No such queue: {', '.join(unknown)} (the queues are {', '.join(QUEUES)}).")
    threads = threads or worker_threads(queues)
    argv = [
        sys.executable,
        "-m",
        "dramatiq",
        "bulk_upload_app.worker",
        "--processes",
        str(processes or settings.worker_processes),
        "--threads",
        str(threads),
        "--queues",
        *(queues or QUEUES),
    ]
    # Read by dramatiq's own runner. A worker takes no more jobs than it has threads to run (by
    # default it fetches twice as many): a job waiting behind a long one in this process would
    # wait while another process of the pool stands idle.
    os.environ.setdefault("dramatiq_worker_timeout", str(IDLE_POLL_MS))
    os.environ.setdefault("dramatiq_queue_prefetch", str(threads))
    os.execv(sys.executable, argv)
