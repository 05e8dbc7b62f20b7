"""A company's bulk uploads, newest first: what each was, who started it, how it ended."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from bulk_upload_app import audit
from bulk_upload_app.delivery import notices
from bulk_upload_app.models import BulkUpload, BulkUploadAudit, utcnow
from bulk_upload_app.statuses import RETIRED_FAILED, STATUS_LABELS, UploadStatus, shown_status
from bulk_upload_app.uploads.create_lease import stale_condition
from bulk_upload_app.uploads.records import is_stale, lease_seconds


@dataclass(frozen=True)
class UploadLine:
    id: str
    file_name: str
    uploaded_by: str  # "admin:12", "cli:alice"
    source: str
    user_type: str
    status: str  # a STATUS_LABELS key
    status_label: str
    rows: int
    created: int
    failed: int
    created_at: datetime
    duration_seconds: float | None  # from the first create start to the end; None if never finished
    rows_purged_at: datetime | None
    undone: int
    notification: str = ""  # what became of the email about its end ("" while it has not ended)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _status_condition(key: str) -> ColumnElement:
    up = BulkUpload.__table__.c
    if key == "created":
        return and_(up.status == UploadStatus.DONE, up.failed_count == 0)
    if key == "created_with_failures":
        return and_(up.status == UploadStatus.DONE, up.failed_count > 0)
    if key == "expired":
        return up.status.in_((UploadStatus.ABANDONED, RETIRED_FAILED))
    if key == "interrupted":  # also a "creating" whose worker died (records.is_stale)
        cutoff = utcnow() - timedelta(seconds=lease_seconds())
        return or_(up.status == UploadStatus.INTERRUPTED, stale_condition(cutoff))
    if key == "creating":
        cutoff = utcnow() - timedelta(seconds=lease_seconds())
        return and_(up.status == UploadStatus.CREATING, ~stale_condition(cutoff))
    return up.status == key


def list_uploads(
    session: Session, company_id: int, *, status: str = "", offset: int = 0, limit: int = 50
) -> tuple[list[UploadLine], int]:
    """One page of the company's uploads, newest first, and how many there are in all.

    `status` is a STATUS_LABELS key ("" or an unknown key: every upload).
    """
    up = BulkUpload.__table__.c
    where = [up.company_id == company_id]
    if status in STATUS_LABELS:
        where.append(_status_condition(status))
    total = session.execute(select(func.count()).select_from(BulkUpload.__table__).where(*where)).scalar_one()
    uploads = list(
        session.exec(
            select(BulkUpload)
            .where(*where)
            .order_by(BulkUpload.created_at.desc(), BulkUpload.id)
            .offset(offset)
            .limit(limit)
        ).scalars()
    )
    ids = [u.id for u in uploads]
    started: dict[str, datetime] = {}
    who: dict[str, str] = {}
    if ids:
        a = BulkUploadAudit.__table__.c
        for upload_id, event, at, actor in session.execute(
            select(a.upload_id, a.event, a.at, a.actor)
            .where(
                a.upload_id.in_(ids),
                a.company_id == company_id,
                or_(a.event == audit.STAGED, a.event == audit.CREATE_STARTED),
            )
            .order_by(a.id)
        ).all():
            if event == audit.CREATE_STARTED:
                started.setdefault(upload_id, at)
            who.setdefault(upload_id, actor)
    notes = notices.notifications_of(session, company_id, ids)
    lines = []
    for u in uploads:
        raw = UploadStatus.INTERRUPTED if is_stale(u) else u.status
        key = shown_status(raw, u.failed_count)
        start = started.get(u.id)
        duration = None
        if start is not None and u.finished_at is not None:
            duration = max((_aware(u.finished_at) - _aware(start)).total_seconds(), 0.0)
        lines.append(
            UploadLine(
                id=u.id,
                file_name=u.file_name,
                uploaded_by=who.get(u.id) or (f"admin:{u.admin_user_id}" if u.admin_user_id is not None else ""),
                source=u.source,
                user_type=u.user_type,
                status=key,
                status_label=STATUS_LABELS[key],
                rows=u.total_rows,
                created=u.created_count,
                failed=u.failed_count,
                created_at=u.created_at,
                duration_seconds=duration,
                rows_purged_at=u.rows_purged_at,
                undone=u.undone_count,
                notification=notes[u.id].text if u.id in notes else "",
            )
        )
    return lines, total


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
