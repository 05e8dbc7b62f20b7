"""Truly concurrent creators and editors: separate processes (spawn), on SQLite and PostgreSQL.

Threads share one interpreter and hand each other the GIL; processes do not, so these are the
races two admins, two workers or a replayed request really produce.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections import Counter

import polars as pl
from sqlalchemy import select

from bulk_upload_app.db import session_scope
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.files.schema import COLUMN_NAMES
from bulk_upload_app.files.validation import validate_rows
from bulk_upload_app.models import BulkUpload, BulkUploadRow, User
from bulk_upload_app.uploads import drafts, pipeline, records
from tests.support import concurrency_workers
from tests.support.concurrency_workers import run_racers
from tests.support.factories import new_company, person, stage, users_csv

SPAWN = multiprocessing.get_context("spawn")


def test_three_creator_processes_for_two_and_a_half_batches_of_seats_create_two_whole_and_refuse_one(engine, db_url):
    batch, racers = 200, 3
    company = new_company(engine, seats=batch * 5 // 2)
    upload_ids = [
        stage(engine, company, [person(batch * k + i, phone="") for i in range(batch)], name=f"batch{k}.csv")
        for k in range(racers)
    ]
    outcomes = run_racers(concurrency_workers.create, [(db_url, company, u, 25) for u in upload_ids])

    kinds = Counter(o[1] for o in outcomes)
    assert kinds == {"ok": 2, "refused": 1}, outcomes
    assert sorted(o[2] for o in outcomes) == [0, batch, batch]
    assert all(o[3] == [] for o in outcomes if o[1] == "ok")  # whole batches: no row failed
    (refused,) = [o for o in outcomes if o[1] == "refused"]
    error = refused[3]
    assert (error["code"], error["needed"], error["available"], error["shortfall"]) == (
        "SEATS_EXCEEDED",
        batch,
        batch // 2,
        batch // 2,
    )
    assert error["legacy_dashboard_url"]
    with session_scope(engine, read_only=True) as session:
        by_upload = Counter(session.exec(select(User.bulk_upload_id).where(User.company_id == company)).scalars())
        uploads_now = {u.id: u for u in session.exec(select(BulkUpload).where(BulkUpload.id.in_(upload_ids))).scalars()}
        refused_rows = (
            session.exec(select(BulkUploadRow.outcome).where(BulkUploadRow.upload_id == refused[0])).scalars().all()
        )
        free = records.company_seats(session, company).free
    assert by_upload == Counter({o[0]: batch for o in outcomes if o[1] == "ok"})
    assert sum(by_upload.values()) == 2 * batch <= batch * 5 // 2 and free == batch // 2
    assert {(u.id, u.status, u.seats_reserved) for u in uploads_now.values()} == {
        (o[0], "done" if o[1] == "ok" else "draft", 0) for o in outcomes
    }
    assert uploads_now[refused[0]].create_attempts == 0 and refused_rows == ["pending"] * batch
    print(f"\n[{engine.dialect.name}] {racers} processes x {batch} rows for {batch * 5 // 2} seats: {dict(kinds)}")


def test_four_creator_processes_with_shared_emails_never_exceed_seats_nor_create_one_email_twice(engine, db_url):
    seats, racers, rows_each = 1000, 4, 300
    company = new_company(engine, seats=seats)
    # Upload k holds people 200k .. 200k+299: each overlaps the next by 100 (odd uploads write
    # the emails in capitals), 900 distinct people for 1000 seats, 1,200 rows in all. The first
    # three to start always fit (each needs at most 300 of the 400+ left); the last fits only if
    # enough of its people were created by the others before it reserved.
    upload_ids = []
    for k in range(racers):
        people = [
            person(i, email=(f"Person{i}@Example.com" if k % 2 else f"person{i}@example.com"), phone="")
            for i in range(200 * k, 200 * k + rows_each)
        ]
        upload_ids.append(stage(engine, company, people, name=f"batch{k}.csv"))
    outcomes = run_racers(concurrency_workers.create, [(db_url, company, u, 25) for u in upload_ids])

    kinds = Counter(o[1] for o in outcomes)
    assert kinds["ok"] >= 3 and kinds["ok"] + kinds["refused"] == racers, outcomes
    assert all(o[3]["code"] == "SEATS_EXCEEDED" for o in outcomes if o[1] == "refused")
    created = {o[0]: o[2] for o in outcomes if o[1] == "ok"}
    refused = [o[0] for o in outcomes if o[1] == "refused"]
    with session_scope(engine, read_only=True) as session:
        users = session.exec(
            select(User.id, User.email, User.bulk_upload_id).where(User.company_id == company).order_by(User.id)
        ).all()
        rows = session.exec(
            select(
                BulkUploadRow.upload_id,
                BulkUploadRow.email_norm,
                BulkUploadRow.outcome,
                BulkUploadRow.outcome_code,
                BulkUploadRow.user_id,
            ).where(BulkUploadRow.upload_id.in_(upload_ids))
        ).all()
        statuses = dict(
            session.exec(select(BulkUpload.id, BulkUpload.status).where(BulkUpload.id.in_(upload_ids))).all()
        )
    owner = {email: upload for _, email, upload in users}
    assert len(users) == len(owner) == sum(created.values()) <= seats  # never over, no email twice
    assert statuses == {u: ("done" if u in created else "draft") for u in upload_ids}
    assert Counter(upload for _, _, upload in users) == Counter({u: n for u, n in created.items() if n})
    for upload_id, email, outcome, code, user_id in rows:
        if upload_id in refused:
            assert outcome == "pending" and owner.get(email) != upload_id
        elif outcome == "created":
            assert owner[email] == upload_id and user_id is not None
        else:  # whole batches: a created batch loses only rows whose person another batch created first
            assert (outcome, code) == ("failed", "EMAIL_ALREADY_EXISTS") and owner[email] != upload_id
    switches = sum(1 for a, b in itertools.pairwise(users) if a[2] != b[2])
    print(
        f"\n[{engine.dialect.name}] {racers} processes, {racers * rows_each} rows, 900 distinct emails, {seats} seats: "
        f"created {sorted(created.values(), reverse=True)} = {len(users)}; refused {len(refused)}; "
        f"{switches} switches between uploads in id order"
    )
    if engine.dialect.name == "postgresql":
        # Row locks queue fairly: the creators' chunks take turns. (SQLite's busy handler lets
        # the writer that just committed take the lock again, so there one batch often runs
        # through while the others wait; the outcome rules are the same.)
        assert switches >= 2


def test_the_same_upload_created_from_two_processes_at_once_creates_each_user_once(engine, db_url):
    company = new_company(engine, seats=1000)
    upload_id = stage(engine, company, [person(i, phone="") for i in range(400)])
    outcomes = run_racers(concurrency_workers.create, [(db_url, company, upload_id, 20)] * 3)
    kinds = Counter(o[1] for o in outcomes)
    assert kinds == {"ok": 1, "busy": 2}, outcomes
    assert [o[2] for o in outcomes if o[1] == "ok"] == [400]
    with session_scope(engine, read_only=True) as session:
        emails = session.exec(select(User.email).where(User.company_id == company)).scalars().all()
        upload = session.get(BulkUpload, upload_id)
        assert (upload.status, upload.created_count, upload.create_attempts) == ("done", 400, 1)
    assert len(emails) == len(set(emails)) == 400


def test_two_editors_of_one_draft_leave_it_consistent(engine, db_url):
    company = new_company(engine)
    upload_id = pipeline.draft_from_file(
        engine,
        company_id=company,
        admin_user_id=None,
        file_name="d.csv",
        limits=ReadLimits(),
        data=users_csv([person(i, phone="") for i in range(8)]),
    )
    with session_scope(engine, read_only=True) as session:
        ids = dict(
            session.exec(
                select(BulkUploadRow.row_number, BulkUploadRow.id).where(BulkUploadRow.upload_id == upload_id)
            ).all()
        )
        version_staged = session.get(BulkUpload, upload_id).version
    shared = "shared@example.com"
    # Each editor flips its own rows between the shared email and their own, 12 times; rows of
    # both editors keep meeting on the shared email, so every edit re-judges the other's rows.
    rounds = 12

    def flips(rows):
        return [
            (ids[r], "email", shared if (n + r) % 2 else f"own{r}@example.com") for n in range(rounds) for r in rows
        ]

    outcomes = run_racers(
        concurrency_workers.edit,
        [(db_url, company, upload_id, flips((3, 5, 7))), (db_url, company, upload_id, flips((4, 6, 8)))],
    )
    assert outcomes == [("ok", rounds * 3)] * 2, outcomes

    with session_scope(engine, read_only=True) as session:
        rows = (
            session.exec(
                select(BulkUploadRow).where(BulkUploadRow.upload_id == upload_id).order_by(BulkUploadRow.row_number)
            )
            .scalars()
            .all()
        )
        upload = session.get(BulkUpload, upload_id)
        recount = drafts.counts(session, upload_id)
    # Recheck the whole file from scratch and compare with what the edits left.
    frame = pl.DataFrame(
        {"row": [r.row_number for r in rows], **{c: [getattr(r, c) for r in rows] for c in COLUMN_NAMES}}
    )
    fresh = validate_rows(frame).errors_by_row()
    for row in rows:
        expected = sorted((e.column, e.code.value) for e in fresh.get(row.row_number, ()))
        assert sorted((e["column"], e["code"]) for e in row.errors) == expected, row.row_number
        assert row.is_valid == (not expected)
    assert sum(r.email == shared for r in rows) >= 2  # the final state does have duplicates to judge
    assert drafts.stored_counts(upload) == recount
    assert upload.version - version_staged == 2 * rounds * 3  # every edit counted: none lost
