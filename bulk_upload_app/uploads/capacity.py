"""How much file work may run at once: files read per company and overall, drafts per company.

Reading and checking a big file takes a core for seconds; without a bound, one company (or a
script) could take every core from everyone. The bound is kept in the database, so it holds
across web workers and machines. A slot is held while a file is read and staged; one whose
worker died expires by itself.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import Engine

from bulk_upload_app.db import session_scope
from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.models import BulkUpload, FileProcessingSlot, utcnow
from bulk_upload_app.settings import Settings
from bulk_upload_app.statuses import UploadStatus

SLOT_SECONDS = 15 * 60  # far above the time to read the largest file allowed (a million rows ~ 1 min)
_PG_LOCK_KEY = 0x62756C6B  # one advisory lock key for all slot changes ("bulk")


@dataclass(frozen=True)
class Limits:
    per_company: int
    overall: int  # 0: no overall bound
    open_drafts: int
    draft_days: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            per_company=settings.max_concurrent_files_per_company,
            overall=settings.max_concurrent_files,
            open_drafts=settings.max_open_drafts,
            draft_days=settings.draft_days,
        )


def _try_take(engine: Engine, company_id: int, limits: Limits) -> str | None:
    """A new slot's id, or None when the company, or all companies together, are at their limit."""
    with session_scope(engine) as session:  # SQLite: BEGIN IMMEDIATE serialises takers
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        now = utcnow()
        session.execute(delete(FileProcessingSlot).where(FileProcessingSlot.expires_at < now))
        overall = session.execute(select(func.count()).select_from(FileProcessingSlot)).scalar_one()
        mine = session.execute(
            select(func.count()).select_from(FileProcessingSlot).where(FileProcessingSlot.company_id == company_id)
        ).scalar_one()
        if (limits.overall and overall >= limits.overall) or mine >= limits.per_company:
            return None
        slot = FileProcessingSlot(
            id=uuid.uuid4().hex, company_id=company_id, expires_at=now + timedelta(seconds=SLOT_SECONDS)
        )
        session.add(slot)
        return slot.id


def _release(engine: Engine, slot_id: str) -> None:
    with session_scope(engine) as session:
        session.execute(delete(FileProcessingSlot).where(FileProcessingSlot.id == slot_id))


@contextmanager
def file_slot(
    engine: Engine,
    company_id: int,
    limits: Limits,
    *,
    wait_seconds: float = 20.0,
    on_wait: Callable[[], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Hold one of the file-processing slots while the block runs.

    Waits up to `wait_seconds` for a free one (a busy moment usually passes in seconds), then
    refuses with TOO_MANY_FILES_IN_PROGRESS: nothing was stored, the admin uploads again.
    """
    deadline = time.monotonic() + wait_seconds
    while (slot_id := _try_take(engine, company_id, limits)) is None:
        if time.monotonic() >= deadline:
            scope = "your company's files" if _company_full(engine, company_id, limits) else "files"
            raise FileProblem(ErrorCode.TOO_MANY_FILES_IN_PROGRESS, scope=scope)
        if on_wait is not None:
            on_wait()
        sleep(0.5)
    try:
        yield
    finally:
        _release(engine, slot_id)


def _company_full(engine: Engine, company_id: int, limits: Limits) -> bool:
    with session_scope(engine, read_only=True) as session:
        mine = session.execute(
            select(func.count())
            .select_from(FileProcessingSlot)
            .where(FileProcessingSlot.company_id == company_id, FileProcessingSlot.expires_at >= utcnow())
        ).scalar_one()
    return mine >= limits.per_company


def check_open_drafts(engine: Engine, company_id: int, limits: Limits) -> None:
    """TOO_MANY_OPEN_DRAFTS when a new draft would pass the company's limit."""
    with session_scope(engine, read_only=True) as session:
        open_drafts = session.execute(
            select(func.count())
            .select_from(BulkUpload)
            .where(
                BulkUpload.company_id == company_id,
                BulkUpload.status.in_((UploadStatus.DRAFT, UploadStatus.PROCESSING)),
            )
        ).scalar_one()
    if open_drafts >= limits.open_drafts:
        raise FileProblem(
            ErrorCode.TOO_MANY_OPEN_DRAFTS, open=open_drafts, limit=limits.open_drafts, days=limits.draft_days
        )
