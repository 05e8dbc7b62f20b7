"""Telling admins that a batch finished: who gets the email, delivering the outbox, and the
"finished since you last looked" notice of the Users page and the history."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.delivery import notices, outbox
from bulk_upload_app.delivery.notices import FinishedBatch
from bulk_upload_app.files.validation import check_email
from bulk_upload_app.uploads import records

logger = logging.getLogger("bulk_upload")

MAX_RECIPIENTS = 20


class BadAddress(ValueError):
    """An address to notify that is not a valid email address; `str()` says which and why."""


def checked_addresses(addresses: list[str]) -> list[str]:
    """The addresses normalised (lowercase) and deduplicated, or BadAddress for the first bad one."""
    found: list[str] = []
    for raw in addresses:
        address, problem = check_email(raw.strip())
        if address is None:
            raise BadAddress(f'"{raw}" is not a valid email address: {problem}')
        if address not in found:
            found.append(address)
    if len(found) > MAX_RECIPIENTS:
        raise BadAddress(f"At most {MAX_RECIPIENTS} addresses can be notified.")
    return found


def notify_uploader(company_id: int, upload_id: str, addresses: list[str]) -> None:
    """Who is emailed when this upload finishes: the admin who starts (or resumes) creating its
    users, when their sign-in carries an address. No address: the one stored before stays."""
    wanted = checked_addresses(addresses)
    if not wanted:
        return
    with session_scope() as session:
        upload = records.get_upload(session, company_id, upload_id)  # UploadNotFound for another company's
        upload.notify_emails = wanted
        session.add(upload)


def run_in_background(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Run `fn` off the caller's thread, its failure logged. The one door for background work of
    this module (the job queue takes its place once it lands)."""

    def run() -> None:
        try:
            fn(*args, **kwargs)
        except Exception:
            logger.exception("background %s failed", getattr(fn, "__name__", fn))

    threading.Thread(target=run, name=f"bulk-upload-{getattr(fn, '__name__', 'job')}", daemon=True).start()


def deliver_due() -> int:
    """Send every notification that is due (the job after each batch and the periodic one call this)."""
    return outbox.deliver_due(get_engine())


def deliver_for(upload_id: str) -> None:
    """Send what this upload's end queued, now (the CLI, whose process ends after the import)."""
    outbox.deliver_due(get_engine(), upload_id=upload_id)


def notification_of(company_id: int, upload_id: str) -> str:
    """What became of the email about this upload's end ("" while it has not ended)."""
    with session_scope(read_only=True) as session:
        found = notices.notifications_of(session, company_id, [upload_id])
    return found[upload_id].text if upload_id in found else ""


def deliver_soon() -> None:
    """After a batch finished in this process: send its email without holding up the admin."""
    run_in_background(deliver_due)


def finished_news(company_id: int, admin_user_id: int | None) -> tuple[list[FinishedBatch], int]:
    """The batches that finished since this admin last looked at the history, and how many."""
    if admin_user_id is None:
        return [], 0
    with session_scope(read_only=True) as session:
        return notices.finished_since_seen(session, company_id, admin_user_id)


def history_seen(company_id: int, admin_user_id: int | None) -> None:
    """The admin looked at the history now: what finished before is no longer news."""
    if admin_user_id is None:
        return
    with session_scope() as session:
        notices.mark_seen(session, company_id, admin_user_id)
