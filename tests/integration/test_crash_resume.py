"""A creator process killed halfway: its upload shows as interrupted and resumes to completion.

A real child process (tests/support/concurrency_workers.py) creates 30,000 users in chunks of 1,000
against a file database (SQLite file, or a PostgreSQL schema of its own); the test SIGKILLs it
as soon as some, but not all, users exist, then recovers and resumes.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bulk_upload_app import audit, errors
from bulk_upload_app.db import session_scope
from bulk_upload_app.files.intake import parse_file, validate_file
from bulk_upload_app.models import BulkUpload, BulkUploadRow, Company, User, utcnow
from bulk_upload_app.uploads import create_lease, creating, records, staging
from tests.support.factories import users_csv
from tests.support.processes import launch, log_tail

ROWS = 30_000
CHUNK = 1_000
BAD_ROWS = (7, 20_001)  # two invalid rows: they are never created and never pending-to-create


def stage_big(engine) -> tuple[int, str]:
    with session_scope(engine) as session:
        company = Company(name="Big", seats=ROWS + 10, default_settings={})
        session.add(company)
        session.flush()
        company_id = company.id
    rows = [
        {"firstname": f"F{i}", "lastname": f"L{i}", "email": f"big{i}@example.com", "countryprefix": "+44", "phone": ""}
        for i in range(ROWS)
    ]
    for i in BAD_ROWS:
        rows[i]["email"] = "not-an-email"
    parsed = parse_file(users_csv(rows), "big.csv")
    with session_scope(engine) as session:
        upload = staging.stage_upload(
            session,
            company_id=company_id,
            admin_user_id=42,
            file_name="big.csv",
            parsed=parsed,
            validation=validate_file(parsed),
        )
        assert (upload.valid_rows, upload.invalid_rows) == (ROWS - 2, 2)
        return company_id, upload.id


def created_so_far(engine, upload_id) -> int:
    with session_scope(engine, read_only=True) as session:
        return session.exec(select(func.count()).select_from(User).where(User.bulk_upload_id == upload_id)).scalar_one()


def test_a_killed_creator_is_recovered_and_resumed_without_duplicates_or_losses(engine, db_url, tmp_path):
    company_id, upload_id = stage_big(engine)
    log = tmp_path / "creator.log"
    child = launch(
        [sys.executable, "-m", "tests.support.concurrency_workers", db_url, str(company_id), upload_id, str(CHUNK)], log
    )
    try:
        deadline = time.monotonic() + 60
        seen = 0
        while seen < 3 * CHUNK and child.poll() is None and time.monotonic() < deadline:
            seen = created_so_far(engine, upload_id)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL, log_tail(log)
    at_kill = created_so_far(engine, upload_id)
    assert 3 * CHUNK <= at_kill < ROWS - 2, f"killed with {at_kill} users created"
    print(f"\n[{engine.dialect.name}] SIGKILL with {at_kill:,} of {ROWS - 2:,} users created")

    # Right after the crash the lease is still fresh: a second creator (a Resume click, a replayed
    # request) is refused rather than racing a worker that may still be alive.
    with session_scope(engine, read_only=True) as session:
        upload = records.get_upload(session, company_id, upload_id)
        assert upload.status == "creating" and upload.creating_heartbeat is not None
        assert not records.is_stale(upload)
        assert records.is_stale(upload, now=utcnow() + timedelta(seconds=61))
    with pytest.raises(errors.UploadBusy, match="being created right now"):
        creating.create_users(engine, company_id, upload_id, chunk_size=CHUNK)
    assert create_lease.recover_stale(engine) == []

    # Once the lease (60 s by default) has run out, recovery marks it interrupted.
    later = utcnow() + timedelta(seconds=61)
    assert create_lease.recover_stale(engine, now=later) == [upload_id]
    assert create_lease.recover_stale(engine, now=later) == []  # once
    with session_scope(engine, read_only=True) as session:
        assert records.get_upload(session, company_id, upload_id).status == "interrupted"

    progress = []
    result = creating.create_users(
        engine, company_id, upload_id, chunk_size=CHUNK, on_progress=lambda done, total: progress.append((done, total))
    )
    assert progress[-1] == (ROWS - 2 - at_kill,) * 2  # only what was still pending
    assert result.created == ROWS - 2
    assert sorted((f["row"], f["code"]) for f in result.failed) == [(r + 2, "INVALID_EMAIL") for r in BAD_ROWS]
    with session_scope(engine, read_only=True) as session:
        per_email = session.exec(
            select(User.email, func.count())
            .where(User.company_id == company_id)
            .group_by(User.email)
            .having(func.count() > 1)
        ).all()
        assert per_email == []
        assert (
            session.exec(select(func.count()).select_from(User).where(User.company_id == company_id)).scalar_one()
            == ROWS - 2
        )
        outcomes = dict(
            session.exec(
                select(BulkUploadRow.outcome, func.count())
                .where(BulkUploadRow.upload_id == upload_id, BulkUploadRow.is_valid.is_(True))
                .group_by(BulkUploadRow.outcome)
            ).all()
        )
        assert outcomes == {"created": ROWS - 2}  # no valid row left pending, none failed
        linked = session.exec(
            select(func.count())
            .select_from(BulkUploadRow)
            .join(User, User.id == BulkUploadRow.user_id)
            .where(BulkUploadRow.upload_id == upload_id, User.email == BulkUploadRow.email_norm)
        ).scalar_one()
        assert linked == ROWS - 2
        extensions = session.exec(
            select(func.count(func.distinct(User.extension))).where(User.company_id == company_id)
        ).scalar_one()
        assert extensions == ROWS - 2
        upload = session.get(BulkUpload, upload_id)
        assert (upload.status, upload.created_count, upload.failed_count, upload.create_attempts) == (
            "done",
            ROWS - 2,
            2,
            2,
        )
        events = [(a.event, a.actor, a.created, a.outcome) for a in audit.history(session, upload_id)]
    assert events == [
        (audit.STAGED, "admin:42", None, "staged"),
        (audit.CREATE_STARTED, "admin:42", 0, "creating"),
        (audit.CREATE_REFUSED, "", None, "refused"),  # the refused second creator
        (audit.INTERRUPTED, "recovery", at_kill, "interrupted"),
        (audit.CREATE_STARTED, "admin:42", at_kill, "creating"),
        (audit.CREATED, "admin:42", ROWS - 2, "done"),
    ]


def test_a_stale_creating_reads_as_interrupted_and_is_resumed_directly(engine):
    """No recovery sweep needed: the wizard shows Resume, and Resume takes the dead worker's place."""
    with session_scope(engine) as session:
        company = Company(name="Small", seats=50, default_settings={})
        session.add(company)
        session.flush()
        company_id = company.id
    parsed = parse_file(
        users_csv(
            [
                {"firstname": "A", "lastname": "B", "email": f"s{i}@example.com", "countryprefix": "+44", "phone": ""}
                for i in range(10)
            ]
        ),
        "s.csv",
    )
    with session_scope(engine) as session:
        upload_id = staging.stage_upload(
            session,
            company_id=company_id,
            admin_user_id=None,
            file_name="s.csv",
            parsed=parsed,
            validation=validate_file(parsed),
        ).id

    def crash(done, total):
        raise SystemExit("simulated")

    with pytest.raises(SystemExit):
        creating.create_users(engine, company_id, upload_id, chunk_size=4, on_progress=crash)
    # Make it look like a worker died in the middle: "creating", last heartbeat long ago.
    with session_scope(engine) as session:
        session.execute(
            update(BulkUpload)
            .where(BulkUpload.id == upload_id)
            .values(
                status="creating", creating_owner="ghost:1:dead", creating_heartbeat=utcnow() - timedelta(minutes=5)
            )
        )
    with session_scope(engine, read_only=True) as session:
        assert records.get_upload(session, company_id, upload_id).status == "interrupted"
        assert session.execute(select(BulkUpload.status).where(BulkUpload.id == upload_id)).scalar_one() == "creating"
    result = creating.create_users(engine, company_id, upload_id, chunk_size=4)
    assert result.created == 10 and result.failed == []
    with session_scope(engine, read_only=True) as session:
        started = [a for a in audit.history(session, upload_id) if a.event == audit.CREATE_STARTED]
        assert "ghost:1:dead" in started[-1].details["resumed_from"]


