"""The outbox: the messages to deliver when a batch finishes, written with the finish itself.

When an upload reaches an end (created, created with failures, interrupted, cancelled), the
transaction that moves it there also adds its outbox rows (`enqueue_batch_finished`): a batch
whose end is committed always has them, and a batch whose end rolled back has none. Delivery is
separate (`deliver_due`, run by a job after each batch and periodically): it claims each due row
with a lease, sends it, and records the outcome on the row.

Exactly once, as far as it can go:

- one row per (upload, kind, target, event, finish): a unique constraint, inserted with ON
  CONFLICT DO NOTHING, so the same finish can never queue a second message. `finish_number` is
  the upload's create attempt that ended: a batch interrupted (one email) and later resumed to
  its end (a second email, with the final counts) finishes twice, each time once.
- a row is claimed with a lease (`DELIVERY`, leases.py: one conditional UPDATE), so
  two deliverers never both own a row.
- the one gap is the SMTP boundary: a deliverer that dies (or loses its database) after the
  server accepted the message and before "sent" is committed leaves the row claimed; once the
  lease ends another deliverer sends it again. At-least-once there, by design (the message's
  Message-ID is the same each time, so a mail system that deduplicates by it shows one). The
  SMTP socket timeout is far below the lease, so a slow but live sender cannot be overtaken.

Kinds: "email" (delivery/mail.py). A "webhook" kind adds its sender to `_senders`
and its rows in `enqueue_batch_finished`; everything else here is shared.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bulk_upload_app import audit
from bulk_upload_app.db import session_scope
from bulk_upload_app.delivery import mail, webhooks
from bulk_upload_app.delivery.sending import NO_ADDRESS, Claimed, DeliveryFailed, NotDelivered, Sender
from bulk_upload_app.leases import DELIVERY, new_owner
from bulk_upload_app.models import BulkUpload, BulkUploadRow, OutboxMessage, utcnow
from bulk_upload_app.settings import Settings, get_settings
from bulk_upload_app.statuses import STATUS_LABELS, OutboxStatus, RowOutcome, UploadStatus, shown_status

logger = logging.getLogger("bulk_upload")

KIND_EMAIL = "email"
KIND_WEBHOOK = "webhook"  # delivery/webhooks.py: one row per endpoint of the company
EVENT_BATCH_FINISHED = "batch-finished"
UPLOADER = "uploader"  # an email row's target: the addresses stored on the upload

MAX_ATTEMPTS = 8  # with the backoff below: about an hour of trying, then give up (recorded)
RETRY_BASE_SECONDS = 30.0
RETRY_CAP_SECONDS = 30 * 60.0
LEASE_SECONDS = 10 * 60.0  # a claimed row is taken for abandoned after this (its sender died)
CLAIM_BATCH = 50


# The upload statuses after which the uploader is told (the "creating" lease's ends).
FINISHED = (UploadStatus.DONE, UploadStatus.INTERRUPTED, UploadStatus.CANCELLED)


FINAL_STATUSES = (OutboxStatus.SENT, OutboxStatus.SKIPPED, OutboxStatus.NOT_SENT, OutboxStatus.FAILED)


def delete_ended_before(session: Session, cutoff: datetime) -> int:
    """Forget the messages (addresses, file names) that ended, one way or another, before
    `cutoff`; how many. A message still to be tried is kept whatever its age."""
    table = OutboxMessage.__table__
    return session.execute(
        delete(table).where(table.c.status.in_(FINAL_STATUSES), table.c.created_at < cutoff)
    ).rowcount


# ---------------------------------------------------------------- writing, with the finish


def enqueue_batch_finished(
    session: Session,
    upload_id: str,
    *,
    created: int | None = None,
    failed: int | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> None:
    """Queue the uploader's email about the upload's end, in the caller's transaction.

    Call it right after the UPDATE that moved the upload to one of FINISHED. `created`/`failed`
    default to a count of the rows; `reason` says why it stopped (interrupted). Without an
    address the row is written all the same, settled as "no email: no address": the history
    shows why nobody was told. Never queues the same finish twice (see the module docstring).
    """
    now = now or utcnow()
    session.flush()  # the caller's change of status, made through the ORM, must be visible here
    up = BulkUpload.__table__.c
    found = session.execute(
        select(
            up.company_id,
            up.status,
            up.file_name,
            up.total_rows,
            up.failed_count,
            up.create_attempts,
            up.notify_emails,
            up.source,
        ).where(up.id == upload_id)
    ).first()
    if found is None or found.status not in FINISHED:
        return
    if created is None:
        created = _count(session, upload_id, RowOutcome.CREATED)
    if failed is None:
        failed = _count(session, upload_id, RowOutcome.FAILED)
    key = shown_status(found.status, failed)
    recipients = [str(a) for a in (found.notify_emails or [])]
    values = {
        "kind": KIND_EMAIL,
        "event": EVENT_BATCH_FINISHED,
        "upload_id": upload_id,
        "company_id": found.company_id,
        "target": UPLOADER,
        "finish_number": max(found.create_attempts, 1),
        "recipients": recipients,
        "payload": {
            "status": key,
            "status_label": STATUS_LABELS.get(key, key),
            "file_name": found.file_name,
            "total_rows": found.total_rows,
            "created": created,
            "failed": failed,
            "source": found.source,
            "reason": reason,
            "finished_at": now.isoformat(),
        },
        "status": OutboxStatus.PENDING if recipients else OutboxStatus.SKIPPED,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "last_error": None if recipients else NO_ADDRESS,
    }
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for row in [values, *webhooks.queue_rows(session, found.company_id, values)]:
        session.execute(
            insert(OutboxMessage.__table__)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["upload_id", "kind", "target", "event", "finish_number"])
        )


def _count(session: Session, upload_id: str, outcome: str) -> int:
    row = BulkUploadRow.__table__.c
    return session.execute(select(func.count()).where(row.upload_id == upload_id, row.outcome == outcome)).scalar_one()


# ---------------------------------------------------------------- delivering


def retry_delay(attempts: int, *, rng: Callable[[], float] = random.random) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling from RETRY_BASE_SECONDS,
    capped at RETRY_CAP_SECONDS, with jitter (50–100 % of it) so deliverers that failed together
    (a mail server down for everyone) do not all come back at the same second."""
    ceiling = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))
    return ceiling * (0.5 + 0.5 * rng())


