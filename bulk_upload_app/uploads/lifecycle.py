"""An upload's life: the one module that writes where an upload is — its status, its wizard step,
its outcome counts, when it finished, whether a cancel was asked — and the table of the moves
allowed between statuses. Longer than 400 lines on purpose: "what can happen to an upload, and
where is it done?" is answered by this one file.

`MOVES` is the truth: (status before, event) → status after; `None` before means "no upload yet".
Each move is one function below, with its guard (the table, and for moves made by a worker a
compare-and-set UPDATE ... WHERE status = ...), its audit record and, when the batch ends, its
outbox message (`outbox.enqueue_batch_finished`), all in the caller's transaction. Nothing else
writes these fields (tests/unit/test_lifecycle_owner.py reads every module to prove it); leases
(who holds a processing or create job, and its heartbeat) are not here: a move made under a lease
takes the lease's condition and the lease's own columns from its caller.

What can happen to an upload:

    (new) ──receive──▶ processing ──judged / hold for matching──▶ draft ──start create──▶ creating
      │                  │   ╰──reject──▶ rejected          ▲   │ (keep draft: a replaced file refused)
      ╰──stage──▶ draft  ╰──cancel──▶ cancelled ◀──cancel───╯   │
    creating ──finish──▶ done ──undo / undo part──▶ undone / partly undone
    creating ──interrupt──▶ interrupted ──start create──▶ creating (resumed)
    creating / interrupted ──abandon (retention)──▶ abandoned;  creating ──cancel──▶ cancelled

"failed" is not a status: a create that stops is "interrupted" (it resumes), a file that can't be
used "rejected", an interruption never resumed "abandoned". Rows an early version marked "failed"
read as expired (`statuses.RETIRED_FAILED`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from bulk_upload_app import audit
from bulk_upload_app.delivery import outbox
from bulk_upload_app.errors import UploadBusy
from bulk_upload_app.models import BulkUpload, BulkUploadRow, UploadFile, utcnow
from bulk_upload_app.statuses import RowOutcome, UploadStatus, WizardStep
from bulk_upload_app.uploads.batch import BatchSpec
from bulk_upload_app.uploads.records import actor_of, get_upload, locked_upload, rows_with_email_of_other_company

# The fields that say where an upload is; only this module writes them.
OWNED_FIELDS = frozenset(
    {
        "status",
        "wizard_step",
        "created_count",
        "failed_count",
        "finished_at",
        "cancel_requested",
        "undone_at",
        "undone_by",
        "undone_count",
    }
)


class Event(StrEnum):
    """What happens to an upload."""

    RECEIVE = "receive"  # a file kept for a worker: a new upload, or a draft whose file is replaced
    STAGE = "stage"  # a file judged here and now, staged whole as a new draft (CLI, SCIM)
    RESTAGE = "restage"  # a draft's rows staged again (its columns matched by the admin)
    JUDGE = "judge"  # the worker (re)starts judging the file from its first row
    JUDGED = "judged"  # the worker staged the file's last row
    HOLD_FOR_MATCHING = "hold_for_matching"  # the file's titles are not ours: the admin matches them
    REJECT = "reject"  # the file can't be used; nothing of it is kept
    KEEP_DRAFT = "keep_draft"  # a draft's replacing file can't be used (or processed): the old rows stay
    SET_STEP = "set_step"  # the admin moves between the wizard's steps
    QUEUE_CREATE = "queue_create"  # the create is asked for: a job waits for a worker
    CREATE_REFUSED = "create_refused"  # the queued create could not start (seats, a group gone)
    START_CREATE = "start_create"  # a worker takes the create (claims its lease), or resumes it
    FINISH = "finish"  # every row settled
    INTERRUPT = "interrupt"  # the create stopped early (an error, or its worker died): resumable
    REQUEST_CANCEL = "request_cancel"  # the admin asks the running (or queued) job to stop
    FORGET_CANCEL = "forget_cancel"  # a queued create cancelled before any worker took it
    CANCEL = "cancel"  # stopped for good (a job that saw the request, or an idle draft dropped)
    UNDO = "undo"  # every user the upload created removed
    UNDO_PART = "undo_part"  # removed, but for users that changed since
    ABANDON = "abandon"  # interrupted and never resumed: retention deletes its rows


S = UploadStatus
MOVES: dict[tuple[UploadStatus | None, Event], UploadStatus] = {
    (None, Event.RECEIVE): S.PROCESSING,
    (S.DRAFT, Event.RECEIVE): S.PROCESSING,
    (None, Event.STAGE): S.DRAFT,
    (S.DRAFT, Event.RESTAGE): S.DRAFT,
    (S.PROCESSING, Event.JUDGE): S.PROCESSING,
    (S.PROCESSING, Event.JUDGED): S.DRAFT,
    (S.PROCESSING, Event.HOLD_FOR_MATCHING): S.DRAFT,
    (S.PROCESSING, Event.REJECT): S.REJECTED,
    (S.PROCESSING, Event.KEEP_DRAFT): S.DRAFT,
    (S.DRAFT, Event.SET_STEP): S.DRAFT,
    (S.DRAFT, Event.QUEUE_CREATE): S.DRAFT,
    (S.INTERRUPTED, Event.QUEUE_CREATE): S.INTERRUPTED,
    (S.DRAFT, Event.CREATE_REFUSED): S.DRAFT,
    (S.INTERRUPTED, Event.CREATE_REFUSED): S.INTERRUPTED,
    (S.DRAFT, Event.START_CREATE): S.CREATING,
    (S.INTERRUPTED, Event.START_CREATE): S.CREATING,
    (S.CREATING, Event.START_CREATE): S.CREATING,  # only once the lease lapsed (its worker died)
    (S.CREATING, Event.FINISH): S.DONE,
    (S.CREATING, Event.INTERRUPT): S.INTERRUPTED,
    (S.PROCESSING, Event.REQUEST_CANCEL): S.PROCESSING,
    (S.CREATING, Event.REQUEST_CANCEL): S.CREATING,
    (S.DRAFT, Event.REQUEST_CANCEL): S.DRAFT,  # its create queued, not started
    (S.INTERRUPTED, Event.REQUEST_CANCEL): S.INTERRUPTED,  # its resume queued, not started
    (S.DRAFT, Event.FORGET_CANCEL): S.DRAFT,
    (S.INTERRUPTED, Event.FORGET_CANCEL): S.INTERRUPTED,
    (S.PROCESSING, Event.CANCEL): S.CANCELLED,
    (S.CREATING, Event.CANCEL): S.CANCELLED,
    (S.DRAFT, Event.CANCEL): S.CANCELLED,
    (S.INTERRUPTED, Event.CANCEL): S.CANCELLED,  # only while no user was created
    (S.REJECTED, Event.CANCEL): S.CANCELLED,
    (S.DONE, Event.UNDO): S.UNDONE,
    (S.DONE, Event.UNDO_PART): S.PARTLY_UNDONE,
    (S.INTERRUPTED, Event.ABANDON): S.ABANDONED,
    (S.CREATING, Event.ABANDON): S.ABANDONED,  # a worker silent for the whole retention period
}
del S

# Where an upload's life ends: no worker acts on it any more, whatever else may follow (undo).
ENDED = frozenset(
    {
        UploadStatus.REJECTED,
        UploadStatus.DONE,
        UploadStatus.CANCELLED,
        UploadStatus.ABANDONED,
        UploadStatus.UNDONE,
        UploadStatus.PARTLY_UNDONE,
    }
)
# A batch that ended one way or another: its uploader is told (delivery/outbox.py); retention
# counts its rows' age from `finished_at`. RETIRED_FAILED: see statuses.py.
FINISHED = (UploadStatus.DONE, UploadStatus.CANCELLED, UploadStatus.UNDONE, UploadStatus.PARTLY_UNDONE)


class IllegalMove(UploadBusy):
    """The table has no such move from the upload's status."""


