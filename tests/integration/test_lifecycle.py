"""Every move of uploads/lifecycle.py on a real database (SQLite and PostgreSQL): the fields it
writes, its audit record, its outbox message, and the compare-and-set guard of the moves made
set-wise (a move from a status the table does not allow moves nothing)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bulk_upload_app import audit
from bulk_upload_app.db import session_scope
from bulk_upload_app.delivery.outbox import OutboxMessage
from bulk_upload_app.errors import FileProblem, UploadBusy
from bulk_upload_app.files.intake import parse_file, validate_file
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.models import BulkUpload, Company, utcnow
from bulk_upload_app.seed import default_settings
from bulk_upload_app.statuses import UploadSource, UploadStatus, WizardStep
from bulk_upload_app.uploads import create_lease, creating, lifecycle, pending, pipeline, processing, records
from bulk_upload_app.uploads.batch import BatchSpec
from bulk_upload_app.uploads.lifecycle import IllegalMove
from bulk_upload_app.uploads.retention import purge_finished_rows
from bulk_upload_app.uploads.undo import undo
from tests.support.factories import person, users_csv

LIMITS = ReadLimits(max_bytes=10_000_000, max_rows=100_000)
TABLE = BulkUpload.__table__


@pytest.fixture
def company(engine) -> int:
    with session_scope(engine) as session:
        found = Company(name="Lifecycle", seats=50, default_settings=default_settings())
        session.add(found)
        session.flush()
        return found.id


def _draft(engine, company_id, rows=3, **kwargs) -> str:
    data = users_csv([person(i) for i in range(rows)])
    return pipeline.draft_from_file(
        engine, company_id=company_id, admin_user_id=7, file_name="people.csv", data=data, limits=LIMITS, **kwargs
    )


def _received(engine, company_id) -> str:
    return pipeline.receive(
        engine,
        company_id=company_id,
        admin_user_id=7,
        file_name="p.csv",
        data=users_csv([person(1)]),
        user_type="agent",
    )


def _upload(engine, upload_id) -> BulkUpload:
    with session_scope(engine, read_only=True) as session:
        found = session.get(BulkUpload, upload_id)
        assert found is not None
        session.expunge(found)
        return found


def _events(engine, upload_id) -> list[str]:
    with session_scope(engine, read_only=True) as session:
        return [row.event for row in audit.history(session, upload_id)]


def _messages(engine, upload_id) -> list[dict]:
    with session_scope(engine, read_only=True) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.upload_id == upload_id)).scalars()
        return [row.payload for row in rows]


def test_receive_then_judged_makes_a_draft_to_review(engine, company):
    upload_id = _received(engine, company)
    received = _upload(engine, upload_id)
    assert (received.status, received.wizard_step, received.cancel_requested) == ("processing", "review", False)
    assert processing.process(engine, upload_id, limits=LIMITS) == UploadStatus.DRAFT
    judged = _upload(engine, upload_id)
    assert (judged.status, judged.wizard_step, judged.processing_owner, judged.total_rows) == (
        "draft",
        "review",
        None,
        1,
    )
    assert judged.version > received.version
    assert _events(engine, upload_id)[-1] == audit.STAGED


def test_a_file_with_titles_not_ours_waits_at_match(engine, company):
    data = users_csv([("Ada", "Lovelace", "ada@ex.example.com", "+44")], header=["Vorname", "Nachname", "Mail", "Tel"])
    upload_id = pipeline.draft_from_file(
        engine, company_id=company, admin_user_id=None, file_name="x.csv", data=data, limits=LIMITS
    )
    held = _upload(engine, upload_id)
    assert (held.status, held.wizard_step, held.pending_table is not None) == ("draft", WizardStep.MATCH, True)


def test_reject_and_keep_draft(engine, company):
    bad = b"\x00\x01 not a table"
    with pytest.raises(FileProblem):
        pipeline.draft_from_file(
            engine, company_id=company, admin_user_id=None, file_name="x.csv", data=bad, limits=LIMITS
        )
    with session_scope(engine, read_only=True) as session:
        rejected = session.exec(select(BulkUpload).where(BulkUpload.company_id == company)).scalars().one()
    assert rejected.status == UploadStatus.REJECTED and rejected.problem
    assert _events(engine, rejected.id)[-1] == audit.REJECTED

    draft_id = _draft(engine, company)
    with pytest.raises(FileProblem):
        pipeline.draft_from_file(
            engine,
            company_id=company,
            admin_user_id=None,
            file_name="x.csv",
            data=bad,
            limits=LIMITS,
            replace_upload_id=draft_id,
        )
    kept = _upload(engine, draft_id)
    assert (kept.status, kept.total_rows) == ("draft", 3)  # the old rows stay

    waiting = _received(engine, company)
    with session_scope(engine) as session:
        assert lifecycle.keep_draft(session, waiting, also={"queued_at": None})
        assert not lifecycle.keep_draft(session, waiting, also={})  # a draft already: nothing moves
    assert _upload(engine, waiting).status == UploadStatus.DRAFT


def test_the_worker_moves_raise_when_the_upload_is_not_processing(engine, company):
    draft_id = _draft(engine, company)
    with session_scope(engine) as session, pytest.raises(IllegalMove):
        lifecycle.judged(session, draft_id, actor="x", processed_by="w", also={})
    with session_scope(engine) as session, pytest.raises(IllegalMove):
        lifecycle.hold_for_matching(session, draft_id, also={})


def test_set_step_queue_refuse_and_forget(engine, company):
    draft_id = _draft(engine, company)
    with session_scope(engine) as session:
        lifecycle.set_step(records.locked_draft(session, company, draft_id), WizardStep.SETTINGS)
    assert _upload(engine, draft_id).wizard_step == "settings"
    with session_scope(engine) as session:
        upload = records.locked_draft(session, company, draft_id)
        lifecycle.queue_create(upload)
        session.add(upload)
    queued = _upload(engine, draft_id)
    assert queued.wizard_step == "creating" and queued.queued_at is not None
    with session_scope(engine) as session:
        upload = records.locked_draft(session, company, draft_id)
        lifecycle.create_refused(upload, "seats gone")
        session.add(upload)
    refused = _upload(engine, draft_id)
    assert (refused.wizard_step, refused.queued_at, refused.problem) == ("settings", None, "seats gone")


def test_start_and_finish_create(engine, company):
    draft_id = _draft(engine, company)
    result = creating.create_users(engine, company, draft_id, admin_user_id=7)
    done = _upload(engine, draft_id)
    assert (done.status, done.created_count, done.failed_count) == ("done", 3, 0) and result.created == 3
    assert done.finished_at is not None and done.creating_owner is None and done.seats_reserved == 0
    assert _events(engine, draft_id)[-2:] == [audit.CREATE_STARTED, audit.CREATED]
    assert [m["status"] for m in _messages(engine, draft_id)] == ["created"]
    with session_scope(engine) as session:  # a done upload is never claimed again
        assert not lifecycle.start_create(
            session, company, draft_id, lease_lapsed=TABLE.c.id.is_not(None), now=utcnow(), also={}
        )


def test_interrupt_by_recovery_then_resume(engine, company):
    draft_id = _draft(engine, company)
    long_ago = utcnow() - timedelta(hours=1)
    with session_scope(engine) as session:
        assert lifecycle.start_create(
            session,
            company,
            draft_id,
            lease_lapsed=TABLE.c.id.is_(None),
            now=long_ago,
            also={"creating_owner": "dead:1", "creating_heartbeat": long_ago},
        )
    assert create_lease.recover_stale(engine, lease=60) == [draft_id]
    stopped = _upload(engine, draft_id)
    assert (stopped.status, stopped.creating_owner, stopped.finished_at) == ("interrupted", None, None)
    assert _events(engine, draft_id)[-1] == audit.INTERRUPTED
    assert [m["status"] for m in _messages(engine, draft_id)] == ["interrupted"]
    assert create_lease.recover_stale(engine, lease=60) == []  # once
    creating.create_users(engine, company, draft_id)
    assert _upload(engine, draft_id).status == UploadStatus.DONE


def test_cancel_a_file_no_worker_took_and_an_idle_draft(engine, company):
    waiting = _received(engine, company)
    with session_scope(engine) as session:
        lifecycle.cancel(session, company, waiting, actor="admin:7")
    assert _upload(engine, waiting).status == UploadStatus.CANCELLED
    assert _events(engine, waiting)[-1] == audit.CANCEL_REQUESTED

    draft_id = _draft(engine, company)
    with session_scope(engine) as session, pytest.raises(UploadBusy):
        lifecycle.cancel(session, company, draft_id, actor="admin:7")  # the wizard: nothing runs
    with session_scope(engine) as session:
        lifecycle.cancel(session, company, draft_id, actor="api_key:k", idle_too=True, reason="why")
        lifecycle.cancel(session, company, draft_id, actor="api_key:k", idle_too=True)  # again: as it is
    dropped = _upload(engine, draft_id)
    assert dropped.status == UploadStatus.CANCELLED and dropped.finished_at is not None
    assert _events(engine, draft_id).count(audit.CANCELLED) == 1

    created = _draft(engine, company)
    creating.create_users(engine, company, created)
    with session_scope(engine) as session, pytest.raises(UploadBusy):
        lifecycle.cancel(session, company, created, actor="api_key:k", idle_too=True)


def test_a_worker_stops_where_the_admin_cancelled(engine, company):
    upload_id = _received(engine, company)
    with session_scope(engine) as session:
        session.execute(TABLE.update().where(TABLE.c.id == upload_id).values(processing_owner="w:1"))
        lifecycle.cancel(session, company, upload_id, actor="admin:7")  # asks the worker
    assert _upload(engine, upload_id).cancel_requested
    with session_scope(engine) as session:
        upload = session.get(BulkUpload, upload_id)
        assert not lifecycle.processing_cancelled(
            session, upload, lease=TABLE.c.processing_owner == "w:2", owner="w:2", also={}
        )
        assert lifecycle.processing_cancelled(
            session, upload, lease=TABLE.c.processing_owner == "w:1", owner="w:1", also={"processing_owner": None}
        )
    assert _upload(engine, upload_id).status == UploadStatus.CANCELLED

    draft_id = _draft(engine, company)
    with session_scope(engine) as session:
        assert lifecycle.start_create(
            session, company, draft_id, lease_lapsed=TABLE.c.id.is_(None), now=utcnow(), also={"creating_owner": "w:3"}
        )
        lifecycle.create_cancelled(
            session,
            draft_id,
            lease=TABLE.c.creating_owner == "w:3",
            created=0,
            failed=[],
            facts={"company_id": company, "actor": "admin:7"},
            details={},
            also={"creating_owner": None},
        )
    cancelled = _upload(engine, draft_id)
    assert (cancelled.status, cancelled.cancel_requested, cancelled.created_count) == ("cancelled", False, 0)
    assert [m["status"] for m in _messages(engine, draft_id)] == ["cancelled"]


def test_undo_and_abandon(engine, company):
    draft_id = _draft(engine, company)
    creating.create_users(engine, company, draft_id)
    with session_scope(engine) as session:
        undo(session, company, draft_id, actor="admin:7")
    undone = _upload(engine, draft_id)
    assert (undone.status, undone.undone_count, undone.undone_by) == ("undone", 3, "admin:7")
    assert _events(engine, draft_id)[-1] == audit.UNDONE

    stopped = _draft(engine, company)
    with session_scope(engine) as session:
        lifecycle.start_create(session, company, stopped, lease_lapsed=TABLE.c.id.is_(None), now=utcnow(), also={})
        lifecycle.interrupt(session, stopped, lease=TABLE.c.id.is_not(None), also={}, audit_fields={}, reason="test")
    long_ago = utcnow() + timedelta(days=60)
    done, _rows = purge_finished_rows(engine, now=long_ago, days=30)
    assert stopped in done
    abandoned = _upload(engine, stopped)
    assert (abandoned.status, abandoned.created_count, abandoned.failed_count) == ("abandoned", 0, 0)
    assert abandoned.rows_purged_at is not None
    with session_scope(engine) as session:  # an ended upload is not abandoned again
        assert not lifecycle.abandon(session, stopped, created=1, failed=1, also={})


def test_stage_a_judged_batch_and_restage_a_matched_file(engine, company):
    data = users_csv([person(i) for i in range(2)])
    parsed = parse_file(data, "cli.csv")
    with session_scope(engine) as session:
        staged = pipeline.stage_batch(
            session,
            company_id=company,
            file_name="cli.csv",
            parsed=parsed,
            validation=validate_file(parsed),
            spec=BatchSpec(user_type="agent"),
            source=UploadSource.CLI,
            actor="cli",
            notify=["ops@example.com"],
        )
        staged_id = staged.id
    made = _upload(engine, staged_id)
    assert (made.status, made.wizard_step, made.source, made.notify_emails) == (
        "draft",
        "review",
        "cli",
        ["ops@example.com"],
    )
    assert _events(engine, staged_id) == [audit.STAGED]

    held_data = users_csv(
        [("Ada", "Lovelace", "ada@ex.example.com", "+44")], header=["Vorname", "Nachname", "Mail", "Tel"]
    )
    held = pipeline.draft_from_file(
        engine, company_id=company, admin_user_id=None, file_name="x.csv", data=held_data, limits=LIMITS
    )
    with session_scope(engine) as session:
        pending.confirm(session, company, None, held, {0: "firstname", 1: "lastname", 2: "email", 3: "countryprefix"})
    restaged = _upload(engine, held)
    assert (restaged.status, restaged.wizard_step, restaged.pending_table, restaged.total_rows) == (
        "draft",
        "review",
        None,
        1,
    )
    assert _events(engine, held)[-1] == audit.STAGED


def test_a_queued_create_cancelled_before_a_worker_took_it_is_forgotten(engine, company):
    draft_id = _draft(engine, company)
    with session_scope(engine) as session:
        upload = records.locked_draft(session, company, draft_id)
        lifecycle.queue_create(upload)
        session.add(upload)
    with session_scope(engine) as session:
        lifecycle.cancel(session, company, draft_id, actor="admin:7")
    asked = _upload(engine, draft_id)
    assert (asked.status, asked.cancel_requested, asked.queued_at, asked.wizard_step) == (
        "draft",
        True,
        None,
        "settings",
    )
    with session_scope(engine) as session:
        upload = session.get(BulkUpload, draft_id)
        assert lifecycle.forget_cancel(upload)
        session.add(upload)
    assert not _upload(engine, draft_id).cancel_requested