def _senders() -> dict[str, Sender]:
    return {KIND_EMAIL: mail.send_outbox_email, KIND_WEBHOOK: webhooks.send_webhook}


def _due(now: datetime):
    ob = OutboxMessage.__table__.c
    return or_(
        and_(ob.status == OutboxStatus.PENDING, ob.next_attempt_at <= now),
        and_(ob.status == OutboxStatus.SENDING, DELIVERY.stale(now)),  # its deliverer died mid-send
    )


def claim(engine: Engine, outbox_id: int, owner: str, now: datetime, lease: float = LEASE_SECONDS) -> Claimed | None:
    """Take one due row for `owner`, atomically; None when it is not due or someone else has it."""
    ob = OutboxMessage.__table__.c
    with session_scope(engine) as session:
        taken = DELIVERY.claim(
            session, outbox_id, owner, now, lease, when=_due(now), status=OutboxStatus.SENDING, attempts=ob.attempts + 1
        )
        if not taken:
            return None
        row = session.execute(
            select(ob.id, ob.kind, ob.upload_id, ob.company_id, ob.recipients, ob.payload, ob.attempts).where(
                ob.id == outbox_id
            )
        ).one()
    return Claimed(
        row.id, row.kind, row.upload_id, row.company_id, list(row.recipients), dict(row.payload), row.attempts, owner
    )


