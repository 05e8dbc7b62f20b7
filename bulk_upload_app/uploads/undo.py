"""Undoing a whole upload: removing the users it created that nobody changed since.

"Changed since" is defined here, once (`changed_conditions`): a user the upload created is kept
when
- it was edited after its creation: `app_user.updated_at` is set equal to `created_at` when the
  batch inserts it and bumped by every later UPDATE of the row (models.User), or
- it has a group, outbound number or skill (or skill level) that this upload's batch did not give:
  someone linked it to more since.
Everything else the upload created is removed with its group, number and skill links; its seat is
free again at once (seats count existing active users). The upload becomes "undone", or "partly
undone" when some users were kept, and an audit row says who undid it and what was removed.

Safe under concurrency and retries: the undo locks the upload row (SELECT ... FOR UPDATE on
PostgreSQL; SQLite writers hold the write lock from BEGIN IMMEDIATE, see db.session_scope), so
of two undos at once the second waits, then finds the upload undone and answers with what the
first did, removing nothing more. An upload still creating (or not finished) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from bulk_upload_app import audit
from bulk_upload_app.errors import ErrorCode, UndoRefused
from bulk_upload_app.models import BulkUpload, BulkUploadAudit, BulkUploadRow, Skill, User, utcnow
from bulk_upload_app.settings import get_settings
from bulk_upload_app.statuses import RowOutcome, UploadStatus
from bulk_upload_app.uploads import lifecycle, membership
from bulk_upload_app.uploads.batch import BatchSpec
from bulk_upload_app.uploads.records import get_upload, is_stale, locked_upload

UNDONE = audit.UNDONE
REASON_EDITED = "changed since it was created"
REASON_LINKS = "given groups, outbound numbers or skills that this upload did not give"
_CHUNK = 5000


@dataclass(frozen=True)
class Kept:
    user_id: int
    email: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"email": self.email, "reason": self.reason}


@dataclass(frozen=True)
class UndoPlan:
    """A preview (what an undo would do now) or a result (what it did)."""

    upload_id: str
    removed: int  # would be removed / were removed
    kept: list[Kept] = field(default_factory=list)
    status: str = ""  # the upload's status (after the undo, for a result)
    done: bool = False  # True: the upload was undone (now or before); removed says by how many

    def as_dict(self) -> dict[str, Any]:
        return {
            "upload_id": self.upload_id,
            "removed": self.removed,
            "kept": [k.as_dict() for k in self.kept],
            "status": self.status,
        }


def window_ends(upload: BulkUpload, days: int | None = None) -> datetime | None:
    """Until when the upload may be undone (None: it never finished)."""
    if upload.finished_at is None:
        return None
    finished = upload.finished_at if upload.finished_at.tzinfo else upload.finished_at.replace(tzinfo=UTC)
    return finished + timedelta(days=get_settings().undo_days if days is None else days)


def refusal(upload: BulkUpload, now: datetime | None = None) -> UndoRefused | None:
    """Why this upload can't be undone now; None when it can (or already was: see `undo`)."""
    if upload.status == UploadStatus.CREATING and not is_stale(upload):
        return UndoRefused(ErrorCode.UNDO_NOT_AVAILABLE, reason="its users are still being created")
    if upload.status in (UploadStatus.UNDONE, UploadStatus.PARTLY_UNDONE):
        return None
    if upload.status != UploadStatus.DONE:
        return UndoRefused(ErrorCode.UNDO_NOT_AVAILABLE, reason=f"it is {upload.status.replace('_', ' ')}, not created")
    ends = window_ends(upload)
    if ends is not None and (now or utcnow()) > ends:
        assert upload.finished_at is not None
        return UndoRefused(
            ErrorCode.UNDO_WINDOW_PASSED, finished=f"{upload.finished_at:%Y-%m-%d}", days=get_settings().undo_days
        )
    return None


def changed_conditions(session: Session, company_id: int, spec: BatchSpec) -> tuple[ColumnElement, ColumnElement]:
    """(edited, linked_since): SQL conditions on app_user, true for a user changed since creation:
    edited (updated_at past created_at), or given a link the batch did not give."""
    user = User.__table__.c
    edited = func.coalesce(user.updated_at, user.created_at) > user.created_at
    skill_pairs = []
    for choice in spec.skills:
        skill_id = choice.skill_id
        if skill_id is None and choice.new_name:
            skill_id = session.exec(
                select(Skill.id).where(
                    Skill.company_id == company_id, Skill.name_key == " ".join(choice.new_name.split()).casefold()
                )
            ).scalar_one_or_none()
        if skill_id is not None:
            skill_pairs.append((skill_id, choice.level))
    given = membership.Links(tuple(spec.group_ids), tuple(spec.outbound_number_ids), tuple(skill_pairs))
    return edited, membership.has_other_links(user.id, given)


