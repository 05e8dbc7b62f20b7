"""Personal data is not kept forever: the retention rules and the purge that applies them.

- A draft untouched (`updated_at`) for `draft_days` is deleted with its staged rows.
- A finished upload keeps its `bulk_upload` row (counts, file name and hash) and its audit trail,
  but its staged rows (names, emails, phones, errors) are deleted `retention_days` after it
  finished, and `rows_purged_at` says when. Finished means: done (with or without failed rows),
  cancelled, undone (`lifecycle.FINISHED`, and the retired "failed"), counted from `finished_at`;
  or interrupted and never resumed, counted from when it stopped (`updated_at`), which becomes
  "abandoned" (it cannot be resumed without its rows); or left "creating" by a worker that has
  not beaten its heartbeat for the whole retention period. A "creating" upload whose lease is
  alive is never touched.
- A notification (its addresses, the file name) is forgotten `retention_days` after it was
  queued, once it was sent or given up on.
- An uploaded file left in the storage dir for an hour (a worker killed while receiving or
  reading it) is deleted: only files named as `new_upload_path` names them.

Every deletion is conditional on the rule still holding at the moment it runs, one upload per
transaction, so any number of purges (several web workers, a cron `bulk-upload purge`) can run at
once: each thing is removed, and audited, by exactly one of them, and a live draft or creation
that moves on meanwhile is left alone. Each purged upload leaves an audit row (no foreign keys, so
it outlives a deleted draft). Results carry counts, upload ids and our own random file names only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from bulk_upload_app import audit
from bulk_upload_app.db import session_scope
from bulk_upload_app.delivery import outbox
from bulk_upload_app.leases import CREATING
from bulk_upload_app.models import ApiImport, BulkUpload, BulkUploadRow, UploadFile, utcnow
from bulk_upload_app.statuses import RETIRED_FAILED, RowOutcome, UploadStatus
from bulk_upload_app.uploaded_files import is_upload_file
from bulk_upload_app.uploads import lifecycle
from bulk_upload_app.uploads.api_imports import purge_idempotency
from bulk_upload_app.uploads.staging import delete_rows

DEFAULT_DRAFT_DAYS = 14
DEFAULT_RETENTION_DAYS = 30
# A file being received is written to continuously and deleted as soon as it is read, so one
# untouched for an hour belongs to no request any more.
ORPHAN_FILE_SECONDS = 3600

FINISHED_STATUSES = (*lifecycle.FINISHED, RETIRED_FAILED)
ACTOR = "retention"


@dataclass(frozen=True)
class Rules:
    draft_days: int = DEFAULT_DRAFT_DAYS
    retention_days: int = DEFAULT_RETENTION_DAYS
    orphan_file_seconds: int = ORPHAN_FILE_SECONDS


@dataclass
class PurgeResult:
    """What one purge removed. No personal data: upload ids, counts and our own file names."""

    drafts_deleted: list[str] = field(default_factory=list)
    draft_rows_deleted: int = 0
    uploads_rows_purged: list[str] = field(default_factory=list)
    rows_purged: int = 0
    files_removed: list[str] = field(default_factory=list)
    notifications_deleted: int = 0

    @property
    def removed_anything(self) -> bool:
        return bool(self.drafts_deleted or self.uploads_rows_purged or self.files_removed or self.notifications_deleted)

    def as_dict(self) -> dict[str, Any]:
        return {
            "drafts_deleted": {
                "count": len(self.drafts_deleted),
                "rows": self.draft_rows_deleted,
                "upload_ids": list(self.drafts_deleted),
            },
            "rows_purged": {
                "count": len(self.uploads_rows_purged),
                "rows": self.rows_purged,
                "upload_ids": list(self.uploads_rows_purged),
            },
            "files_removed": {"count": len(self.files_removed), "files": list(self.files_removed)},
            "notifications_deleted": self.notifications_deleted,
            "removed_anything": self.removed_anything,
        }

    def summary(self) -> str:
        if not self.removed_anything:
            return "Nothing to purge."
        return (
            f"Deleted {len(self.drafts_deleted)} abandoned drafts ({self.draft_rows_deleted} rows), "
            f"purged the rows of {len(self.uploads_rows_purged)} finished uploads ({self.rows_purged} rows), "
            f"removed {len(self.files_removed)} orphaned files, "
            f"forgot {self.notifications_deleted} old notifications."
        )


def purge(engine: Engine, storage_dir: Path, *, now: datetime | None = None, rules: Rules | None = None) -> PurgeResult:
    """Apply every retention rule once; safe to run again, and alongside other purges."""
    now = now or utcnow()
    rules = rules or Rules()
    result = PurgeResult()
    result.drafts_deleted, result.draft_rows_deleted = purge_drafts(engine, now=now, days=rules.draft_days)
    result.uploads_rows_purged, result.rows_purged = purge_finished_rows(engine, now=now, days=rules.retention_days)
    result.files_removed = remove_orphan_files(storage_dir, now=now, max_age_seconds=rules.orphan_file_seconds)
    with session_scope(engine) as session:  # the API's Idempotency-Key answers, kept a day
        purge_idempotency(session, now)
    with session_scope(engine) as session:
        result.notifications_deleted = outbox.delete_ended_before(session, now - timedelta(days=rules.retention_days))
    return result


# ---------------------------------------------------------------- drafts


def _stale_draft(cutoff: datetime):
    up = BulkUpload.__table__.c
    # "processing" that long means its job was lost (no worker ever took it); "rejected" holds no rows.
    return and_(
        up.status.in_((UploadStatus.DRAFT, UploadStatus.PROCESSING, UploadStatus.REJECTED)), up.updated_at < cutoff
    )


def _purge_each(
    engine: Engine, condition: ColumnElement[bool], purge_one: Callable[[Session, Any], int]
) -> tuple[list[str], int]:
    """Run `purge_one(session, upload)` for every upload `condition` holds for, each in its own
    transaction with the condition checked again under the lock; the ids done and rows deleted."""
    up = BulkUpload.__table__.c
    with session_scope(engine, read_only=True) as session:
        candidates = session.execute(select(up.id).where(condition).order_by(up.updated_at)).scalars().all()
    done, rows = [], 0
    for upload_id in candidates:
        with session_scope(engine) as session:
            found = _lock(session, upload_id, condition)
            if found is None:
                continue  # changed, created or purged by another process since the list was read
            rows += purge_one(session, found)
        done.append(upload_id)
    return done, rows


def purge_drafts(engine: Engine, *, now: datetime, days: int) -> tuple[list[str], int]:
    """Delete drafts untouched for `days`, rows and all; their ids and how many rows went."""
    up = BulkUpload.__table__.c

    def purge_one(session: Session, found: Any) -> int:
        upload_id = found.id
        count = delete_rows(session, upload_id)
        session.execute(delete(ApiImport.__table__).where(ApiImport.upload_id == upload_id))
        session.execute(delete(UploadFile.__table__).where(UploadFile.upload_id == upload_id))
        session.execute(delete(BulkUpload.__table__).where(up.id == upload_id))
        audit.record(
            session,
            audit.DRAFT_PURGED,
            upload_id=upload_id,
            company_id=found.company_id,
            admin_user_id=found.admin_user_id,
            actor=ACTOR,
            file_name=found.file_name,
            file_sha256=found.file_sha256,
            total_rows=found.total_rows,
            valid_rows=found.valid_rows,
            invalid_rows=found.invalid_rows,
            outcome="purged",
            reason=f"draft untouched for {days} days (BULK_UPLOAD_DRAFT_DAYS)",
            details={"rows_deleted": count, "last_change": _iso(found.updated_at), "draft_days": days},
        )
        return count

    return _purge_each(engine, _stale_draft(now - timedelta(days=days)), purge_one)


def _lock(session: Session, upload_id: str, condition) -> Any:
    """The upload's row if `condition` still holds, locked for this transaction, else None.

    PostgreSQL skips a row another transaction holds (an admin's edit, a create claiming it, or
    another purge): it is not idle, or it is being purged already. SQLite writers take turns at BEGIN.
    """
    up = BulkUpload.__table__.c
    query = select(
        up.id,
        up.company_id,
        up.admin_user_id,
        up.file_name,
        up.file_sha256,
        up.status,
        up.total_rows,
        up.valid_rows,
        up.invalid_rows,
        up.created_count,
        up.failed_count,
        up.updated_at,
        up.finished_at,
        up.creating_heartbeat,
    ).where(up.id == upload_id, condition)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.execute(query).first()


# ---------------------------------------------------------------- finished uploads


def _rows_due(cutoff: datetime):
    up = BulkUpload.__table__.c
    finished = and_(up.status.in_(FINISHED_STATUSES), func.coalesce(up.finished_at, up.updated_at) < cutoff)
    abandoned = and_(up.status == UploadStatus.INTERRUPTED, up.updated_at < cutoff)
    # A heartbeat older than the whole retention period is far past any lease: that worker is gone.
    dead = and_(
        up.status == UploadStatus.CREATING,
        CREATING.stale(cutoff),
        up.updated_at < cutoff,
    )
    return and_(up.rows_purged_at.is_(None), or_(finished, abandoned, dead))


def purge_finished_rows(engine: Engine, *, now: datetime, days: int) -> tuple[list[str], int]:
    """Delete the staged rows of uploads finished `days` ago; the upload row and audit stay."""
    up = BulkUpload.__table__.c

    def purge_one(session: Session, found: Any) -> int:
        upload_id = found.id
        status, counts = found.status, {"created": found.created_count, "failed": found.failed_count}
        if found.status in FINISHED_STATUSES:
            session.execute(update(BulkUpload.__table__).where(up.id == upload_id).values(rows_purged_at=now))
        else:
            # Never finished, so its counts were never stored: keep them before the rows go.
            counts = _final_counts(session, upload_id)
            lifecycle.abandon(session, upload_id, **counts, also={"rows_purged_at": now, "creating_owner": None})
            status = UploadStatus.ABANDONED
        count = delete_rows(session, upload_id)
        audit.record(
            session,
            audit.ROWS_PURGED,
            upload_id=upload_id,
            company_id=found.company_id,
            admin_user_id=found.admin_user_id,
            actor=ACTOR,
            file_name=found.file_name,
            file_sha256=found.file_sha256,
            total_rows=found.total_rows,
            created=counts["created"],
            failed=counts["failed"],
            outcome="purged",
            reason=f"rows kept {days} days after the upload ended (BULK_UPLOAD_RETENTION_DAYS)",
            details={
                "rows_deleted": count,
                "status_was": found.status,
                "status": status,
                "ended": _iso(found.finished_at or found.updated_at),
                "retention_days": days,
            },
        )
        return count

    return _purge_each(engine, _rows_due(now - timedelta(days=days)), purge_one)


def _final_counts(session: Session, upload_id: str) -> dict[str, int]:
    """What an upload that never finished achieved: users created, and rows that failed or had
    errors (valid rows never tried count in neither)."""
    row = BulkUploadRow.__table__.c
    created, failed = session.execute(
        select(
            func.coalesce(func.sum(case((row.outcome == RowOutcome.CREATED, 1), else_=0)), 0),
            func.coalesce(
                func.sum(
                    case(
                        (
                            or_(
                                row.outcome == RowOutcome.FAILED,
                                and_(row.outcome == RowOutcome.PENDING, row.is_valid.is_(False)),
                            ),
                            1,
                        ),
                        else_=0,
                    )
                ),
                0,
            ),
        ).where(row.upload_id == upload_id)
    ).one()
    return {"created": int(created), "failed": int(failed)}


# ---------------------------------------------------------------- files


def remove_orphan_files(storage_dir: Path, *, now: datetime, max_age_seconds: int = ORPHAN_FILE_SECONDS) -> list[str]:
    """Delete our upload files last written over `max_age_seconds` ago; the names deleted."""
    if not storage_dir.is_dir():
        return []
    cutoff = now.timestamp() - max_age_seconds
    removed = []
    for path in sorted(storage_dir.iterdir()):
        if not is_upload_file(path):
            continue
        try:
            if path.stat().st_mtime >= cutoff:
                continue
            path.unlink()
        except FileNotFoundError:
            continue  # another purge, or the request that owned it, deleted it first
        removed.append(path.name)
    return removed


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()
