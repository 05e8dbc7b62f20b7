"""Jobs on the real queue (Redis, dramatiq workers in this process) and the chunked judging they run."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import dramatiq
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bulk_upload_app import jobs
from bulk_upload_app.db import session_scope
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.files.schema import COLUMN_NAMES
from bulk_upload_app.files.validation import validate_rows
from bulk_upload_app.models import BulkUpload, BulkUploadRow, utcnow
from bulk_upload_app.statuses import UploadStatus
from bulk_upload_app.uploads import lifecycle, pipeline, processing
from tests.support.factories import new_company, person, users_csv
from tests.support.services import redis_jobs

pytestmark = pytest.mark.redis


@pytest.fixture
def lanes(db_url, monkeypatch):
    """A worker per lane, one thread each, as `bulk-upload worker --queues <the lane's queues>` runs
    them (taking no more jobs than it has threads). Files of 10 KB or more are big."""
    monkeypatch.setenv("BULK_UPLOAD_BIG_FILE_MB", "0.01")
    with redis_jobs(db_url, monkeypatch) as broker:
        workers = [
            dramatiq.Worker(broker, queues=set(lane), worker_threads=1, worker_timeout=100)
            for lane in (jobs.SMALL_LANE, jobs.BIG_LANE)
        ]
        for worker in workers:
            worker.queue_prefetch = 1  # what run_worker sets (dramatiq_queue_prefetch)
            worker.start()
        try:
            yield broker
        finally:
            for worker in workers:
                worker.stop()


def wait_for(engine, upload_id: str, done, seconds: float = 60.0) -> BulkUpload:
    deadline = time.monotonic() + seconds
    while True:
        with session_scope(engine, read_only=True) as session:
            upload = session.get(BulkUpload, upload_id)
            session.expunge(upload)
        if done(upload) or time.monotonic() > deadline:
            return upload
        time.sleep(0.1)


def test_a_received_file_is_judged_by_a_worker(engine, queue):
    company = new_company(engine)
    rows = [person(i) for i in range(50)] + [person(3)]  # the last one repeats row 4's email
    upload_id = pipeline.receive(
        engine, company_id=company, admin_user_id=None, file_name="w.csv", data=users_csv(rows), user_type="agent"
    )
    jobs.enqueue_processing(upload_id)
    upload = wait_for(engine, upload_id, lambda u: u.status != UploadStatus.PROCESSING)
    assert (upload.status, upload.total_rows, upload.valid_rows, upload.invalid_rows) == ("draft", 51, 50, 1)
    assert upload.file_rows == 51 and upload.processing_owner is None


def test_a_small_file_is_judged_while_big_files_hold_the_big_lane(engine, lanes, monkeypatch):
    company = new_company(engine)

    def received(rows: int) -> str:
        data = users_csv([person(i) for i in range(rows)])
        return pipeline.receive(
            engine, company_id=company, admin_user_id=None, file_name=f"{rows}.csv", data=data, user_type="agent"
        )

    big, other_big = received(400), received(300)  # over 10 KB: the big lane
    small, other_small = received(5), received(6)
    # A big file's job holds its thread until the test lets it go, as a million rows would.
    started, let_go, process = [], threading.Event(), processing.process

    def held_when_big(engine, upload_id, **options):
        if upload_id in (big, other_big):
            started.append(upload_id)
            let_go.wait(120)
        return process(engine, upload_id, **options)

    monkeypatch.setattr(processing, "process", held_when_big)
    try:
        jobs.enqueue_processing(big)
        wait_for(engine, big, lambda _: started == [big])
        assert started == [big]
        jobs.enqueue_processing(small)
        assert wait_for(engine, small, lambda u: u.status == UploadStatus.DRAFT).status == UploadStatus.DRAFT
        # A second big file waits for the big lane; it never takes the small lane's only thread.
        jobs.enqueue_processing(other_big)
        jobs.enqueue_processing(other_small)
        judged = wait_for(engine, other_small, lambda u: u.status == UploadStatus.DRAFT)
        assert (judged.status, judged.total_rows) == (UploadStatus.DRAFT, 6)
        assert started == [big]
        for upload_id in (big, other_big):
            with session_scope(engine, read_only=True) as session:
                assert session.get(BulkUpload, upload_id).status == UploadStatus.PROCESSING
    finally:
        let_go.set()
    for upload_id, rows in ((big, 400), (other_big, 300)):
        upload = wait_for(engine, upload_id, lambda u: u.status == UploadStatus.DRAFT)
        assert (upload.status, upload.total_rows) == (UploadStatus.DRAFT, rows)
    assert started == [big, other_big]


def test_a_create_left_by_a_dead_worker_is_finished_by_the_next_job(engine, queue):
    company = new_company(engine)
    upload_id = pipeline.draft_from_file(
        engine,
        company_id=company,
        admin_user_id=None,
        file_name="c.csv",
        data=users_csv([person(i) for i in range(30)]),
        limits=ReadLimits(),
    )
    # A worker claimed the create, then died: its lease is old, nothing was created.
    with session_scope(engine) as session:
        upload = session.get(BulkUpload, upload_id)
        upload.status, upload.creating_owner = UploadStatus.CREATING, "dead-host:1:abcd"
        upload.creating_heartbeat = utcnow() - timedelta(minutes=5)
    jobs.enqueue_create(company, upload_id, admin_user_id=None, actor="test")
    upload = wait_for(engine, upload_id, lambda u: u.status == UploadStatus.DONE)
    assert (upload.status, upload.created_count) == ("done", 30)
    # The same job again (a redelivery after the worker died before acknowledging): nothing more.
    jobs.enqueue_create(company, upload_id, admin_user_id=None, actor="test")
    time.sleep(1.0)
    with session_scope(engine, read_only=True) as session:
        assert session.get(BulkUpload, upload_id).created_count == 30


def test_a_queued_create_cancelled_before_a_worker_took_it_creates_nobody(engine, queue):
    company = new_company(engine)
    upload_id = pipeline.draft_from_file(
        engine,
        company_id=company,
        admin_user_id=None,
        file_name="q.csv",
        data=users_csv([person(i) for i in range(5)]),
        limits=ReadLimits(),
    )
    with session_scope(engine) as session:
        upload = session.get(BulkUpload, upload_id)
        upload.queued_at, upload.wizard_step = utcnow(), "creating"
        session.add(upload)
    with session_scope(engine) as session:
        lifecycle.cancel(session, company, upload_id, actor="test")
    jobs.enqueue_create(company, upload_id, admin_user_id=None, actor="test")
    time.sleep(1.0)
    with session_scope(engine, read_only=True) as session:
        upload = session.get(BulkUpload, upload_id)
        assert (upload.status, upload.created_count, upload.queued_at) == ("draft", 0, None)


def test_jobs_whose_queue_message_was_lost_are_queued_again(engine, queue):
    """Redis restarted without its append-only file: the uploads waiting for a worker, or left by
    a dead one, are found by their age and queued again; the file keeps the admin's "match the
    columns", and an upload seen recently is left alone."""
    from bulk_upload_app.housekeeping import requeue_lost_jobs

    company = new_company(engine)
    data = users_csv([person(i) for i in range(20)])
    lost_file = pipeline.receive(
        engine, company_id=company, admin_user_id=None, file_name="l.csv", data=data, user_type="agent"
    )
    to_match = pipeline.receive(
        engine,
        company_id=company,
        admin_user_id=None,
        file_name="m.csv",
        data=data,
        user_type="agent",
        ask_columns=True,
    )
    recent = pipeline.receive(
        engine, company_id=company, admin_user_id=None, file_name="r.csv", data=data, user_type="agent"
    )
    lost_create = pipeline.draft_from_file(
        engine,
        company_id=company,
        admin_user_id=None,
        file_name="c.csv",
        data=users_csv([person(i, domain="c.example.com") for i in range(7)]),
        limits=ReadLimits(),
    )
    long_ago = utcnow() - timedelta(minutes=30)
    with session_scope(engine) as session:
        for upload_id in (lost_file, to_match):
            session.get(BulkUpload, upload_id).queued_at = long_ago
        create = session.get(BulkUpload, lost_create)
        create.queued_at, create.wizard_step = long_ago, "creating"

    assert requeue_lost_jobs(engine, older_than=600) == 3
    assert requeue_lost_jobs(engine, older_than=600) == 0  # handed out once a period

    judged = wait_for(engine, lost_file, lambda u: u.status != UploadStatus.PROCESSING)
    assert (judged.status, judged.total_rows) == ("draft", 20)
    held = wait_for(engine, to_match, lambda u: u.status != UploadStatus.PROCESSING)
    assert (held.status, held.wizard_step, held.total_rows) == ("draft", "match", 0)
    created = wait_for(engine, lost_create, lambda u: u.status == UploadStatus.DONE)
    assert created.created_count == 7
    with session_scope(engine, read_only=True) as session:
        assert session.get(BulkUpload, recent).status == UploadStatus.PROCESSING  # never queued: left alone