def _plan(session: Session, company_id: int, upload: BulkUpload) -> tuple[list[int], list[Kept]]:
    """The ids of the users an undo removes now, and those it keeps with why."""
    user = User.__table__.c
    edited, linked_since = changed_conditions(session, company_id, BatchSpec.from_json(upload.batch))
    of_upload = and_(user.bulk_upload_id == upload.id, user.company_id == company_id)
    removable = list(
        session.execute(select(user.id).where(of_upload, ~or_(edited, linked_since)).order_by(user.id)).scalars()
    )
    kept = [
        Kept(uid, email, "; ".join(r for r, on in ((REASON_EDITED, was_edited), (REASON_LINKS, was_linked)) if on))
        for uid, email, was_edited, was_linked in session.execute(
            select(user.id, user.email, edited, linked_since)
            .where(of_upload, or_(edited, linked_since))
            .order_by(user.email)
        ).all()
    ]
    return removable, kept


def preview(session: Session, company_id: int, upload_id: str) -> UndoPlan:
    """What undoing the upload would do now (UndoRefused when it can't be undone)."""
    upload = get_upload(session, company_id, upload_id)
    if upload.status in (UploadStatus.UNDONE, UploadStatus.PARTLY_UNDONE):
        return _what_was_done(session, company_id, upload)
    problem = refusal(upload)
    if problem is not None:
        raise problem
    removable, kept = _plan(session, company_id, upload)
    return UndoPlan(upload.id, len(removable), kept, upload.status)


def undo(
    session: Session, company_id: int, upload_id: str, *, actor: str, admin_user_id: int | None = None
) -> UndoPlan:
    """Remove the upload's unchanged users, in the caller's transaction; what was done.

    Repeated after success it answers with what the first undo did and removes nothing.
    """
    upload = locked_upload(session, company_id, upload_id)
    if upload.status in (UploadStatus.UNDONE, UploadStatus.PARTLY_UNDONE):
        return _what_was_done(session, company_id, upload)
    problem = refusal(upload)
    if problem is not None:
        raise problem
    removable, kept = _plan(session, company_id, upload)
    user, row = User.__table__.c, BulkUploadRow.__table__.c
    for start in range(0, len(removable), _CHUNK):
        ids = removable[start : start + _CHUNK]
        membership.unlink_users(session, ids)
        session.execute(
            update(BulkUploadRow.__table__)
            .where(row.upload_id == upload.id, row.user_id.in_(ids))
            .values(outcome=RowOutcome.UNDONE, user_id=None)
        )
        session.execute(delete(User.__table__).where(user.id.in_(ids), user.company_id == company_id))
    status = lifecycle.undo(
        session,
        upload,
        actor=actor,
        admin_user_id=admin_user_id,
        removed=removable,
        kept=[{"user_id": k.user_id, "reason": k.reason} for k in kept],
        details_limit=_CHUNK,
    )
    return UndoPlan(upload.id, len(removable), kept, status, done=True)


def _what_was_done(session: Session, company_id: int, upload: BulkUpload) -> UndoPlan:
    """The first undo's result, from its audit row (kept users by id, their email as it is now)."""
    record = (
        session.exec(
            select(BulkUploadAudit)
            .where(BulkUploadAudit.upload_id == upload.id, BulkUploadAudit.event == UNDONE)
            .order_by(BulkUploadAudit.id.desc())
        )
        .scalars()
        .first()
    )
    kept_ids = {k["user_id"]: k["reason"] for k in (record.details.get("kept", []) if record else [])}
    emails: dict[int, str] = dict(
        session.execute(
            select(User.id, User.email).where(User.id.in_(list(kept_ids)), User.company_id == company_id)
        ).all()
    )
    kept = [Kept(uid, emails.get(uid, ""), reason) for uid, reason in kept_ids.items()]
    return UndoPlan(upload.id, upload.undone_count, kept, upload.status, done=True)
