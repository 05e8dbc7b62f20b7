"""Working on a draft: paging, editing, removing, re-checking, replacing the file."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulk_upload_app import errors
from bulk_upload_app.db import session_scope
from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.models import Company, User
from bulk_upload_app.uploads import creating, drafts, pipeline, records
from tests.support.factories import draft, person, row_id, users_csv


def view(engine, company, upload_id, **kwargs):
    with session_scope(engine, read_only=True) as session:
        return drafts.page(session, company, upload_id, **kwargs)


def test_paging_filter_and_search(engine, demo_company):
    upload_id = draft(engine, demo_company, [person(i) for i in range(120)] + [person(500, email="bad")])
    rows, total = view(engine, demo_company, upload_id, offset=50, limit=50)
    assert total == 121 and [r.row for r in rows][:2] == [52, 53]
    rows, total = view(engine, demo_company, upload_id, only_errors=True)
    assert total == 1 and rows[0].errors["email"]["code"] == "INVALID_EMAIL"
    rows, total = view(engine, demo_company, upload_id, search="PERSON11")
    assert total == 11  # person11, person110..119
    rows, total = view(engine, demo_company, upload_id, search="%")
    assert total == 0  # LIKE wildcards are searched for literally


def test_editing_a_cell_revalidates_it_and_duplicates_across_the_file(engine, demo_company):
    upload_id = draft(engine, demo_company, [person(1), person(2), person(3, email="person1@example.com")])

    def state():
        with session_scope(engine, read_only=True) as session:
            counts = drafts.counts(session, upload_id)
        rows, _ = view(engine, demo_company, upload_id, only_errors=True)
        return counts, [(r.row, r.errors["email"]["code"], r.errors["email"]["message"]) for r in rows]

    counts, bad = state()
    assert counts == drafts.DraftCounts(3, 2, 1) and [(r, c) for r, c, _ in bad] == [(4, "DUPLICATE_EMAIL_IN_FILE")]
    with session_scope(engine) as session:  # row 2 takes row 3's email: row 3 is now the later duplicate, row 4 is free
        edited = drafts.edit_cell(
            session, demo_company, upload_id, row_id(engine, upload_id, 2), "email", "PERSON2@example.com "
        )
    assert edited.is_valid and edited.values["email"] == "PERSON2@example.com"
    counts, bad = state()
    assert counts == drafts.DraftCounts(3, 2, 1)
    assert [(r, c) for r, c, _ in bad] == [(3, "DUPLICATE_EMAIL_IN_FILE")] and "row 2" in bad[0][2]
    with session_scope(engine) as session:
        drafts.edit_cell(session, demo_company, upload_id, row_id(engine, upload_id, 3), "email", "person3@example.com")
    assert state() == (drafts.DraftCounts(3, 3, 0), [])


def test_edit_finds_emails_already_taken_and_bad_values(engine, demo_company):
    upload_id = draft(engine, demo_company, [person(1)])
    rid = row_id(engine, upload_id, 2)
    with session_scope(engine) as session:
        taken = drafts.edit_cell(session, demo_company, upload_id, rid, "email", "sam.okafor@demo-company.example.com")
        assert taken.errors["email"]["code"] == "EMAIL_ALREADY_EXISTS"
        prefix = drafts.edit_cell(session, demo_company, upload_id, rid, "countryprefix", "+999")
        assert prefix.errors["countryprefix"]["code"] == "INVALID_COUNTRY_PREFIX"
        with pytest.raises(ValueError):
            drafts.edit_cell(session, demo_company, upload_id, rid, "is_valid", "1")


def test_removing_a_row_releases_its_duplicate(engine, demo_company):
    upload_id = draft(engine, demo_company, [person(1), person(2, email="person1@example.com")])
    with session_scope(engine) as session:
        drafts.remove_row(session, demo_company, upload_id, row_id(engine, upload_id, 2))
    rows, total = view(engine, demo_company, upload_id)
    assert total == 1 and rows[0].row == 3 and rows[0].is_valid
    result = creating.create_users(engine, demo_company, upload_id)
    assert result.created == 1 and result.failed == []


def test_recheck_sees_users_created_meanwhile(engine, demo_company):
    upload_id = draft(engine, demo_company, [person(1), person(2)])
    with session_scope(engine) as session:
        session.add(
            User(
                company_id=demo_company,
                firstname="X",
                lastname="Y",
                email="person2@example.com",
                country_prefix="+44",
                extension=5000,
                user_type="agent",
            )
        )
    with session_scope(engine) as session:
        assert drafts.recheck_account(session, demo_company, upload_id) == drafts.DraftCounts(2, 1, 1)


def test_another_company_can_neither_see_nor_change_a_draft(engine, demo_company):
    upload_id = draft(engine, demo_company, [person(1)])
    with session_scope(engine) as session:
        other = Company(name="Other", seats=5, default_settings={})
        session.add(other)
        session.flush()
        other_id = other.id
    rid = row_id(engine, upload_id, 2)
    with pytest.raises(errors.UploadNotFound):
        view(engine, other_id, upload_id)
    for action in (
        lambda s: drafts.edit_cell(s, other_id, upload_id, rid, "email", "x@example.com"),
        lambda s: drafts.remove_row(s, other_id, upload_id, rid),
        lambda s: drafts.recheck_account(s, other_id, upload_id),
    ):
        with session_scope(engine) as session, pytest.raises(errors.UploadNotFound):
            action(session)
    second = draft(engine, demo_company, [person(2)])  # a row id of one draft is no use in another
    with session_scope(engine) as session, pytest.raises(errors.UploadNotFound):
        drafts.edit_cell(session, demo_company, second, rid, "email", "x@example.com")


def test_a_created_upload_can_no_longer_change(engine, demo_company):
    upload_id = draft(engine, demo_company, [person(1)])
    creating.create_users(engine, demo_company, upload_id)
    with session_scope(engine) as session, pytest.raises(errors.UploadBusy):
        drafts.edit_cell(session, demo_company, upload_id, row_id(engine, upload_id, 2), "email", "x@example.com")


def test_replacing_the_file_keeps_the_draft_and_its_settings(engine, demo_company):
    upload_id = draft(engine, demo_company, [person(1), person(2)], user_type="analyst")
    again = draft(engine, demo_company, [person(7)], replace_upload_id=upload_id)
    assert again == upload_id
    rows, total = view(engine, demo_company, upload_id)
    assert total == 1 and rows[0].values["email"] == "person7@example.com"
    with session_scope(engine, read_only=True) as session:
        assert records.get_upload(session, demo_company, upload_id).user_type == "analyst"


def test_a_bad_file_leaves_no_draft(engine, demo_company):
    with pytest.raises(FileProblem) as caught:
        pipeline.draft_from_file(
            engine,
            company_id=demo_company,
            admin_user_id=None,
            file_name="u.csv",
            data=b"firstname,lastname\nA,B\n",
            limits=ReadLimits(),
        )
    assert caught.value.code is ErrorCode.MISSING_COLUMN


_EMAILS = ["a@x.example.com", "b@x.example.com", "A@X.example.com", "bad@", ""]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(
            st.tuples(
                st.just("edit"),
                st.integers(2, 7),
                st.sampled_from(["email", "countryprefix", "firstname"]),
                st.sampled_from([*_EMAILS, "+44", "+999", "Zoë"]),
            ),
            st.tuples(st.just("remove"), st.integers(2, 7), st.just(""), st.just("")),
        ),
        max_size=8,
    )
)
def test_counts_kept_by_edits_equal_a_recount(engine, demo_company, operations):
    """Edits and removals update the draft's counts from what they changed, never by counting
    every row; after any sequence they equal a full recount."""
    rows = [person(i, email=_EMAILS[i % 3]) for i in range(6)]
    upload_id = draft(engine, demo_company, rows)
    removed: set[int] = set()
    for kind, number, column, value in operations:
        if number in removed:
            continue
        with session_scope(engine) as session:
            if kind == "remove":
                drafts.remove_row(session, demo_company, upload_id, row_id(engine, upload_id, number))
                removed.add(number)
            else:
                drafts.edit_cell(session, demo_company, upload_id, row_id(engine, upload_id, number), column, value)
        with session_scope(engine, read_only=True) as session:
            stored = drafts.stored_counts(records.get_upload(session, demo_company, upload_id))
            assert stored == drafts.counts(session, upload_id), (kind, number, column, value)


def test_a_search_counts_its_matches_up_to_the_limit_only(engine):
    with session_scope(engine) as session:
        company = Company(name="Search", seats=10)
        session.add(company)
        session.flush()
        company_id = company.id
    rows = [person(i) for i in range(drafts.SEARCH_COUNT_LIMIT + 5)]
    upload_id = pipeline.draft_from_file(
        engine, company_id=company_id, admin_user_id=None, file_name="s.csv", data=users_csv(rows), limits=ReadLimits()
    )
    with session_scope(engine, read_only=True) as session:
        many, total_many = drafts.page(session, company_id, upload_id, search="first", limit=10)
        one, total_one = drafts.page(session, company_id, upload_id, search="first1004", limit=10)
    assert total_many == drafts.SEARCH_COUNT_LIMIT + 1 and len(many) == 10  # "1,000+": counting stopped there
    assert total_one == 1 and one[0].values["firstname"] == "First1004"