def may(status: str | None, event: Event) -> bool:
    """Whether `event` may happen to an upload in `status` (None: no upload yet)."""
    return (_status(status), event) in MOVES


def next_status(status: str | None, event: Event) -> UploadStatus:
    """The status `event` moves an upload in `status` to; IllegalMove when the table has no such move."""
    found = MOVES.get((_status(status), event))
    if found is None:
        raise IllegalMove(f"A bulk upload that is {status or 'not made yet'} cannot {event.value.replace('_', ' ')}.")
    return found


def sources(event: Event) -> tuple[UploadStatus | None, ...]:
    """The statuses `event` may happen in."""
    return tuple(before for before, happening in MOVES if happening is event)


def _status(status: str | None) -> UploadStatus | None:
    return None if status is None else UploadStatus(status)


# ---------------------------------------------------------------- moves made on a locked (or new) row


def _move(upload: BulkUpload, event: Event, *, bump: bool = True, **fields: Any) -> None:
    """Move an upload this transaction holds (or just made) by `event`, writing `fields` with it."""
    upload.status = next_status(upload.status, event)
    for name, value in fields.items():
        setattr(upload, name, value)
    if bump:
        upload.version += 1
        upload.updated_at = utcnow()


def new_upload(
    *, company_id: int, admin_user_id: int | None, user_type: str, source: str, event: Event = Event.RECEIVE
) -> BulkUpload:
    """The one way an upload is made: "processing" for a file a worker reads (RECEIVE), "draft"
    for one judged here and now (STAGE). Not added to any session yet."""
    return BulkUpload(
        company_id=company_id,
        admin_user_id=admin_user_id,
        user_type=user_type,
        batch=BatchSpec(user_type=user_type).to_json(),
        source=str(source),
        status=next_status(None, event),
        wizard_step=WizardStep.REVIEW,
    )


