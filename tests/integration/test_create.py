"""Creating users from a staged upload, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from bulk_upload_app import audit, errors
from bulk_upload_app.db import session_scope
from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.models import (
    BulkUpload,
    BulkUploadRow,
    Company,
    Group,
    GroupMember,
    OutboundNumber,
    Skill,
    User,
    UserOutboundNumber,
    UserSkill,
)
from bulk_upload_app.seed import DEMO_ADMIN_EMAIL, seed_demo
from bulk_upload_app.uploads import create_lease, creating, records, staging
from bulk_upload_app.uploads.batch import BatchSpec, batch_from_names, settings_of_user
from tests.support.factories import count_users, new_company, person, running_create, stage


def test_users_are_created_with_the_batch_settings(engine, demo_company):
    with session_scope(engine) as session:
        spec = batch_from_names(
            session,
            demo_company,
            user_type="supervisor",
            group_names=["Sales", "support"],
            outbound_numbers=["+442071838750"],
            skills=[("English", 4), ("Mandarin", 2)],
            settings_from_email="sam.okafor@demo-company.example.com",
        )
    upload_id = stage(engine, demo_company, [person(1), person(2, phone=""), person(3, email="bad")], spec)
    result = creating.create_users(engine, demo_company, upload_id)
    assert result.created == 2
    assert [(f["row"], f["code"]) for f in result.failed] == [(4, "INVALID_EMAIL")]
    with session_scope(engine) as session:
        users = session.exec(select(User).where(User.bulk_upload_id == upload_id).order_by(User.email)).scalars().all()
        assert [(u.email, u.phone, u.user_type, u.country_prefix) for u in users] == [
            ("person1@example.com", "+447400120001", "supervisor", "+44"),
            ("person2@example.com", None, "supervisor", "+44"),
        ]
        assert all(u.settings["call_history_access"] == "groups" for u in users)
        assert all(1000 <= u.extension <= 9999 for u in users)
        extensions = session.exec(select(User.extension).where(User.company_id == demo_company)).scalars().all()
        assert len(extensions) == len(set(extensions))
        ids = [u.id for u in users]
        groups = session.exec(select(Group.name).join(GroupMember).where(GroupMember.user_id.in_(ids))).scalars().all()
        assert sorted(groups) == ["Sales", "Sales", "Support", "Support"]
        numbers = (
            session.exec(
                select(OutboundNumber.number).join(UserOutboundNumber).where(UserOutboundNumber.user_id.in_(ids))
            )
            .scalars()
            .all()
        )
        assert numbers == ["+442071838750"] * 2
        skills = session.exec(
            select(Skill.name, UserSkill.level).join(UserSkill).where(UserSkill.user_id.in_(ids))
        ).all()
        assert sorted(skills) == [("English", 4), ("English", 4), ("Mandarin", 2), ("Mandarin", 2)]
        assert (
            session.exec(select(func.count()).select_from(Skill).where(Skill.company_id == demo_company)).scalar_one()
            == 6
        )
        upload = session.get(BulkUpload, upload_id)
        assert (upload.status, upload.created_count, upload.failed_count) == ("done", 2, 1)


def test_a_row_with_two_errors_counts_as_one_row_that_failed(engine, demo_company):
    upload_id = stage(
        engine, demo_company, [person(1), person(2, email="bad", phone="12")], BatchSpec(user_type="agent")
    )
    result = creating.create_users(engine, demo_company, upload_id)
    assert len(result.failed) == 2  # both errors of row 3 are listed
    with session_scope(engine, read_only=True) as session:
        upload = session.get(BulkUpload, upload_id)
        assert (upload.created_count, upload.failed_count) == (1, 1)


def test_use_company_settings_stores_none(engine, demo_company):
    upload_id = stage(engine, demo_company, [person(1)], BatchSpec(user_type="agent"))
    creating.create_users(engine, demo_company, upload_id)
    with session_scope(engine) as session:
        assert session.exec(select(User.settings).where(User.email == "person1@example.com")).scalar_one() is None


def test_load_existing_copies_a_users_settings(engine, demo_company):
    other = new_company(engine, name="Other")
    with session_scope(engine) as session:
        lena = session.exec(select(User).where(User.email == "lena.fischer@demo-company.example.com")).scalars().one()
        spec = settings_of_user(session, demo_company, user_id=lena.id)
        assert spec.settings["international_calls"] is True and spec.settings["wrap_up_seconds"] == "120"
        assert len(spec.group_ids) == 2 and len(spec.skills) == 2
        with pytest.raises(ValueError):
            settings_of_user(session, other, user_id=lena.id)


def test_emails_taken_before_staging_are_reported(engine, demo_company):
    upload_id = stage(engine, demo_company, [person(1), person(2, email=DEMO_ADMIN_EMAIL.upper())])
    with session_scope(engine) as session:
        row = (
            session.exec(
                select(BulkUploadRow).where(BulkUploadRow.upload_id == upload_id, BulkUploadRow.row_number == 3)
            )
            .scalars()
            .one()
        )
        assert not row.is_valid and row.errors[0]["code"] == "EMAIL_ALREADY_EXISTS"
    result = creating.create_users(engine, demo_company, upload_id)
    assert result.created == 1 and [f["code"] for f in result.failed] == ["EMAIL_ALREADY_EXISTS"]


def test_an_email_taken_meanwhile_fails_only_its_row(engine, demo_company):
    upload_id = stage(engine, demo_company, [person(1), person(2), person(3)])
    other = new_company(engine, name="Rival")
    rival = stage(engine, other, [person(2)])
    assert creating.create_users(engine, other, rival).created == 1
    result = creating.create_users(engine, demo_company, upload_id)
    assert result.created == 2
    assert [(f["row"], f["code"]) for f in result.failed] == [(3, "EMAIL_ALREADY_EXISTS")]


def test_seat_shortage_is_found_before_creating(engine, demo_company):
    with session_scope(engine) as session:
        problem = records.seat_problem(session, demo_company, 16, "http://legacy")
        assert records.seat_problem(session, demo_company, 15, "http://legacy") is None
    assert problem.code is ErrorCode.SEATS_EXCEEDED
    assert problem.as_dict() | {} == {
        "code": "SEATS_EXCEEDED",
        "message": problem.message,
        "needed": 16,
        "available": 15,
        "shortfall": 1,
        "legacy_dashboard_url": "http://legacy",
    }


def test_seats_taken_meanwhile_refuse_the_whole_batch_and_keep_the_draft(engine):
    company = new_company(engine, seats=3)
    upload_id = stage(engine, company, [person(i) for i in range(1, 4)])
    other = stage(engine, company, [person(9)])
    creating.create_users(engine, company, other)
    with pytest.raises(FileProblem) as refused:
        creating.create_users(engine, company, upload_id, legacy_dashboard_url="http://legacy")
    assert refused.value.as_dict() == {
        "code": "SEATS_EXCEEDED",
        "message": refused.value.message,
        "needed": 3,
        "available": 2,
        "shortfall": 1,
        "legacy_dashboard_url": "http://legacy",
    }
    assert count_users(engine, company) == 1
    with session_scope(engine, read_only=True) as session:
        upload = session.get(BulkUpload, upload_id)
        assert (upload.status, upload.seats_reserved, upload.created_count, upload.create_attempts) == (
            "draft",
            0,
            0,
            0,
        )
        outcomes = (
            session.exec(select(BulkUploadRow.outcome).where(BulkUploadRow.upload_id == upload_id)).scalars().all()
        )
        refusal = audit.history(session, upload_id)[-1]
    assert outcomes == ["pending"] * 3
    assert (refusal.event, refusal.details["code"], refusal.details["needed"]) == (
        audit.CREATE_REFUSED,
        "SEATS_EXCEEDED",
        3,
    )
    with session_scope(engine) as session:
        session.get(Company, company).seats = 4
    assert creating.create_users(engine, company, upload_id).created == 3  # seats bought: the same draft goes through


def test_seats_reserved_by_a_running_create_are_not_free(engine):
    company = new_company(engine, seats=10)
    running_create(engine, company, reserved=6)
    upload_id = stage(engine, company, [person(i) for i in range(5)])
    with session_scope(engine, read_only=True) as session:
        seats = records.company_seats(session, company)
        assert (seats.used, seats.reserved, seats.free) == (0, 6, 4)
        assert records.seat_problem(session, company, 5, "http://legacy").details["available"] == 4
    with pytest.raises(FileProblem, match="need 5 seats but only 4 are free"):
        creating.create_users(engine, company, upload_id)
    assert count_users(engine, company) == 0


def test_a_dead_workers_reservation_lapses_with_its_lease(engine):
    company = new_company(engine, seats=10)
    dead = running_create(engine, company, reserved=6, heartbeat_age=120)
    upload_id = stage(engine, company, [person(i) for i in range(5)])
    with session_scope(engine, read_only=True) as session:
        assert records.company_seats(session, company, lease=60).free == 10
        assert records.company_seats(session, company, lease=600).free == 4  # still within a longer lease
    assert creating.create_users(engine, company, upload_id, lease=60).created == 5
    assert create_lease.recover_stale(engine, lease=60) == [dead]
    with session_scope(engine, read_only=True) as session:
        assert session.get(BulkUpload, dead).seats_reserved == 0


def test_a_create_holds_the_seats_of_its_remaining_rows_and_frees_them_when_done(engine):
    company = new_company(engine, seats=20)
    upload_id = stage(engine, company, [person(i) for i in range(10)] + [person(99, email="bad")])
    seen = []

    def look(done, total):
        with session_scope(engine, read_only=True) as session:
            seen.append(
                (done, session.get(BulkUpload, upload_id).seats_reserved, records.company_seats(session, company).free)
            )

    assert creating.create_users(engine, company, upload_id, chunk_size=4, on_progress=look).created == 10
    # free = 20 - created - still reserved, at every step
    assert seen == [(4, 6, 10), (8, 2, 10), (10, 0, 10)]
    with session_scope(engine, read_only=True) as session:
        assert session.get(BulkUpload, upload_id).seats_reserved == 0
        assert records.company_seats(session, company).free == 10


def test_an_interrupted_create_frees_its_seats_and_a_resume_reserves_them_again(engine):
    company = new_company(engine, seats=10)
    upload_id = stage(engine, company, [person(i) for i in range(8)])

    def crash(done, total):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        creating.create_users(engine, company, upload_id, chunk_size=3, on_progress=crash)
    with session_scope(engine, read_only=True) as session:
        upload = session.get(BulkUpload, upload_id)
        assert (upload.status, upload.seats_reserved) == ("interrupted", 0)
        assert records.company_seats(session, company).free == 7
    # Meanwhile another batch takes 3 of the 7 seats: the 5 rows left no longer fit.
    other = stage(engine, company, [person(100 + i) for i in range(3)])
    assert creating.create_users(engine, company, other).created == 3
    with pytest.raises(FileProblem) as refused:
        creating.create_users(engine, company, upload_id, chunk_size=3)
    assert (refused.value.details["needed"], refused.value.details["available"]) == (5, 4)
    with session_scope(engine, read_only=True) as session:
        upload = session.get(BulkUpload, upload_id)
        assert (upload.status, upload.seats_reserved) == ("interrupted", 0)  # still resumable, holding nothing
    with session_scope(engine) as session:
        session.get(Company, company).seats = 11
    assert creating.create_users(engine, company, upload_id, chunk_size=3).created == 8
    assert count_users(engine, company) == 11


def test_creating_twice_creates_nobody_twice(engine):
    company = new_company(engine)
    upload_id = stage(engine, company, [person(i) for i in range(1, 6)])
    assert creating.create_users(engine, company, upload_id).created == 5
    with pytest.raises(errors.UploadBusy):
        creating.create_users(engine, company, upload_id)
    again = stage(engine, company, [person(i) for i in range(1, 6)])
    result = creating.create_users(engine, company, again)
    assert result.created == 0 and {f["code"] for f in result.failed} == {"EMAIL_ALREADY_EXISTS"}
    assert count_users(engine, company) == 5


def test_an_interrupted_create_resumes_without_duplicates(engine):
    company = new_company(engine)
    upload_id = stage(engine, company, [person(i) for i in range(1, 11)])
    seen = []

    def crash_after_first_chunk(done, total):
        seen.append((done, total))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        creating.create_users(engine, company, upload_id, chunk_size=4, on_progress=crash_after_first_chunk)
    assert seen == [(4, 10)] and count_users(engine, company) == 4
    with session_scope(engine, read_only=True) as session:
        assert session.get(BulkUpload, upload_id).status == "interrupted"
    progress = []
    result = creating.create_users(
        engine, company, upload_id, chunk_size=4, on_progress=lambda d, t: progress.append((d, t))
    )
    assert progress == [(4, 6), (6, 6)]
    assert result.created == 10 and result.failed == [] and count_users(engine, company) == 10


def test_another_companys_upload_is_not_found(engine):
    a, b = new_company(engine, name="A"), new_company(engine, name="B")
    upload_id = stage(engine, a, [person(1)])
    with pytest.raises(errors.UploadNotFound):
        creating.create_users(engine, b, upload_id)
    with session_scope(engine) as session, pytest.raises(ValueError):
        staging.configure_batch(session, a, upload_id, BatchSpec(group_ids=[999]))


def test_a_batch_cannot_use_another_companys_groups(engine, demo_company):
    other = new_company(engine, name="Other")
    with session_scope(engine) as session:
        group_id = session.exec(select(Group.id).where(Group.company_id == demo_company)).scalars().first()
    upload_id = stage(engine, other, [person(1)])
    with session_scope(engine) as session, pytest.raises(ValueError, match="does not exist in this company"):
        staging.configure_batch(session, other, upload_id, BatchSpec(group_ids=[group_id]))


def test_concurrent_batches_never_exceed_seats_nor_share_an_email(engine):
    company = new_company(engine, seats=30)
    # Both batches hold 20 people, 10 of them the same: 30 distinct, only 30 seats, 40 rows.
    first = stage(engine, company, [person(i) for i in range(0, 20)])
    second = stage(engine, company, [person(i) for i in range(10, 30)])
    results, refused, errors = {}, {}, []
    barrier = threading.Barrier(2)

    def run(upload_id):
        try:
            barrier.wait()
            results[upload_id] = creating.create_users(engine, company, upload_id, chunk_size=5)
        except FileProblem as exc:
            refused[upload_id] = exc
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(u,)) for u in (first, second)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert errors == []
    # Whichever starts second finds either the first's 20 seats reserved (refused whole: 20 > 10)
    # or the first done (its 10 shared people taken: the 10 others fit).
    assert len(results) + len(refused) == 2 and len(results) >= 1
    assert all(p.code is ErrorCode.SEATS_EXCEEDED for p in refused.values())
    created = sum(r.created for r in results.values())
    assert created == count_users(engine, company) == (30 if len(results) == 2 else 20)
    failed_codes = {f["code"] for r in results.values() for f in r.failed}
    assert failed_codes <= {"EMAIL_ALREADY_EXISTS"}
    with session_scope(engine) as session:
        emails = session.exec(select(User.email).where(User.company_id == company)).scalars().all()
        assert not session.exec(select(User.id).where(User.bulk_upload_id.in_(list(refused)))).all()
    assert len(emails) == len(set(emails))


def test_extensions_follow_the_highest_and_go_on_with_five_digits(engine):
    company = new_company(engine)
    first = stage(engine, company, [person(1), person(2)])
    creating.create_users(engine, company, first)
    with session_scope(engine) as session:
        assert sorted(session.exec(select(User.extension).where(User.company_id == company)).scalars()) == [1000, 1001]
        session.exec(select(User).where(User.email == "person2@example.com")).scalars().one().extension = 9999
    second = stage(engine, company, [person(3), person(4)])
    creating.create_users(engine, company, second)
    with session_scope(engine) as session:
        assert sorted(session.exec(select(User.extension).where(User.company_id == company)).scalars()) == [
            1000,
            9999,
            10000,
            10001,
        ]


def test_demo_seed_is_idempotent(engine):
    with session_scope(engine) as session:
        first = seed_demo(session)
    with session_scope(engine) as session:
        assert seed_demo(session) == first
        users = session.exec(select(User.user_type).where(User.company_id == first)).scalars().all()
        assert set(users) == {"admin", "agent", "supervisor", "analyst"} and len(users) == 10
        assert session.exec(select(func.count()).select_from(Company)).scalar_one() == 1


def test_a_group_deleted_after_it_was_chosen_stops_create_before_anything(engine, demo_company):
    with session_scope(engine) as session:
        group = Group(company_id=demo_company, name="Doomed")
        session.add(group)
        session.flush()
        group_id = group.id
    upload_id = stage(engine, demo_company, [person(1)], BatchSpec(group_ids=[group_id]))
    with session_scope(engine) as session:
        session.delete(session.get(Group, group_id))
    with pytest.raises(ValueError, match="group does not exist"):
        creating.create_users(engine, demo_company, upload_id)
    with session_scope(engine, read_only=True) as session:
        assert session.get(BulkUpload, upload_id).status == "draft"
    assert count_users(engine, demo_company) == 10


def test_a_taken_email_reads_the_same_whether_its_holder_is_in_this_company_or_another(engine):
    from bulk_upload_app.uploads import drafts

    company, rival = new_company(engine, name="Acme"), new_company(engine, name="Rival Secret Corp")
    creating.create_users(engine, company, stage(engine, company, [person(1, firstname="Olive", lastname="Owner")]))
    creating.create_users(engine, rival, stage(engine, rival, [person(2, firstname="Hidden", lastname="Holder")]))
    own, theirs = "person1@example.com", "person2@example.com"

    def same_words(messages: dict[str, str]) -> str:
        assert set(messages) == {own, theirs}, messages
        assert messages[own].replace(own, "<email>") == messages[theirs].replace(theirs, "<email>")
        for secret in ("Olive", "Owner", "Hidden", "Holder", "Rival", "Acme", "compan"):
            assert secret not in messages[theirs], messages[theirs]
        return messages[own]

    def taken_messages(upload_id: str) -> dict[str, str]:
        with session_scope(engine, read_only=True) as session:
            rows = session.exec(select(BulkUploadRow).where(BulkUploadRow.upload_id == upload_id)).scalars().all()
        return {r.email_norm: e["message"] for r in rows for e in r.errors if e["code"] == "EMAIL_ALREADY_EXISTS"}

    # found when the file is staged
    staged = stage(engine, company, [person(1), person(2)])
    at_staging = same_words(taken_messages(staged))
    # found when a cell is edited to a taken email
    edited = stage(engine, company, [person(3), person(4)])
    with session_scope(engine) as session:
        ids = dict(
            session.exec(
                select(BulkUploadRow.row_number, BulkUploadRow.id).where(BulkUploadRow.upload_id == edited)
            ).all()
        )
        drafts.edit_cell(session, company, edited, ids[2], "email", own)
        drafts.edit_cell(session, company, edited, ids[3], "email", theirs)
    same_words(taken_messages(edited))
    # found when the account is checked again, and when creating finds them taken meanwhile
    later = stage(engine, company, [person(5), person(6)])
    late = stage(engine, company, [person(5), person(6)])
    with session_scope(engine) as session:
        for user in session.exec(select(User).where(User.email.in_([own, theirs]))).scalars():
            user.email = user.email.replace("person1@", "person5@").replace("person2@", "person6@")
    own, theirs = "person5@example.com", "person6@example.com"
    with session_scope(engine) as session:
        drafts.recheck_account(session, company, later)
    same_words(taken_messages(later))
    failed = creating.create_users(engine, company, late).failed
    at_create = same_words({f["email"]: f["message"] for f in failed if f["code"] == "EMAIL_ALREADY_EXISTS"})
    assert at_create.replace("person5", "person1") == at_staging


def test_seats_that_go_away_while_creating_fail_only_the_rows_beyond_them(engine):
    """NO_SEAT_AVAILABLE is still possible: seats can be removed (or users added outside bulk
    upload) after the batch reserved them; the recount in every chunk keeps the company within
    its seats."""
    company = new_company(engine, seats=10)
    upload_id = stage(engine, company, [person(i) for i in range(8)])

    def seats_cut(done, total):
        if done == 3:
            with session_scope(engine) as session:
                session.get(Company, company).seats = 5

    result = creating.create_users(engine, company, upload_id, chunk_size=3, on_progress=seats_cut)
    assert result.created == 5 == count_users(engine, company)
    assert [(f["row"], f["code"]) for f in result.failed] == [(r, "NO_SEAT_AVAILABLE") for r in (7, 8, 9)]
    with session_scope(engine, read_only=True) as session:
        assert session.get(BulkUpload, upload_id).seats_reserved == 0
