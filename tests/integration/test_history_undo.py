"""Upload history, the results file, and undoing an upload, on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bulk_upload_app import audit
from bulk_upload_app.db import session_scope
from bulk_upload_app.errors import ErrorCode, UndoRefused, UploadNotFound
from bulk_upload_app.files.schema import COLUMN_NAMES
from bulk_upload_app.models import (
    BulkUpload,
    BulkUploadAudit,
    BulkUploadRow,
    Company,
    Group,
    GroupMember,
    User,
    UserOutboundNumber,
    UserSkill,
    utcnow,
)
from bulk_upload_app.statuses import STATUS_LABELS, RowOutcome, UploadStatus
from bulk_upload_app.uploads import creating, history, records, undo
from bulk_upload_app.uploads.batch import batch_from_names
from bulk_upload_app.uploads.report import RESULTS_HEADER, results_csv
from tests.support.factories import count_users, new_company, person, stage


def created_upload(engine, company_id, n=5, bad=1, spec=None, name="users.csv", start=0):
    rows = [person(start + i) for i in range(n)] + [person(100 + i, email="bad") for i in range(bad)]
    upload_id = stage(engine, company_id, rows, spec, name=name)
    creating.create_users(engine, company_id, upload_id)
    return upload_id


def batch_spec(engine, company_id):
    with session_scope(engine) as session:
        return batch_from_names(
            session,
            company_id,
            user_type="agent",
            group_names=["Sales"],
            outbound_numbers=["+442071838750"],
            skills=[("English", 4), ("Klingon", 1)],  # Klingon is new: created by the batch
        )


# ---------------------------------------------------------------- history


def test_the_history_lists_the_companys_uploads_newest_first_with_plain_statuses(engine):
    company, other = new_company(engine), new_company(engine, name="Other")
    first = created_upload(engine, company, n=3, bad=1, name="first.csv")
    second = created_upload(engine, company, n=2, bad=0, name="second.csv", start=10)
    draft = stage(engine, company, [person(50)], name="draft.csv")
    created_upload(engine, other, n=1, bad=0, name="theirs.csv", start=20)
    with session_scope(engine) as session:
        session.execute(update(BulkUpload).where(BulkUpload.id == first).values(created_at=utcnow() - timedelta(1)))
        lines, total = history.list_uploads(session, company)
        assert total == 3
        assert [(line.file_name, line.status, line.rows, line.created, line.failed) for line in lines[1:]] == [
            ("second.csv", "created", 2, 2, 0),
            ("first.csv", "created_with_failures", 4, 3, 1),
        ]
        assert lines[0].id == draft and lines[0].status_label == "Draft"
        assert all(line.source == "wizard" for line in lines)
        assert lines[1].duration_seconds is not None and lines[1].duration_seconds >= 0
        assert [line.id for line in history.list_uploads(session, company, status="created_with_failures")[0]] == [
            first
        ]
        assert history.list_uploads(session, company, status="created")[0][0].id == second
        assert len(history.list_uploads(session, company, offset=1, limit=1)[0]) == 1
        # Another company's history shows none of these.
        assert [line.file_name for line in history.list_uploads(session, other)[0]] == ["theirs.csv"]
    assert set(STATUS_LABELS) >= {line.status for line in lines}


def test_the_results_file_has_every_row_with_its_outcome_the_files_columns_first(engine):
    company = new_company(engine)
    upload_id = created_upload(engine, company, n=2, bad=1)
    with session_scope(engine) as session:
        rows = records.every_row(session, upload_id)
    lines = list(csv.reader(io.StringIO(results_csv(rows).decode("utf-8-sig"))))
    assert lines[0] == list(RESULTS_HEADER) and lines[0][: len(COLUMN_NAMES)] == list(COLUMN_NAMES)
    assert [(line[2], line[-3], line[-2]) for line in lines[1:]] == [
        (person(0)["email"], "created", ""),
        (person(1)["email"], "created", ""),
        ("bad", "not created (errors)", "INVALID_EMAIL"),
    ]


# ---------------------------------------------------------------- undo


def test_undo_removes_the_batchs_unchanged_users_with_their_links_and_frees_their_seats(engine, demo_company):
    spec = batch_spec(engine, demo_company)
    before = count_users(engine, demo_company)
    upload_id = created_upload(engine, demo_company, n=4, bad=1, spec=spec)
    with session_scope(engine) as session:
        seats_before = records.company_seats(session, demo_company)
        ids = list(session.exec(select(User.id).where(User.bulk_upload_id == upload_id)).scalars())
        plan = undo.preview(session, demo_company, upload_id)
    assert (plan.removed, plan.kept, plan.done) == (4, [], False)
    with session_scope(engine) as session:
        result = undo.undo(session, demo_company, upload_id, actor="admin:7", admin_user_id=7)
    assert (result.removed, result.kept, result.status) == (4, [], UploadStatus.UNDONE)
    assert count_users(engine, demo_company) == before
    with session_scope(engine) as session:
        for link in (GroupMember, UserOutboundNumber, UserSkill):
            assert session.exec(select(func.count()).select_from(link).where(link.user_id.in_(ids))).scalar_one() == 0
        assert records.company_seats(session, demo_company).free == seats_before.free + 4
        upload = session.get(BulkUpload, upload_id)
        assert (upload.status, upload.undone_count, upload.undone_by) == ("undone", 4, "admin:7")
        outcomes = session.exec(select(BulkUploadRow.outcome).where(BulkUploadRow.upload_id == upload_id)).scalars()
        assert sorted(outcomes) == ["pending"] + ["undone"] * 4
        (entry,) = session.exec(
            select(BulkUploadAudit).where(BulkUploadAudit.upload_id == upload_id, BulkUploadAudit.event == undo.UNDONE)
        ).scalars()
        assert (entry.actor, entry.admin_user_id, entry.details["removed"]) == ("admin:7", 7, 4)
        assert sorted(entry.details["removed_user_ids"]) == sorted(ids)
        assert history.list_uploads(session, demo_company)[0][0].status_label == "Undone"


def test_users_changed_since_creation_are_kept_and_the_upload_is_partly_undone(engine, demo_company):
    spec = batch_spec(engine, demo_company)
    upload_id = created_upload(engine, demo_company, n=4, bad=0, spec=spec)
    with session_scope(engine) as session:
        users = {u.email: u for u in session.exec(select(User).where(User.bulk_upload_id == upload_id)).scalars()}
        edited, linked, relevelled = (users[person(i)["email"]] for i in range(3))
        edited.lastname = "Renamed"  # the ORM bumps updated_at
        support = (
            session.exec(select(Group).where(Group.company_id == demo_company, Group.name != "Sales")).scalars().first()
        )
        session.add(GroupMember(user_id=linked.id, group_id=support.id))
        session.execute(update(UserSkill).where(UserSkill.user_id == relevelled.id).values(level=5))
    with session_scope(engine) as session:
        plan = undo.preview(session, demo_company, upload_id)
    assert plan.removed == 1
    assert {k.email: k.reason for k in plan.kept} == {
        edited.email: undo.REASON_EDITED,
        linked.email: undo.REASON_LINKS,
        relevelled.email: undo.REASON_LINKS,
    }
    with session_scope(engine) as session:
        result = undo.undo(session, demo_company, upload_id, actor="cli:ops")
    assert (result.removed, len(result.kept), result.status) == (1, 3, "partly_undone")
    with session_scope(engine) as session:
        left = set(session.exec(select(User.email).where(User.bulk_upload_id == upload_id)).scalars())
        assert left == {edited.email, linked.email, relevelled.email}
        # Repeated: the same answer, nothing more removed (not even users unchanged meanwhile).
        again = undo.undo(session, demo_company, upload_id, actor="cli:ops")
    assert (again.removed, {k.email for k in again.kept}, again.status, again.done) == (1, left, "partly_undone", True)
    assert count_users(engine, demo_company) >= 3


def test_the_engine_defines_changed_since_once_a_plain_create_is_unchanged(engine):
    company = new_company(engine)
    upload_id = created_upload(engine, company, n=2, bad=0)
    with session_scope(engine) as session:
        users = session.exec(select(User).where(User.bulk_upload_id == upload_id)).scalars().all()
        assert all(u.updated_at == u.created_at for u in users)
        session.execute(update(User).where(User.id == users[0].id).values(is_active=False))  # Core UPDATE bumps it
    with session_scope(engine) as session:
        assert [k.email for k in undo.preview(session, company, upload_id).kept] == [users[0].email]


def test_undo_is_refused_past_the_window_while_creating_and_for_drafts(engine, monkeypatch):
    company = new_company(engine)
    done = created_upload(engine, company, n=1, bad=0)
    draft = stage(engine, company, [person(9)])
    with session_scope(engine) as session:
        session.execute(update(BulkUpload).where(BulkUpload.id == done).values(finished_at=utcnow() - timedelta(8)))
    with session_scope(engine) as session, pytest.raises(UndoRefused) as refused:
        undo.undo(session, company, done, actor="x")
    assert refused.value.code is ErrorCode.UNDO_WINDOW_PASSED
    monkeypatch.setenv("BULK_UPLOAD_UNDO_DAYS", "10")
    with session_scope(engine) as session:
        assert undo.preview(session, company, done).removed == 1
    with session_scope(engine) as session, pytest.raises(UndoRefused) as refused:
        undo.undo(session, company, draft, actor="x")
    assert refused.value.code is ErrorCode.UNDO_NOT_AVAILABLE
    with session_scope(engine) as session:
        session.execute(
            update(BulkUpload)
            .where(BulkUpload.id == draft)
            .values(status=UploadStatus.CREATING, creating_heartbeat=utcnow(), creating_owner="w")
        )
    with session_scope(engine) as session, pytest.raises(UndoRefused, match="still being created"):
        undo.undo(session, company, draft, actor="x")


def test_another_companys_upload_can_be_neither_undone_nor_previewed_nor_downloaded(engine):
    company, other = new_company(engine), new_company(engine, name="Other")
    theirs = created_upload(engine, other, n=2, bad=0)
    for attempt in (
        lambda s: undo.undo(s, company, theirs, actor="x"),
        lambda s: undo.preview(s, company, theirs),
        lambda s: records.every_row(s, records.get_upload(s, company, theirs).id),
    ):
        with session_scope(engine) as session, pytest.raises(UploadNotFound):
            attempt(session)
    assert count_users(engine, other) == 2


def test_undone_uploads_rows_are_purged_after_retention_like_any_finished_upload(engine, tmp_path):
    from bulk_upload_app.uploads import retention

    company = new_company(engine)
    upload_id = created_upload(engine, company, n=1, bad=1)
    with session_scope(engine) as session:
        undo.undo(session, company, upload_id, actor="x")
    result = retention.purge(engine, tmp_path, now=utcnow() + timedelta(days=31))
    assert upload_id in result.uploads_rows_purged
    with session_scope(engine) as session:
        assert session.get(BulkUpload, upload_id).status == "undone"
        assert [e.event for e in audit.history(session, upload_id)][-2:] == [undo.UNDONE, audit.ROWS_PURGED]
        assert "x undid the upload: 1 users removed, 0 kept" in " ".join(audit.story(session, upload_id))
        (line,), _ = history.list_uploads(session, company)
        assert (line.status, line.created, line.failed, line.rows_purged_at is not None) == ("undone", 1, 1, True)


def test_a_creating_upload_whose_worker_died_is_listed_and_filtered_as_interrupted(engine):
    company = new_company(engine)
    upload_id = stage(engine, company, [person(1)])
    with session_scope(engine) as session:
        session.execute(
            update(BulkUpload)
            .where(BulkUpload.id == upload_id)
            .values(status="creating", creating_owner="dead", creating_heartbeat=utcnow() - timedelta(hours=1))
        )
    with session_scope(engine) as session:
        assert [line.status for line in history.list_uploads(session, company)[0]] == ["interrupted"]
        assert [line.id for line in history.list_uploads(session, company, status="interrupted")[0]] == [upload_id]
        assert history.list_uploads(session, company, status="creating") == ([], 0)


def test_outcomes_stay_consistent_with_the_statuses_module():
    assert RowOutcome.UNDONE == "undone" and len(RowOutcome.UNDONE) <= 10


def test_undo_processes_racing_on_one_upload_remove_each_user_once(engine, db_url, demo_company):
    from tests.support import concurrency_workers
    from tests.support.concurrency_workers import run_racers

    spec = batch_spec(engine, demo_company)
    with session_scope(engine) as session:
        session.execute(update(Company).where(Company.id == demo_company).values(seats=1000))
    upload_id = created_upload(engine, demo_company, n=300, bad=0, spec=spec)
    with session_scope(engine) as session:
        kept_user = session.exec(select(User).where(User.bulk_upload_id == upload_id)).scalars().first()
        kept_user.firstname = "Changed"
    before = count_users(engine, demo_company)
    outcomes = run_racers(concurrency_workers.undo, [(db_url, demo_company, upload_id)] * 3)
    assert all(o[0] == "ok" for o in outcomes), outcomes
    # Every racer answers with the one undo that happened: 299 removed, the changed user kept.
    assert {(o[1], tuple(o[2]), o[3]) for o in outcomes} == {(299, (kept_user.email,), "partly_undone")}
    assert count_users(engine, demo_company) == before - 299
    with session_scope(engine) as session:
        events = session.exec(
            select(BulkUploadAudit.event).where(
                BulkUploadAudit.upload_id == upload_id, BulkUploadAudit.event == undo.UNDONE
            )
        ).all()
        assert len(events) == 1
        assert session.get(BulkUpload, upload_id).undone_count == 299
