"""The audit trail of bulk uploads: one `bulk_upload_audit` row and one JSON log line per event.

An operator answers "what happened to upload X, and why did it fail?" from these alone:

    SELECT at, event, actor, worker, outcome, created, failed, reason, details
    FROM bulk_upload_audit WHERE upload_id = 'X' ORDER BY id;

or by grepping the log for `"upload_id": "X"` (logger `bulk_upload`, one JSON object a line).

Events (`event` column and log field):
    bulk_upload.staged            a file became a draft (file name, SHA-256, rows, valid, invalid)
    bulk_upload.rejected          a file could not be used (the file-level error code, no draft)
    bulk_upload.create_started    a worker took the upload to create its users (attempt, pending rows,
                                  and whether it resumed after an interruption or a dead worker)
    bulk_upload.created           creating ended; outcome "done" with created/failed counts
    bulk_upload.create_refused    create could not start (e.g. a chosen group was deleted, or the
                                  seats were gone: details carry SEATS_EXCEEDED, needed, available)
    bulk_upload.interrupted       creating stopped early: the exception class and message, or
                                  "worker stopped" when recovery found a dead worker's stale lease
    bulk_upload.create_refused    create could not start (e.g. a chosen group was deleted)
    bulk_upload.draft_purged      retention deleted a draft left untouched, with its rows (actor
                                  "retention"; the counts it had, when it last changed)
    bulk_upload.undone            an admin undid the upload (uploads/undo.py): outcome undone or
                                  partly_undone; details: removed, removed_user_ids, kept [{user_id, reason}]
    bulk_upload.rows_purged       retention deleted a finished upload's rows (names, emails, ...);
                                  the upload keeps its counts ("abandoned" if it was never resumed)

`details.email_in_other_company` (staged, created) counts the rows refused because their email
belongs to a user of another company: a count only, as the admin's message never tells it apart
from their own company's users.

The row is written in the transaction that makes the change, so the trail and the data cannot
disagree; the log line is emitted once that transaction commits (never for a rolled-back one).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlmodel import Session

from bulk_upload_app.models import BulkUploadAudit, utcnow

logger = logging.getLogger("bulk_upload")

RECEIVED = "bulk_upload.received"
STAGED = "bulk_upload.staged"
REJECTED = "bulk_upload.rejected"
CREATE_STARTED = "bulk_upload.create_started"
CREATED = "bulk_upload.created"
INTERRUPTED = "bulk_upload.interrupted"
CREATE_REFUSED = "bulk_upload.create_refused"
DRAFT_PURGED = "bulk_upload.draft_purged"
ROWS_PURGED = "bulk_upload.rows_purged"
UNDONE = "bulk_upload.undone"
CANCEL_REQUESTED = "bulk_upload.cancel_requested"
CANCELLED = "bulk_upload.cancelled"
NOTIFIED = "bulk_upload.notified"  # the outbox delivered a message about it (delivery/outbox.py)
NOTIFY_FAILED = "bulk_upload.notify_failed"  # ... or settled it unsent (gave up, no mail server)

_COLUMNS = (
    "upload_id",
    "company_id",
    "admin_user_id",
    "actor",
    "file_name",
    "file_sha256",
    "total_rows",
    "valid_rows",
    "invalid_rows",
    "created",
    "failed",
    "outcome",
    "reason",
)


def worker_name() -> str:
    """This process, as the audit names it: "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid()}"[:80]


def describe_error(exc: BaseException) -> str:
    """ "ValueError: message", the class first so operators can group failures by kind."""
    name = type(exc).__qualname__
    module = type(exc).__module__
    if module not in ("builtins", "__main__"):
        name = f"{module}.{name}"
    text = str(exc).strip()
    return f"{name}: {text}" if text else name