def receive(upload: BulkUpload) -> None:
    """A draft (locked) whose file is replaced by a received one: "processing" again."""
    _move(upload, Event.RECEIVE, cancel_requested=False)


def staged(session: Session, upload: BulkUpload, *, actor: str, replaced_file: bool) -> None:
    """A file staged whole as a draft: a new one, or a draft's rows staged again (RESTAGE: back
    to reviewing them). The audit of the staged file."""
    if replaced_file:
        _move(upload, Event.RESTAGE, wizard_step=WizardStep.REVIEW)
    session.add(upload)
    session.flush()
    record_staged(session, upload, actor=actor, replaced_file=replaced_file)


def record_staged(session: Session, upload: BulkUpload, *, actor: str, **details: Any) -> None:
    """The audit of a file staged whole as a draft: its counts, how it was read, and `details`."""
    audit.record(
        session,
        audit.STAGED,
        upload_id=upload.id,
        company_id=upload.company_id,
        admin_user_id=upload.admin_user_id,
        actor=actor,
        file_name=upload.file_name,
        file_sha256=upload.file_sha256,
        total_rows=upload.total_rows,
        valid_rows=upload.valid_rows,
        invalid_rows=upload.invalid_rows,
        outcome="staged",
        details={
            "file_format": upload.file_format,
            "notices": list(upload.notices),
            "columns": upload.column_mapping,
            **details,
            "email_in_other_company": rows_with_email_of_other_company(session, upload.company_id, upload.id),
        },
    )


def set_step(upload: BulkUpload, step: WizardStep) -> None:
    """Where the admin comes back to in a draft (locked). The version is not bumped: no row changed."""
    _move(upload, Event.SET_STEP, bump=False, wizard_step=WizardStep(step))