def test_a_worker_that_lost_its_lease_commits_nothing_more(engine):
    """A paused worker (GC, suspended VM) that wakes after another took over must stop."""
    with session_scope(engine) as session:
        company = Company(name="Slow", seats=50, default_settings={})
        session.add(company)
        session.flush()
        company_id = company.id
    parsed = parse_file(
        users_csv(
            [
                {"firstname": "A", "lastname": "B", "email": f"p{i}@example.com", "countryprefix": "+44", "phone": ""}
                for i in range(8)
            ]
        ),
        "p.csv",
    )
    with session_scope(engine) as session:
        upload_id = staging.stage_upload(
            session,
            company_id=company_id,
            admin_user_id=None,
            file_name="p.csv",
            parsed=parsed,
            validation=validate_file(parsed),
        ).id

    def taken_over(done, total):
        if done == 2:  # meanwhile, recovery decided this worker was dead and another resumed
            assert create_lease.recover_stale(engine, now=utcnow() + timedelta(hours=1)) == [upload_id]
            other = creating.create_users(engine, company_id, upload_id, chunk_size=2)
            assert other.created == 8

    with pytest.raises(create_lease.LeaseLost):
        creating.create_users(engine, company_id, upload_id, chunk_size=2, on_progress=taken_over)
    with session_scope(engine, read_only=True) as session:
        assert session.get(BulkUpload, upload_id).status == "done"
        emails = session.exec(select(User.email).where(User.company_id == company_id)).scalars().all()
    assert len(emails) == len(set(emails)) == 8