_EMAILS = st.sampled_from(["a@example.com", "B@example.com", "b@example.com", "c@example.org", "bad", ""])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(emails=st.lists(_EMAILS, min_size=1, max_size=40), first=st.integers(1, 5), chunk=st.integers(1, 9))
def test_judging_in_chunks_gives_the_verdicts_of_judging_the_whole_file(engine, emails, first, chunk):
    company = new_company(engine)
    rows = [person(i, email=email) for i, email in enumerate(emails)]
    upload_id = pipeline.receive(
        engine, company_id=company, admin_user_id=None, file_name="p.csv", data=users_csv(rows), user_type="agent"
    )
    processing.process(engine, upload_id, limits=ReadLimits(), first_chunk=first, chunk=chunk)
    with session_scope(engine, read_only=True) as session:
        staged = (
            session.exec(
                select(BulkUploadRow).where(BulkUploadRow.upload_id == upload_id).order_by(BulkUploadRow.row_number)
            )
            .scalars()
            .all()
        )
    frame = pl.DataFrame(
        {"row": [r.row_number for r in staged], **{c: [getattr(r, c) for r in staged] for c in COLUMN_NAMES}}
    )
    whole = validate_rows(frame).errors_by_row()
    assert len(staged) == len(emails)
    for row in staged:
        assert sorted((e["column"], e["code"]) for e in row.errors) == sorted(
            (e.column, e.code.value) for e in whole.get(row.row_number, ())
        ), row.row_number