def queue_create(upload: BulkUpload) -> None:
    """The create of a draft (or the resume of an interrupted create), locked, asked for: a job
    waits for a worker; the wizard shows its progress."""
    _move(
        upload,
        Event.QUEUE_CREATE,
        bump=False,
        queued_at=utcnow(),
        problem="",
        cancel_requested=False,
        wizard_step=WizardStep.CREATING,
    )


def create_refused(upload: BulkUpload, problem: str) -> None:
    """The queued create could not start (seats taken meanwhile, a group deleted): the admin reads
    why, and a draft goes back to the step where the batch is chosen."""
    upload.problem, upload.queued_at, upload.updated_at = problem[:1000], None, utcnow()
    if upload.status == UploadStatus.DRAFT:
        _move(upload, Event.CREATE_REFUSED, bump=False, wizard_step=WizardStep.SETTINGS)


def forget_cancel(upload: BulkUpload) -> bool:
    """A queued create the admin cancelled before a worker took it: the job does nothing; True
    when that is the case."""
    if not (upload.cancel_requested and may(upload.status, Event.FORGET_CANCEL)):
        return False
    _move(upload, Event.FORGET_CANCEL, bump=False, cancel_requested=False, queued_at=None)
    return True


def undo(
    session: Session,
    upload: BulkUpload,
    *,
    actor: str,
    admin_user_id: int | None,
    removed: list[int],
    kept: list[dict[str, Any]],
    details_limit: int,
) -> UploadStatus:
    """A done upload (locked) whose unchanged users were removed: undone, or partly when users were
    kept ([{user_id, reason}]). Its audit."""
    now = utcnow()
    _move(
        upload,
        Event.UNDO_PART if kept else Event.UNDO,
        undone_at=now,
        undone_by=actor[:120],
        undone_count=len(removed),
    )
    session.add(upload)
    audit.record(
        session,
        audit.UNDONE,
        upload_id=upload.id,
        company_id=upload.company_id,
        admin_user_id=admin_user_id if admin_user_id is not None else upload.admin_user_id,
        actor=actor,
        file_name=upload.file_name,
        file_sha256=upload.file_sha256,
        created=upload.created_count,
        outcome=upload.status,
        details={"removed": len(removed), "removed_user_ids": removed[:details_limit], "kept": kept},
    )
    return UploadStatus(upload.status)


# ---------------------------------------------------------------- cancel, once


def cancel(
    session: Session, company_id: int, upload_id: str, *, actor: str, idle_too: bool = False, reason: str = ""
) -> BulkUpload:
    """The admin's cancel (the wizard's, the API's, SCIM's for a batch it could not create).

    A running job (processing the file, creating the users) or one queued is asked to stop: a file
    no worker took yet is dropped at once, a queued create never starts; a worker stops between
    two chunks (`processing_cancelled`, `create_cancelled`). With `idle_too`, a draft no job runs
    for (or an interrupted or rejected upload) is dropped: "cancelled", unless users were created
    from it (only undo removes them). UploadBusy otherwise."""
    upload = get_upload(session, company_id, upload_id)
    if _running(upload):
        return _request_cancel(session, upload, actor)
    if not idle_too:
        raise UploadBusy("This bulk upload is not running: there is nothing to cancel.")
    upload = locked_upload(session, company_id, upload_id)
    if upload.status == UploadStatus.CANCELLED:
        return upload
    if not may(upload.status, Event.CANCEL) or upload.status == UploadStatus.CREATING or _created(session, upload.id):
        raise UploadBusy("Users of this upload are being created or were created; undo it instead.")
    _move(upload, Event.CANCEL, finished_at=utcnow(), pending_table=None)
    session.add(upload)
    audit.record(
        session,
        audit.CANCELLED,
        upload_id=upload.id,
        company_id=company_id,
        actor=actor,
        file_name=upload.file_name,
        outcome="cancelled",
        reason=reason or None,
    )
    return upload