def deliver_due(
    engine: Engine,
    now: datetime | None = None,
    *,
    settings: Settings | None = None,
    lease: float = LEASE_SECONDS,
    max_attempts: int = MAX_ATTEMPTS,
    limit: int = CLAIM_BATCH,
    upload_id: str | None = None,
) -> int:
    """Send every outbox row that is due (up to `limit`); how many were sent.

    Safe to run in any number of processes at once: each row is sent by the deliverer that
    claimed it. A failure is recorded on the row and retried later (`retry_delay`), up to
    `max_attempts`; then, or at once for a permanent refusal, the row is given up, recorded on
    the row and in the upload's audit. Rows of a kind this process cannot send are left alone.
    With `upload_id`, only that upload's rows (the CLI sends what its own import queued).
    """
    # A fixed `now` (tests) or the clock read at each step: a long run must not shorten the
    # leases of the rows it claims last, nor date a send by when the run started.
    clock = (lambda: now) if now is not None else utcnow
    settings = settings or get_settings()
    senders = _senders()
    ob = OutboxMessage.__table__.c
    query = select(ob.id).where(_due(clock()), ob.kind.in_(list(senders)))
    if upload_id is not None:
        query = query.where(ob.upload_id == upload_id)
    with session_scope(engine, read_only=True) as session:
        ids = list(session.execute(query.order_by(ob.next_attempt_at).limit(limit)).scalars())
    owner = new_owner()
    sent = 0
    for outbox_id in ids:
        claimed = claim(engine, outbox_id, owner, clock(), lease)
        if claimed is None:
            continue  # another deliverer took it first
        try:
            senders[claimed.kind](engine, claimed, settings)
        except NotDelivered as exc:
            _settle(engine, claimed, clock(), OutboxStatus.NOT_SENT, str(exc))
        except DeliveryFailed as exc:
            _failed(engine, claimed, clock(), str(exc), permanent=exc.permanent, max_attempts=max_attempts)
        except Exception as exc:  # a bug or an unexpected answer: retried like a failure, never a loop
            logger.exception("outbox %s: delivery failed unexpectedly", claimed.id)
            _failed(engine, claimed, clock(), audit.describe_error(exc), permanent=False, max_attempts=max_attempts)
        else:
            if _settle(engine, claimed, clock(), OutboxStatus.SENT, None):
                sent += 1
    return sent


def _settle(engine: Engine, claimed: Claimed, now: datetime, status: OutboxStatus, error: str | None) -> bool:
    """Record the claimed row's end; False when the lease was lost meanwhile (nothing written)."""
    ob = OutboxMessage.__table__.c
    with session_scope(engine) as session:
        done = DELIVERY.release(
            session,
            claimed.id,
            claimed.owner,
            when=ob.status == OutboxStatus.SENDING,
            status=status,
            sent_at=now if status == OutboxStatus.SENT else None,
            last_error=error,
        )
        if done is None:
            logger.warning("outbox %s: lease lost before the outcome (%s) was recorded", claimed.id, status)
            return False
        audit.record(
            session,
            audit.NOTIFIED if status == OutboxStatus.SENT else audit.NOTIFY_FAILED,
            upload_id=claimed.upload_id,
            company_id=claimed.company_id,
            outcome=str(status),
            reason=error,
            details={"kind": claimed.kind, "outbox_id": claimed.id, "attempt": claimed.attempts},
        )
    return True


def _failed(engine: Engine, claimed: Claimed, now: datetime, error: str, *, permanent: bool, max_attempts: int) -> None:
    if permanent or claimed.attempts >= max_attempts:
        why = "refused" if permanent else f"gave up after {claimed.attempts} attempts"
        logger.warning("outbox %s (%s of upload %s): %s: %s", claimed.id, claimed.kind, claimed.upload_id, why, error)
        _settle(engine, claimed, now, OutboxStatus.FAILED, f"{why}: {error}"[:2000])
        return
    ob = OutboxMessage.__table__.c
    with session_scope(engine) as session:
        DELIVERY.release(
            session,
            claimed.id,
            claimed.owner,
            when=ob.status == OutboxStatus.SENDING,
            status=OutboxStatus.PENDING,
            next_attempt_at=now + timedelta(seconds=retry_delay(claimed.attempts)),
            last_error=f"attempt {claimed.attempts} failed: {error}"[:2000],
        )
    logger.info("outbox %s: attempt %s failed, retrying later: %s", claimed.id, claimed.attempts, error)
