"""The retention purge as the app runs it by itself: shortly after start, then every interval.

Plain asyncio, no Reflex import: the app registers `purge_periodically` as a lifespan task, and
the tests drive it with their own purge and sleep. The purge is blocking database and file work,
so it runs in a thread; the event loop keeps serving admins meanwhile. Every web worker runs its
own loop (GRANIAN_WORKERS=2): the purge is safe to run concurrently (see uploads/retention.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from bulk_upload_app.db import get_engine
from bulk_upload_app.settings import SettingsError, get_settings
from bulk_upload_app.uploads import retention

logger = logging.getLogger("bulk_upload")

# Long enough for the server to finish starting (and a fresh deploy to migrate) before the
# first purge competes with it; short enough that a restart loop cannot keep data forever.
FIRST_PURGE_AFTER_SECONDS = 60


def run_purge() -> retention.PurgeResult:
    """One purge with the configured rules, database and storage dir."""
    settings = get_settings()
    rules = retention.Rules(draft_days=settings.draft_days, retention_days=settings.retention_days)
    return retention.purge(get_engine(), settings.storage_dir, rules=rules)


async def purge_periodically(
    *,
    purge: Callable[[], retention.PurgeResult] = run_purge,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    first_delay: float = FIRST_PURGE_AFTER_SECONDS,
) -> None:
    """Purge after `first_delay` seconds, then every BULK_UPLOAD_PURGE_INTERVAL_MINUTES, until
    the app stops (cancels the task). A failed purge is logged and tried again next time:
    retention must never take the app down."""
    try:
        interval = get_settings().purge_interval_minutes * 60
    except SettingsError:
        logger.exception("retention purge: bad settings; the app will not purge by itself")
        return
    if interval <= 0:
        return
    await sleep(first_delay)
    while True:
        try:
            result = await asyncio.to_thread(purge)
            if result.removed_anything:
                logger.info(json.dumps({"event": "bulk_upload.purge", **result.as_dict()}))
        except Exception:
            logger.exception("retention purge failed")
        await sleep(interval)


# Retries of notification email are due at their own times (delivery/outbox.py); looking every
# minute keeps a retry at most a minute late. The job queue's periodic job takes this over.
DELIVER_EVERY_SECONDS = 60


# A job no worker has started, or whose worker's lease lapsed, this long ago lost its queue message
# (a queued job is normally taken within seconds, a dead worker's within the queue's heartbeat).
REQUEUE_AFTER_SECONDS = 600


def run_delivery() -> int:
    """Mark uploads whose creating worker died as interrupted (that end queues their email too),
    queue again the jobs whose message was lost, then send what is due. All are safe in any number
    of processes at once."""
    from bulk_upload_app.delivery import outbox
    from bulk_upload_app.uploads import create_lease

    engine = get_engine()
    create_lease.recover_stale(engine)
    requeue_lost_jobs(engine)
    return outbox.deliver_due(engine)


def requeue_lost_jobs(engine, *, older_than: float = REQUEUE_AFTER_SECONDS) -> int:
    """Queue again each job whose message was lost (uploads/processing.lost_jobs); how many."""
    from bulk_upload_app import jobs
    from bulk_upload_app.uploads import processing
    from bulk_upload_app.uploads.records import actor_of

    lost = processing.lost_jobs(engine, older_than=older_than)
    for job in lost:
        if job.kind == "process":
            jobs.enqueue_processing(job.upload_id, ask_columns=job.ask_columns)
        else:
            actor = actor_of(job.admin_user_id)
            jobs.enqueue_create(job.company_id, job.upload_id, admin_user_id=job.admin_user_id, actor=actor)
        logger.warning(json.dumps({"event": "bulk_upload.requeued", "upload_id": job.upload_id, "job": job.kind}))
    return len(lost)


async def deliver_periodically(
    *,
    deliver: Callable[[], int] = run_delivery,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    interval: float = DELIVER_EVERY_SECONDS,
) -> None:
    """Send the notifications that are due, every `interval` seconds, until the app stops. Safe in
    every web worker at once (each row is claimed by one deliverer); a failure is logged, never fatal."""
    while True:
        await sleep(interval)
        try:
            await asyncio.to_thread(deliver)
        except Exception:
            logger.exception("notification delivery failed")
