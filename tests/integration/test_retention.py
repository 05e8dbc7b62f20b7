"""Personal data is not kept forever: the retention rules, on SQLite and PostgreSQL.

The clock is ours: the purge is given `now`, and records are back-dated by UPDATE; nothing sleeps.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bulk_upload_app import audit, errors
from bulk_upload_app.db import session_scope
from bulk_upload_app.models import BulkUpload, BulkUploadAudit, BulkUploadRow, User, utcnow
from bulk_upload_app.settings import SettingsError, get_settings
from bulk_upload_app.uploads import creating, retention
from tests.support import concurrency_workers
from tests.support.concurrency_workers import run_racers
from tests.support.factories import new_company, person, stage
from tests.support.services import postgres_only

DAY = timedelta(days=1)


def back_date(engine, upload_id: str, **columns) -> None:
    with session_scope(engine) as session:
        session.execute(update(BulkUpload.__table__).where(BulkUpload.id == upload_id).values(**columns))


def row_count(engine, upload_id: str) -> int:
    with session_scope(engine, read_only=True) as session:
        return session.exec(
            select(func.count()).select_from(BulkUploadRow).where(BulkUploadRow.upload_id == upload_id)
        ).scalar_one()


def upload_of(engine, upload_id: str) -> BulkUpload | None:
    with session_scope(engine, read_only=True) as session:
        return session.get(BulkUpload, upload_id)


def events(engine, upload_id: str) -> list[str]:
    with session_scope(engine, read_only=True) as session:
        return [a.event for a in audit.history(session, upload_id)]


def users_of(engine, upload_id: str) -> int:
    with session_scope(engine, read_only=True) as session:
        return session.exec(select(func.count()).select_from(User).where(User.bulk_upload_id == upload_id)).scalar_one()


def done_upload(engine, company: int, n: int = 3, domain: str = "done.example.com") -> str:
    """Created: n users, one row with an invalid email."""
    upload_id = stage(
        engine, company, [*(person(i, domain=domain, phone="") for i in range(n)), person(99, email="bad")]
    )
    creating.create_users(engine, company, upload_id)
    return upload_id


def interrupted_upload(engine, company: int, domain: str) -> str:
    """Stopped after its first chunk: 2 users created, 3 valid rows never tried, 1 invalid row."""
    upload_id = stage(
        engine, company, [*(person(i, domain=domain, phone="") for i in range(5)), person(99, email="bad")]
    )

    def stop(done, total):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        creating.create_users(engine, company, upload_id, chunk_size=2, on_progress=stop)
    assert upload_of(engine, upload_id).status == "interrupted"
    return upload_id


# ---------------------------------------------------------------- drafts


def test_a_draft_goes_after_draft_days_untouched_not_before(engine):
    company = new_company(engine)
    upload_id = stage(engine, company, [person(i) for i in range(4)])
    start = upload_of(engine, upload_id).updated_at

    kept = retention.purge_drafts(engine, now=start + 14 * DAY - timedelta(seconds=1), days=14)
    assert kept == ([], 0) and row_count(engine, upload_id) == 4

    assert retention.purge_drafts(engine, now=start + 14 * DAY + timedelta(seconds=1), days=14) == ([upload_id], 4)
    assert upload_of(engine, upload_id) is None and row_count(engine, upload_id) == 0


def test_the_draft_clock_is_the_last_change_not_the_upload(engine):
    company = new_company(engine)
    now = utcnow()
    edited = stage(engine, company, [person(1)])
    back_date(engine, edited, created_at=now - 60 * DAY, updated_at=now - 2 * DAY)
    assert retention.purge(engine, Path("/nonexistent"), now=now).drafts_deleted == []
    assert retention.purge(
        engine, Path("/nonexistent"), now=now, rules=retention.Rules(draft_days=1)
    ).drafts_deleted == [edited]


def test_a_purged_draft_keeps_its_audit_saying_so(engine, caplog):
    company = new_company(engine)
    upload_id = stage(engine, company, [person(1), person(2, email="bad")], name="people.csv")
    now = upload_of(engine, upload_id).updated_at + 15 * DAY
    with caplog.at_level("INFO", logger="bulk_upload"):
        retention.purge(engine, Path("/nonexistent"), now=now)
    assert events(engine, upload_id) == [audit.STAGED, audit.DRAFT_PURGED]
    with session_scope(engine, read_only=True) as session:
        purged = audit.history(session, upload_id)[-1]
        story = audit.story(session, upload_id)
    assert (purged.actor, purged.outcome, purged.company_id, purged.total_rows, purged.invalid_rows) == (
        "retention",
        "purged",
        company,
        2,
        1,
    )
    assert purged.details["rows_deleted"] == 2 and "BULK_UPLOAD_DRAFT_DAYS" in purged.reason
    assert "draft deleted with its 2 rows" in story[-1]
    assert any('"bulk_upload.draft_purged"' in r.getMessage() and upload_id in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- finished uploads


def test_a_done_uploads_rows_go_after_retention_days_its_counts_users_and_audit_stay(engine):
    company = new_company(engine)
    upload_id = done_upload(engine, company)
    finished = upload_of(engine, upload_id).finished_at

    assert retention.purge_finished_rows(engine, now=finished + 30 * DAY - timedelta(seconds=1), days=30) == ([], 0)
    assert row_count(engine, upload_id) == 4

    now = finished + 30 * DAY + timedelta(seconds=1)
    assert retention.purge_finished_rows(engine, now=now, days=30) == ([upload_id], 4)
    upload = upload_of(engine, upload_id)
    assert (upload.status, upload.created_count, upload.failed_count, upload.total_rows) == ("done", 3, 1, 4)
    assert upload.rows_purged_at == now and upload.file_name == "users.csv"
    assert row_count(engine, upload_id) == 0 and users_of(engine, upload_id) == 3
    assert events(engine, upload_id) == [audit.STAGED, audit.CREATE_STARTED, audit.CREATED, audit.ROWS_PURGED]


def test_notifications_are_forgotten_after_retention_days_unless_still_to_be_sent(engine, tmp_path):
    from bulk_upload_app.models import OutboxMessage
    from bulk_upload_app.statuses import OutboxStatus

    company = new_company(engine)
    ended, waiting = done_upload(engine, company), done_upload(engine, company, domain="wait.example.com")
    with session_scope(engine) as session:
        messages = (
            session.exec(select(OutboxMessage).where(OutboxMessage.upload_id.in_([ended, waiting]))).scalars().all()
        )
        assert len(messages) == 2
        for message in messages:
            message.status = OutboxStatus.SENT if message.upload_id == ended else OutboxStatus.PENDING
            message.recipients = ["admin@example.com"]
        first_queued, last_queued = min(m.created_at for m in messages), max(m.created_at for m in messages)

    def left() -> list[str]:
        with session_scope(engine, read_only=True) as session:
            return sorted(session.exec(select(OutboxMessage.upload_id)).scalars().all())

    early = first_queued + 30 * DAY - timedelta(seconds=1)
    assert retention.purge(engine, tmp_path, now=early).notifications_deleted == 0
    result = retention.purge(engine, tmp_path, now=last_queued + 30 * DAY + timedelta(seconds=1))
    assert result.notifications_deleted == 1 and left() == [waiting]
    assert "forgot 1 old notifications" in result.summary()


def test_an_interrupted_upload_left_for_retention_days_is_abandoned_with_its_counts(engine):
    company = new_company(engine)
    upload_id = interrupted_upload(engine, company, "stopped.example.com")
    stopped = upload_of(engine, upload_id).updated_at

    assert retention.purge_finished_rows(engine, now=stopped + 29 * DAY, days=30) == ([], 0)
    assert upload_of(engine, upload_id).status == "interrupted"

    assert retention.purge_finished_rows(engine, now=stopped + 31 * DAY, days=30) == ([upload_id], 6)
    upload = upload_of(engine, upload_id)
    # 2 created; the invalid row failed; the 3 valid rows never tried are neither.
    assert (upload.status, upload.created_count, upload.failed_count) == ("abandoned", 2, 1)
    assert users_of(engine, upload_id) == 2
    with session_scope(engine, read_only=True) as session:
        last = audit.history(session, upload_id)[-1]
    assert (last.event, last.created, last.failed, last.details["status_was"]) == (
        audit.ROWS_PURGED,
        2,
        1,
        "interrupted",
    )
    # Without its rows it cannot be resumed; the admin is told why.
    with pytest.raises(errors.UploadBusy, match="rows were deleted"):
        creating.create_users(engine, company, upload_id)
    assert users_of(engine, upload_id) == 2


def test_a_live_creating_upload_is_never_touched_a_long_dead_one_is(engine):
    company = new_company(engine)
    now = utcnow()
    live = stage(engine, company, [person(1)])
    # Started long ago and still beating: a slow creation, not an abandoned one.
    back_date(
        engine,
        live,
        status="creating",
        creating_owner="host:1:a",
        creating_heartbeat=now - timedelta(seconds=5),
        created_at=now - 90 * DAY,
        updated_at=now - 90 * DAY,
    )
    recently_dead = stage(engine, company, [person(2)])
    back_date(
        engine,
        recently_dead,
        status="creating",
        creating_owner="host:2:b",
        creating_heartbeat=now - 29 * DAY,
        updated_at=now - 29 * DAY,
    )
    long_dead = stage(engine, company, [person(3)])
    back_date(
        engine,
        long_dead,
        status="creating",
        creating_owner="host:3:c",
        creating_heartbeat=now - 31 * DAY,
        updated_at=now - 31 * DAY,
    )

    assert retention.purge(engine, Path("/nonexistent"), now=now).uploads_rows_purged == [long_dead]
    assert upload_of(engine, live).status == "creating" and row_count(engine, live) == 1
    assert upload_of(engine, recently_dead).status == "creating" and row_count(engine, recently_dead) == 1
    dead = upload_of(engine, long_dead)
    assert (dead.status, dead.creating_owner, row_count(engine, long_dead)) == ("abandoned", None, 0)


def test_a_purge_during_a_real_creation_leaves_it_alone(engine):
    company = new_company(engine, seats=100)
    old = done_upload(engine, company, domain="old.example.com")
    back_date(engine, old, finished_at=utcnow() - 40 * DAY)
    running = stage(engine, company, [person(i, domain="running.example.com", phone="") for i in range(9)])
    during = []

    def purge_midway(done, total):
        if not during:
            during.append(retention.purge(engine, Path("/nonexistent")))

    result = creating.create_users(engine, company, running, chunk_size=3, on_progress=purge_midway)
    assert during[0].uploads_rows_purged == [old] and during[0].drafts_deleted == []
    assert result.created == 9 and row_count(engine, running) == 9
    assert upload_of(engine, running).rows_purged_at is None


# ---------------------------------------------------------------- exactly what is due, once


def test_one_purge_removes_exactly_what_is_due_in_every_company_and_a_second_removes_nothing(engine, tmp_path):
    ours, theirs = new_company(engine, name="Ours"), new_company(engine, name="Theirs")
    now = utcnow()

    def draft(company, age_days, domain):
        upload_id = stage(engine, company, [person(1, domain=domain), person(2, domain=domain)])
        back_date(engine, upload_id, updated_at=now - age_days * DAY)
        return upload_id

    def finished(company, age_days, domain):
        upload_id = done_upload(engine, company, domain=domain)
        back_date(engine, upload_id, finished_at=now - age_days * DAY)
        return upload_id

    due_drafts = {draft(ours, 15, "d1.example.com"), draft(theirs, 20, "d2.example.com")}
    fresh_drafts = {draft(ours, 13, "d3.example.com"), draft(theirs, 1, "d4.example.com")}
    due_rows = {finished(ours, 31, "f1.example.com"), finished(theirs, 45, "f2.example.com")}
    fresh_finished = {finished(ours, 29, "f3.example.com"), finished(theirs, 0, "f4.example.com")}
    stopped = interrupted_upload(engine, theirs, "i1.example.com")
    back_date(engine, stopped, updated_at=now - 31 * DAY)
    due_rows.add(stopped)
    resumable = interrupted_upload(engine, ours, "i2.example.com")
    with session_scope(engine, read_only=True) as session:
        audit_rows = session.exec(select(func.count()).select_from(BulkUploadAudit)).scalar_one()

    first = retention.purge(engine, tmp_path, now=now)
    assert set(first.drafts_deleted) == due_drafts and first.draft_rows_deleted == 4
    assert set(first.uploads_rows_purged) == due_rows and first.rows_purged == 2 * 4 + 6
    for upload_id in due_drafts:
        assert upload_of(engine, upload_id) is None and row_count(engine, upload_id) == 0
    for upload_id in due_rows:
        assert upload_of(engine, upload_id).rows_purged_at == now and row_count(engine, upload_id) == 0
    for upload_id in fresh_drafts | fresh_finished | {resumable}:
        assert upload_of(engine, upload_id).rows_purged_at is None
        assert row_count(engine, upload_id) == upload_of(engine, upload_id).total_rows
    assert upload_of(engine, resumable).status == "interrupted"
    with session_scope(engine, read_only=True) as session:
        assert (
            session.exec(select(func.count()).select_from(User).where(User.company_id == theirs)).scalar_one()
            == 3 + 2 + 3
        )
        # Nothing audited before is lost; one new row per purged upload.
        assert session.exec(select(func.count()).select_from(BulkUploadAudit)).scalar_one() == audit_rows + 5

    second = retention.purge(engine, tmp_path, now=now)
    assert not second.removed_anything and second.summary() == "Nothing to purge."
    assert second.as_dict()["drafts_deleted"] == {"count": 0, "rows": 0, "upload_ids": []}
    with session_scope(engine, read_only=True) as session:
        assert session.exec(select(func.count()).select_from(BulkUploadAudit)).scalar_one() == audit_rows + 5


def test_the_result_names_ids_and_counts_never_personal_data(engine, tmp_path):
    company = new_company(engine)
    upload_id = stage(engine, company, [person(1, firstname="Zelda", email="zelda.secret@example.com")])
    old = tmp_path / f"{'ab' * 16}.upload"
    old.write_bytes(b"x")
    os.utime(old, (0, 0))
    result = retention.purge(engine, tmp_path, now=utcnow() + 20 * DAY)
    document = result.as_dict()
    assert document["drafts_deleted"] == {"count": 1, "rows": 1, "upload_ids": [upload_id]}
    assert document["files_removed"] == {"count": 1, "files": [old.name]}
    assert "zelda" not in repr(document).lower() and "zelda" not in result.summary().lower()


# ---------------------------------------------------------------- concurrent purges


def test_concurrent_purges_remove_and_audit_each_thing_once(engine, db_url, tmp_path):
    company = new_company(engine, seats=200)
    now = utcnow()
    drafts_due, rows_due = set(), set()
    for i in range(6):
        upload_id = stage(engine, company, [person(j, domain=f"d{i}.example.com") for j in range(20)])
        back_date(engine, upload_id, updated_at=now - 20 * DAY)
        drafts_due.add(upload_id)
        upload_id = done_upload(engine, company, n=5, domain=f"f{i}.example.com")
        back_date(engine, upload_id, finished_at=now - 40 * DAY)
        rows_due.add(upload_id)
    files = [tmp_path / f"{i:032x}.upload" for i in range(6)]
    for path in files:
        path.write_bytes(b"x")
        os.utime(path, (now.timestamp() - 7200,) * 2)

    outcomes = run_racers(concurrency_workers.purge, [(db_url, str(tmp_path), now.isoformat())] * 3)
    assert [o[0] for o in outcomes] == ["ok"] * 3, outcomes
    deleted = [i for o in outcomes for i in o[1]]
    purged = [i for o in outcomes for i in o[2]]
    removed = [f for o in outcomes for f in o[3]]
    assert sorted(deleted) == sorted(drafts_due)
    assert sorted(purged) == sorted(rows_due)
    assert sorted(removed) == sorted(p.name for p in files)
    with session_scope(engine, read_only=True) as session:
        audited = session.exec(
            select(BulkUploadAudit.upload_id, BulkUploadAudit.event).where(
                BulkUploadAudit.event.in_((audit.DRAFT_PURGED, audit.ROWS_PURGED))
            )
        ).all()
        assert session.exec(select(func.count()).select_from(BulkUploadRow)).scalar_one() == 0
    assert sorted(audited) == sorted(
        [(i, audit.DRAFT_PURGED) for i in drafts_due] + [(i, audit.ROWS_PURGED) for i in rows_due]
    )


@postgres_only
def test_a_draft_being_edited_is_skipped_not_waited_for_on_postgres(engine):
    from bulk_upload_app.uploads import drafts

    company = new_company(engine)
    upload_id = stage(engine, company, [person(1)])
    back_date(engine, upload_id, updated_at=utcnow() - 20 * DAY)
    with session_scope(engine) as editing:
        drafts.locked_draft(editing, company, upload_id)
        assert retention.purge_drafts(engine, now=utcnow(), days=14) == ([], 0)
    assert retention.purge_drafts(engine, now=utcnow(), days=14) == ([upload_id], 1)


# ---------------------------------------------------------------- files


def make_file(path: Path, age_seconds: float, now: datetime) -> Path:
    path.write_bytes(b"firstname,lastname\n")
    os.utime(path, (now.timestamp() - age_seconds,) * 2, follow_symlinks=False)
    return path


def test_only_our_upload_files_older_than_an_hour_are_removed(tmp_path):
    now = datetime(2030, 1, 1, 12, tzinfo=UTC)
    name = "0123456789abcdef0123456789abcdef.upload"
    store = tmp_path / "store"
    store.mkdir()
    old = make_file(store / name, 3601, now)
    fresh = make_file(store / f"{'f' * 32}.upload", 3599, now)
    kept = [
        make_file(store / "notes.txt", 10 * 86400, now),
        make_file(store / "x.upload", 10 * 86400, now),
        make_file(store / f"{'A' * 32}.upload", 10 * 86400, now),
        make_file(store / f"{name}.bak", 10 * 86400, now),
    ]
    (store / "sub").mkdir()
    kept.append(make_file(store / "sub" / name, 10 * 86400, now))  # only the folder itself, not below it
    folder = store / f"{'b' * 32}.upload"
    folder.mkdir()
    os.utime(folder, (0, 0))
    outside = make_file(tmp_path / "precious.csv", 10 * 86400, now)
    link = store / f"{'c' * 32}.upload"
    link.symlink_to(outside)
    os.utime(link, (0, 0), follow_symlinks=False)

    assert retention.remove_orphan_files(store, now=now) == [name]
    assert not old.exists()
    assert all(p.exists() for p in (fresh, *kept, folder, outside)) and link.is_symlink()
    assert retention.remove_orphan_files(store, now=now) == []
    assert retention.remove_orphan_files(tmp_path / "missing", now=now) == []


def test_a_file_another_purge_removed_first_is_not_counted(tmp_path, monkeypatch):
    now = datetime(2030, 1, 1, tzinfo=UTC)
    path = make_file(tmp_path / f"{'d' * 32}.upload", 7200, now)
    real_unlink = Path.unlink

    def racing_unlink(self, missing_ok=False):
        real_unlink(self)  # the other purge wins the race
        raise FileNotFoundError(self)

    monkeypatch.setattr(Path, "unlink", racing_unlink)
    assert retention.remove_orphan_files(tmp_path, now=now) == []
    assert not path.exists()


# ---------------------------------------------------------------- settings


def test_retention_settings_defaults_and_environment(monkeypatch):
    for name in ("BULK_UPLOAD_DRAFT_DAYS", "BULK_UPLOAD_RETENTION_DAYS", "BULK_UPLOAD_PURGE_INTERVAL_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    settings = get_settings()
    assert (settings.draft_days, settings.retention_days, settings.purge_interval_minutes) == (14, 30, 60)
    monkeypatch.setenv("BULK_UPLOAD_DRAFT_DAYS", "3")
    monkeypatch.setenv("BULK_UPLOAD_RETENTION_DAYS", "90")
    monkeypatch.setenv("BULK_UPLOAD_PURGE_INTERVAL_MINUTES", "0")
    settings = get_settings()
    assert (settings.draft_days, settings.retention_days, settings.purge_interval_minutes) == (3, 90, 0)


@pytest.mark.parametrize(
    "name,value",
    [
        ("BULK_UPLOAD_DRAFT_DAYS", "0"),
        ("BULK_UPLOAD_RETENTION_DAYS", "-1"),
        ("BULK_UPLOAD_PURGE_INTERVAL_MINUTES", "-5"),
    ],
)
def test_retention_settings_refuse_values_that_would_delete_live_work(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        get_settings()