def _running(upload: BulkUpload) -> bool:
    """A job works on the upload, or one is queued for it (a file or a create not started)."""
    if upload.status in (UploadStatus.PROCESSING, UploadStatus.CREATING):
        return True
    return upload.status in (UploadStatus.DRAFT, UploadStatus.INTERRUPTED) and upload.queued_at is not None


def _request_cancel(session: Session, upload: BulkUpload, actor: str) -> BulkUpload:
    if upload.status == UploadStatus.PROCESSING and upload.processing_owner is None:
        # No worker took the file yet: dropped now; the queued job finds it cancelled.
        _move(upload, Event.CANCEL, bump=False, cancel_requested=True)
        session.execute(delete(UploadFile).where(UploadFile.upload_id == upload.id))
    else:
        _move(upload, Event.REQUEST_CANCEL, bump=False, cancel_requested=True)
        if upload.status in (UploadStatus.DRAFT, UploadStatus.INTERRUPTED):
            # A create asked for but not started: the draft stays as it was; the queued job, when a
            # worker takes it, sees cancel_requested and does nothing (`forget_cancel`).
            upload.queued_at = None
            if upload.status == UploadStatus.DRAFT:
                upload.wizard_step = WizardStep.SETTINGS  # back where the admin chose the batch
    upload.version += 1
    upload.updated_at = utcnow()
    session.add(upload)
    audit.record(
        session,
        audit.CANCEL_REQUESTED,
        upload_id=upload.id,
        company_id=upload.company_id,
        actor=actor,
        file_name=upload.file_name,
        outcome=upload.status,
    )
    return upload


def _created(session: Session, upload_id: str) -> int:
    return session.execute(
        select(func.count()).where(BulkUploadRow.upload_id == upload_id, BulkUploadRow.outcome == RowOutcome.CREATED)
    ).scalar_one()


# ---------------------------------------------------------------- moves made set-wise (compare and set)

_up = BulkUpload.__table__.c


def _set(
    session: Session,
    upload_id: str,
    event: Event,
    *,
    only_from: Iterable[UploadStatus] | None = None,
    where: Iterable[ColumnElement[bool]] = (),
    bump: bool = True,
    values: dict[str, Any] | None = None,
    also: dict[str, Any] | None = None,
) -> int:
    """UPDATE the upload by `event` where its status is one the table allows it from (or
    `only_from`, a part of those) and `where` holds; how many rows moved (0 or 1).

    `values` are this module's fields written with the move; `also` other columns of the same
    UPDATE (a lease released, `updated_at`, the rows' purge time), never this module's fields.
    `bump`: the version goes up (a change an open page must notice)."""
    froms = tuple(only_from) if only_from is not None else tuple(s for s in sources(event) if s is not None)
    targets = {next_status(before, event) for before in froms}
    if len(targets) != 1:
        raise ValueError(f"{event} moves {froms} to {targets}: name the statuses it moves from")
    extra = _not_owned(dict(also or {}))
    if bump:
        extra["version"] = _up.version + 1
    return session.execute(
        update(BulkUpload.__table__)
        .where(_up.id == upload_id, _up.status.in_(froms), *where)
        .values(status=targets.pop(), **(values or {}), **extra)
    ).rowcount


# Processing a received file (uploads/processing.py): each in the transaction where the worker
# just renewed its lease, so the status it moves from is the one it holds.


def _held(moved: int, upload_id: str) -> None:
    if not moved:  # the caller's lease says "processing": a bug, not a race
        raise IllegalMove(f"Bulk upload {upload_id} is not being processed.")


def judging(session: Session, upload_id: str) -> None:
    """The worker (re)starts judging the file from its first row: the admin will review it."""
    _held(_set(session, upload_id, Event.JUDGE, bump=False, values={"wizard_step": WizardStep.REVIEW}), upload_id)


def judged(session: Session, upload_id: str, *, actor: str, processed_by: str, also: dict[str, Any]) -> None:
    """The file's last row is staged: a draft. The audit of the staged file."""
    _held(_set(session, upload_id, Event.JUDGED, also=also), upload_id)
    done = session.get(BulkUpload, upload_id, populate_existing=True)
    assert done is not None
    record_staged(session, done, actor=actor, processed_by=processed_by)


