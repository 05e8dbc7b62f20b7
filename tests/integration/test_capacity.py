"""Bounds on file work: slots per company and overall (shared through the database), open drafts."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bulk_upload_app.db import session_scope
from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.models import BulkUpload, Company, FileProcessingSlot, utcnow
from bulk_upload_app.uploads import capacity, pipeline
from tests.support.factories import person, users_csv

LIMITS = capacity.Limits(per_company=2, overall=3, open_drafts=2, draft_days=14)


def other_company(engine, name="Other") -> int:
    with session_scope(engine) as session:
        company = Company(name=name, seats=50, default_settings={})
        session.add(company)
        session.flush()
        return company.id


def refused(engine, company_id, limits=LIMITS) -> FileProblem:
    with pytest.raises(FileProblem) as caught, capacity.file_slot(engine, company_id, limits, wait_seconds=0):
        pass
    return caught.value


def test_a_company_gets_at_most_its_share_and_the_server_at_most_its_total(engine, demo_company):
    second, third = other_company(engine), other_company(engine, "Third")
    with capacity.file_slot(engine, demo_company, LIMITS), capacity.file_slot(engine, demo_company, LIMITS):
        problem = refused(engine, demo_company)
        assert problem.code is ErrorCode.TOO_MANY_FILES_IN_PROGRESS and "your company's files" in problem.message
        with capacity.file_slot(engine, second, LIMITS):  # the third slot of the server
            problem = refused(engine, third)
            assert problem.code is ErrorCode.TOO_MANY_FILES_IN_PROGRESS and "Nothing was lost" in problem.message
    with capacity.file_slot(engine, third, LIMITS):  # all released
        pass


def test_with_no_overall_bound_only_each_companys_share_is_kept(engine, demo_company):
    unbounded = capacity.Limits(per_company=1, overall=0, open_drafts=5, draft_days=14)
    others = [other_company(engine, f"Company {n}") for n in range(4)]
    with contextlib.ExitStack() as held:
        for company in others:  # more companies at once than any overall bound so far
            held.enter_context(capacity.file_slot(engine, company, unbounded, wait_seconds=0))
        with capacity.file_slot(engine, demo_company, unbounded, wait_seconds=0):
            assert refused(engine, demo_company, unbounded).code is ErrorCode.TOO_MANY_FILES_IN_PROGRESS


def test_a_slot_is_released_when_the_work_fails(engine, demo_company):
    for _ in range(3):
        with pytest.raises(RuntimeError), capacity.file_slot(engine, demo_company, LIMITS):
            raise RuntimeError("reading failed")
    with session_scope(engine, read_only=True) as session:
        assert session.execute(select(func.count()).select_from(FileProcessingSlot)).scalar_one() == 0


def test_a_dead_workers_slot_expires(engine, demo_company):
    with capacity.file_slot(engine, demo_company, LIMITS), capacity.file_slot(engine, demo_company, LIMITS):
        with session_scope(engine) as session:  # as if both workers died long ago
            session.execute(update(FileProcessingSlot).values(expires_at=utcnow() - timedelta(seconds=1)))
        with capacity.file_slot(engine, demo_company, LIMITS, wait_seconds=0):
            pass


def test_a_busy_moment_is_waited_out(engine, demo_company):
    waits = []
    limits = capacity.Limits(per_company=1, overall=1, open_drafts=5, draft_days=14)
    with capacity.file_slot(engine, demo_company, limits):
        with pytest.raises(FileProblem):
            with capacity.file_slot(
                engine, demo_company, limits, wait_seconds=0.2, on_wait=lambda: waits.append(1), sleep=lambda s: None
            ):
                pass
    assert waits  # the admin saw "waiting" before being refused


def _draft(engine, company_id, limits=LIMITS, replace=None):
    return pipeline.draft_from_file(
        engine,
        company_id=company_id,
        admin_user_id=None,
        file_name="users.csv",
        data=users_csv([person(i) for i in range(3)]),
        limits=ReadLimits(max_bytes=10**7, max_rows=100),
        replace_upload_id=replace,
        capacity_limits=limits,
    )


def test_open_drafts_are_bounded_per_company_and_replacing_a_file_is_not_a_new_draft(engine, demo_company):
    first = _draft(engine, demo_company)
    _draft(engine, demo_company)
    with pytest.raises(FileProblem) as caught:
        _draft(engine, demo_company)
    assert caught.value.code is ErrorCode.TOO_MANY_OPEN_DRAFTS and "2 unfinished uploads" in caught.value.message
    assert _draft(engine, demo_company, replace=first) == first  # another file for an open draft
    assert _draft(engine, other_company(engine))  # another company's drafts are its own
    with session_scope(engine) as session:  # a finished upload no longer counts
        session.execute(update(BulkUpload).where(BulkUpload.id == first).values(status="done"))
    assert _draft(engine, demo_company)