def record(
    session: Session, event: str, *, at: datetime | None = None, details: dict[str, Any] | None = None, **fields: Any
) -> BulkUploadAudit:
    """Add an audit row to the session's transaction; its log line follows the commit."""
    unknown = set(fields) - set(_COLUMNS)
    if unknown:
        raise TypeError(f"Unknown audit fields: {sorted(unknown)}")
    clean = {k: v for k, v in fields.items() if v is not None}
    for text in ("file_name", "actor"):
        if text in clean:
            clean[text] = str(clean[text])[: 255 if text == "file_name" else 120]
    row = BulkUploadAudit(event=event, at=at or utcnow(), worker=worker_name(), details=details or {}, **clean)
    session.add(row)
    session.flush()
    line = {
        "event": event,
        "at": row.at.isoformat(),
        "audit_id": row.id,
        "worker": row.worker,
        **{k: clean[k] for k in _COLUMNS if k in clean},
        **(details or {}),
    }
    sa_event.listen(session, "after_commit", lambda _session: _log(line), once=True)
    return row


def _log(line: dict[str, Any]) -> None:
    level = logging.WARNING if line["event"] in (INTERRUPTED, CREATE_REFUSED, REJECTED, NOTIFY_FAILED) else logging.INFO
    logger.log(level, json.dumps(line, default=str, sort_keys=False))


def history(session: Session, upload_id: str) -> list[BulkUploadAudit]:
    """Every audit row of one upload, oldest first."""
    return list(
        session.exec(
            select(BulkUploadAudit).where(BulkUploadAudit.upload_id == upload_id).order_by(BulkUploadAudit.id)
        ).scalars()
    )


def story(session: Session, upload_id: str) -> list[str]:
    """The upload's history as plain sentences, for an operator or a support ticket."""
    lines = []
    for a in history(session, upload_id):
        who = a.actor or (f"admin:{a.admin_user_id}" if a.admin_user_id is not None else "unknown")
        if a.event == STAGED:
            text = (
                f"{who} staged {a.file_name!r} (sha256 {a.file_sha256[:12]}…): {a.total_rows} rows, "
                f"{a.valid_rows} valid, {a.invalid_rows} with errors"
            )
            columns = a.details.get("columns") or {}
            if columns.get("mapping") and columns.get("matched_by") != "template":
                matched = ", ".join(f"{title!r}→{name}" for title, name in columns["mapping"].items())
                text += f"; columns {columns['matched_by']}: {matched}"
        elif a.event == CREATE_STARTED:
            text = (
                f"{who} started creating (attempt {a.details.get('attempt')}, "
                f"{a.details.get('pending')} rows pending, {a.details.get('resumed_from') or 'from draft'})"
            )
        elif a.event == CREATED:
            text = f"creating finished: {a.created} created, {a.failed} failed {a.details.get('failed_by_code', {})}"
            if a.details.get("email_in_other_company"):
                text += f", {a.details['email_in_other_company']} with an email of another company"
        elif a.event == INTERRUPTED:
            text = f"creating interrupted after {a.created} created: {a.reason}"
        elif a.event == DRAFT_PURGED:
            text = f"draft deleted with its {a.details.get('rows_deleted')} rows: {a.reason}"
        elif a.event == ROWS_PURGED:
            text = (
                f"{a.details.get('rows_deleted')} rows deleted, counts kept ({a.created} created, "
                f"{a.failed} failed): {a.reason}"
            )
        elif a.event == UNDONE:
            kept = a.details.get("kept", [])
            text = f"{who} undid the upload: {a.details.get('removed')} users removed, {len(kept)} kept (changed since)"
        elif a.event == NOTIFIED:
            text = f"{a.details.get('kind', 'message')} about its end sent (attempt {a.details.get('attempt')})"
        elif a.event == NOTIFY_FAILED:
            text = f"{a.details.get('kind', 'message')} about its end not sent: {a.reason}"
        else:
            text = f"{a.event} ({a.outcome}): {a.reason or ''}".rstrip(": ")
        lines.append(f"{a.at:%Y-%m-%d %H:%M:%S} [{a.worker}] {text}")
    return lines