def hold_for_matching(session: Session, upload_id: str, *, also: dict[str, Any]) -> None:
    """The file's titles are not ours: a draft waiting at the Match columns step."""
    moved = _set(
        session, upload_id, Event.HOLD_FOR_MATCHING, bump=False, values={"wizard_step": WizardStep.MATCH}, also=also
    )
    _held(moved, upload_id)


def reject(
    session: Session,
    upload: BulkUpload,
    *,
    code: str,
    reason: str,
    size: int,
    replacing: bool,
    also: dict[str, Any],
) -> None:
    """The file can't be used: "rejected", or a draft whose file it was to replace keeps its rows."""
    _held(_set(session, upload.id, Event.KEEP_DRAFT if replacing else Event.REJECT, bump=False, also=also), upload.id)
    audit.record(
        session,
        audit.REJECTED,
        upload_id=upload.id,
        company_id=upload.company_id,
        admin_user_id=upload.admin_user_id,
        actor=actor_of(upload.admin_user_id),
        file_name=upload.file_name,
        file_sha256=upload.file_sha256,
        outcome="rejected",
        reason=reason,
        details={"code": code, "bytes": size, "replacing": replacing},
    )


def keep_draft(session: Session, upload_id: str, *, also: dict[str, Any]) -> bool:
    """A draft's replacing file could not even be processed (no slot): the draft as it was; False
    when it is no longer processing (the admin cancelled meanwhile)."""
    return bool(_set(session, upload_id, Event.KEEP_DRAFT, bump=False, also=also))


def processing_cancelled(
    session: Session, upload: BulkUpload, *, lease: ColumnElement[bool], owner: str, also: dict[str, Any]
) -> bool:
    """The worker holding the file (`lease` holds) saw the admin's cancel: "cancelled"; False when
    another worker took the file over (it owns the upload now)."""
    stopped = _set(
        session,
        upload.id,
        Event.CANCEL,
        only_from=(UploadStatus.PROCESSING,),
        where=(lease, _up.cancel_requested.is_(True)),
        values={"finished_at": utcnow()},
        also=also,
    )
    if stopped:
        audit.record(
            session,
            audit.CANCELLED,
            upload_id=upload.id,
            company_id=upload.company_id,
            admin_user_id=upload.admin_user_id,
            actor=actor_of(upload.admin_user_id),
            file_name=upload.file_name,
            outcome="cancelled",
            details={"while": "processing", "owner": owner},
        )
    return bool(stopped)


# Creating the users (uploads/creating.py, leases.py).


def start_create(
    session: Session,
    company_id: int,
    upload_id: str,
    *,
    lease_lapsed: ColumnElement[bool],
    now: datetime,
    also: dict[str, Any],
) -> bool:
    """Take the create (the lease's columns in `also`): from a draft, an interrupted create, or a
    "creating" whose worker's lease lapsed (`lease_lapsed`). False when none of these holds."""
    return bool(
        session.execute(
            update(BulkUpload.__table__)
            .where(
                _up.id == str(upload_id),
                _up.company_id == company_id,
                or_(
                    _up.status.in_((UploadStatus.DRAFT, UploadStatus.INTERRUPTED)),
                    and_(_up.status == UploadStatus.CREATING, lease_lapsed),
                ),
            )
            .values(
                status=next_status(UploadStatus.DRAFT, Event.START_CREATE),
                version=_up.version + 1,
                updated_at=now,
                **_not_owned(also),
            )
        ).rowcount
    )


