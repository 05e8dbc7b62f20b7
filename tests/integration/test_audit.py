"""The audit trail: an operator learns what happened to an upload, and why it failed, from it alone."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid

import pytest
from sqlalchemy import delete, select

from bulk_upload_app import audit
from bulk_upload_app.db import session_scope
from bulk_upload_app.errors import FileProblem
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.models import BulkUpload, BulkUploadAudit, BulkUploadRow, Group, GroupMember
from bulk_upload_app.uploads import creating, pipeline, staging
from bulk_upload_app.uploads.batch import BatchProblem, BatchSpec
from tests.support.factories import new_company, person, stage, users_csv


def audit_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "bulk_upload"]


def test_a_failed_upload_can_be_reconstructed_from_its_audit_rows(engine, caplog):
    caplog.set_level(logging.INFO, logger="bulk_upload")
    company = new_company(engine, seats=100)
    with session_scope(engine) as session:
        group = Group(company_id=company, name="Night shift")
        session.add(group)
        session.flush()
        group_id = group.id
    data = users_csv([person(i, phone="") for i in range(1, 10)] + [person(10, email="nope")])
    upload_id = pipeline.draft_from_file(
        engine, company_id=company, admin_user_id=7, file_name="team.csv", data=data, limits=ReadLimits()
    )
    with session_scope(engine) as session:
        staging.configure_batch(session, company, upload_id, BatchSpec(group_ids=[group_id]))

    def disk_full(done, total):
        raise RuntimeError("could not extend file: No space left on device")

    with pytest.raises(RuntimeError):
        creating.create_users(engine, company, upload_id, chunk_size=4, on_progress=disk_full, admin_user_id=8)
    with session_scope(engine) as session:  # someone deletes the group before the Resume
        session.execute(delete(GroupMember).where(GroupMember.group_id == group_id))
        session.delete(session.get(Group, group_id))
    with pytest.raises(BatchProblem):
        creating.create_users(engine, company, upload_id, chunk_size=4, admin_user_id=8)

    # The operator has only the upload id (from a support ticket) and the audit table.
    with session_scope(engine, read_only=True) as session:
        trail = audit.history(session, upload_id)
        story = audit.story(session, upload_id)
    assert [a.event for a in trail] == [audit.STAGED, audit.CREATE_STARTED, audit.INTERRUPTED, audit.CREATE_REFUSED]
    staged, started, interrupted, refused = trail
    assert all(a.company_id == company for a in trail)
    assert [a.at for a in trail] == sorted(a.at for a in trail)
    assert (staged.admin_user_id, staged.actor, staged.file_name, staged.file_sha256) == (
        7,
        "admin:7",
        "team.csv",
        hashlib.sha256(data).hexdigest(),
    )
    assert (staged.total_rows, staged.valid_rows, staged.invalid_rows) == (10, 9, 1)
    assert (started.admin_user_id, started.actor, started.details["attempt"], started.details["pending"]) == (
        8,
        "admin:8",
        1,
        9,
    )
    assert started.file_sha256 == staged.file_sha256 and started.details["seats_free"] == 100
    assert interrupted.outcome == "interrupted" and interrupted.created == 4
    assert interrupted.reason == "RuntimeError: could not extend file: No space left on device"
    assert interrupted.details["error_class"] == "RuntimeError"
    assert refused.outcome == "refused" and refused.actor == "admin:8"
    assert refused.reason.startswith("bulk_upload_app.uploads.batch.BatchProblem: ")
    assert "group" in refused.reason
    assert "No space left on device" in story[2] and "staged 'team.csv'" in story[0]

    # The log says the same, one JSON object per event.
    lines = [line for line in audit_lines(caplog) if line.get("upload_id") == upload_id]
    assert [line["event"] for line in lines] == [a.event for a in trail]
    assert [line["audit_id"] for line in lines] == [a.id for a in trail]
    assert lines[2]["reason"] == interrupted.reason and lines[2]["created"] == 4
    assert lines[0]["file_sha256"] == staged.file_sha256 and lines[0]["valid_rows"] == 9


def test_a_finished_upload_records_its_counts_by_code(engine, caplog):
    caplog.set_level(logging.INFO, logger="bulk_upload")
    company = new_company(engine, seats=10)
    data = users_csv([person(i, phone="") for i in range(1, 6)] + [person(1)])
    upload_id = pipeline.draft_from_file(
        engine, company_id=company, admin_user_id=3, file_name="five.csv", data=data, limits=ReadLimits()
    )
    # Between staging and creating, another company's admin adds person 2 and this company's admin
    # person 3: both rows fail at create time with EMAIL_ALREADY_EXISTS.
    rival = new_company(engine, name="Rival")
    assert creating.create_users(engine, rival, stage(engine, rival, [person(2)])).created == 1
    assert creating.create_users(engine, company, stage(engine, company, [person(3)])).created == 1
    result = creating.create_users(engine, company, upload_id)
    assert result.created == 3
    with session_scope(engine, read_only=True) as session:
        done = audit.history(session, upload_id)[-1]
    assert (done.event, done.outcome, done.created, done.failed) == (audit.CREATED, "done", 3, 3)
    assert done.details["failed_by_code"] == {"EMAIL_ALREADY_EXISTS": 2, "DUPLICATE_EMAIL_IN_FILE": 1}
    assert done.details["email_in_other_company"] == 1
    assert audit_lines(caplog)[-1]["event"] == "bulk_upload.created"


def test_rows_refused_for_another_companys_email_are_counted_never_named(engine, caplog):
    caplog.set_level(logging.INFO, logger="bulk_upload")
    company, rival = new_company(engine, name="Acme"), new_company(engine, name="Rival Secret Corp")
    theirs = [person(i, domain="rival.example", firstname="Hidden", lastname="Holder") for i in range(3)]
    assert creating.create_users(engine, rival, stage(engine, rival, theirs)).created == 3
    assert creating.create_users(engine, company, stage(engine, company, [person(9)])).created == 1
    data = users_csv([person(i, domain="rival.example") for i in range(3)] + [person(9), person(10)])
    upload_id = pipeline.draft_from_file(
        engine, company_id=company, admin_user_id=3, file_name="mix.csv", data=data, limits=ReadLimits()
    )
    result = creating.create_users(engine, company, upload_id)
    assert result.created == 1 and [f["code"] for f in result.failed] == ["EMAIL_ALREADY_EXISTS"] * 4
    with session_scope(engine, read_only=True) as session:
        trail = audit.history(session, upload_id)
        story = audit.story(session, upload_id)
    staged, done = trail[0], trail[-1]
    assert staged.details["email_in_other_company"] == done.details["email_in_other_company"] == 3
    assert story[-1].endswith("3 with an email of another company")
    logged = json.dumps([a.details for a in trail]) + json.dumps(audit_lines(caplog)) + "".join(story)
    assert "rival.example" not in logged and "Rival Secret" not in logged and "Hidden" not in logged


def test_a_rejected_file_is_audited_on_an_upload_with_nothing_staged(engine, caplog):
    caplog.set_level(logging.INFO, logger="bulk_upload")
    company = new_company(engine)
    data = f"just some text {uuid.uuid4()}".encode()
    with pytest.raises(FileProblem) as problem:
        pipeline.draft_from_file(
            engine, company_id=company, admin_user_id=5, file_name="notes.pdf", data=data, limits=ReadLimits()
        )
    sha = hashlib.sha256(data).hexdigest()
    with session_scope(engine, read_only=True) as session:
        rejected = session.exec(select(BulkUploadAudit).where(BulkUploadAudit.file_sha256 == sha)).scalars().one()
        upload = session.get(BulkUpload, rejected.upload_id)
        staged = session.exec(select(BulkUploadRow).where(BulkUploadRow.upload_id == rejected.upload_id)).first()
    assert (rejected.event, rejected.admin_user_id, rejected.file_name) == (audit.REJECTED, 5, "notes.pdf")
    # The upload stays, "rejected" with the reason, for the admin's history; nothing of the file is kept.
    assert upload.status == "rejected" and problem.value.message in upload.problem and staged is None
    assert rejected.details["code"] == problem.value.code.value and rejected.reason == problem.value.message
    assert audit_lines(caplog)[-1]["code"] == problem.value.code.value


def test_a_rolled_back_change_leaves_neither_row_nor_log_line(engine, caplog):
    caplog.set_level(logging.INFO, logger="bulk_upload")
    company = new_company(engine)
    marker = uuid.uuid4().hex
    with pytest.raises(ZeroDivisionError), session_scope(engine) as session:
        audit.record(session, audit.STAGED, upload_id=marker, company_id=company)
        raise ZeroDivisionError
    with session_scope(engine, read_only=True) as session:
        assert audit.history(session, marker) == []
    assert not any(line.get("upload_id") == marker for line in audit_lines(caplog))