def finish_create(
    session: Session,
    upload_id: str,
    *,
    created: int,
    failed: list[dict[str, Any]],
    facts: dict[str, Any],
    details: dict[str, Any],
    total_rows: int,
    also: dict[str, Any],
) -> None:
    """Every row settled (the worker renewed its lease in this transaction): "done", its counts,
    its audit, and the uploader's message queued exactly when it ends."""
    failed_count = len({item["row"] for item in failed})
    _set(
        session,
        upload_id,
        Event.FINISH,
        values={"created_count": created, "failed_count": failed_count, "finished_at": utcnow()},
        also=also,
    )
    by_code: dict[str, int] = {}
    for item in failed:
        by_code[item["code"]] = by_code.get(item["code"], 0) + 1
    audit.record(
        session,
        audit.CREATED,
        upload_id=upload_id,
        outcome="done",
        created=created,
        failed=len(failed),
        total_rows=total_rows,
        **facts,
        details={
            "failed_by_code": by_code,
            **details,
            "email_in_other_company": rows_with_email_of_other_company(session, facts["company_id"], upload_id),
        },
    )
    outbox.enqueue_batch_finished(session, upload_id, created=created, failed=failed_count)


def create_cancelled(
    session: Session,
    upload_id: str,
    *,
    lease: ColumnElement[bool],
    created: int,
    failed: list[dict[str, Any]],
    facts: dict[str, Any],
    details: dict[str, Any],
    also: dict[str, Any],
) -> None:
    """The worker creating the users (`lease` holds) saw the admin's cancel: the users created so
    far stay, the upload is "cancelled" (a finished batch, counted like one) and its uploader told."""
    failed_count = len({item["row"] for item in failed})
    _set(
        session,
        upload_id,
        Event.CANCEL,
        only_from=(UploadStatus.CREATING,),
        where=(lease,),
        values={
            "cancel_requested": False,
            "created_count": created,
            "failed_count": failed_count,
            "finished_at": utcnow(),
        },
        also={"updated_at": utcnow(), **also},
    )
    audit.record(
        session,
        audit.CANCELLED,
        upload_id=upload_id,
        outcome="cancelled",
        created=created,
        failed=len(failed),
        details={"while": "creating", **details},
        **facts,
    )
    outbox.enqueue_batch_finished(
        session, upload_id, created=created, failed=failed_count, reason="cancelled by an admin"
    )


def interrupt(
    session: Session,
    upload_id: str,
    *,
    lease: ColumnElement[bool],
    now: datetime | None = None,
    also: dict[str, Any],
    audit_fields: dict[str, Any],
    created: int | None = None,
    reason: str,
    tell_reason: str | None = None,
) -> bool:
    """The create stopped early (its worker failed, or died: `lease` says whose): "interrupted",
    resumable; audited with `reason`, its uploader told. False when `lease` no longer held."""
    now = now or utcnow()
    stopped = _set(
        session,
        upload_id,
        Event.INTERRUPT,
        where=(lease,),
        also={"updated_at": now, **also},
    )
    if not stopped:
        return False
    audit.record(
        session,
        audit.INTERRUPTED,
        upload_id=upload_id,
        outcome="interrupted",
        created=created if created is not None else _created(session, upload_id),
        reason=reason,
        **audit_fields,
    )
    outbox.enqueue_batch_finished(
        session, upload_id, created=created, reason=tell_reason if tell_reason is not None else reason, now=now
    )
    return True


# Retention (uploads/retention.py).


def abandon(session: Session, upload_id: str, *, created: int, failed: int, also: dict[str, Any]) -> bool:
    """An interrupted create never resumed (or a "creating" whose worker is long gone), its rows
    about to be purged: "abandoned", with what it achieved kept as its counts. Retention audits
    the purge that comes with it."""
    return bool(
        _set(
            session,
            upload_id,
            Event.ABANDON,
            values={"created_count": created, "failed_count": failed},
            also=also,
        )
    )


def _not_owned(values: dict[str, Any]) -> dict[str, Any]:
    if owned := OWNED_FIELDS & set(values):
        raise ValueError(f"{sorted(owned)} are written by the move itself, not beside it")
    return values
