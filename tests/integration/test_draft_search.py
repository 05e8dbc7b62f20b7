"""Searching a draft's rows (drafts.page with a term) finds exactly what a plain Python filter of
the staged rows finds: a substring of any of the five values, case-insensitive for every letter,
LIKE's wildcards literal, removed rows left out, edits seen at once."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text

from bulk_upload_app.db import session_scope
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.files.schema import COLUMN_NAMES
from bulk_upload_app.models import BulkUploadRow, RowTextBlock
from bulk_upload_app.statuses import RowOutcome
from bulk_upload_app.uploads import drafts, pipeline, search, staging
from tests.support.factories import draft, person, row_id, users_csv
from tests.support.services import postgres_only


def expected(engine, upload_id, term: str, *, only_errors: bool = False) -> list[int]:
    """Row numbers of the matching rows, by Python over the staged rows as they are now."""
    needle = term.strip().lower()
    with session_scope(engine, read_only=True) as session:
        rows = session.exec(
            select(BulkUploadRow).where(BulkUploadRow.upload_id == upload_id).order_by(BulkUploadRow.row_number)
        ).scalars()
        return [
            r.row_number
            for r in rows
            if r.outcome != RowOutcome.REMOVED
            and (r.is_valid is False or not only_errors)
            and any(needle in getattr(r, c).lower() for c in COLUMN_NAMES)
        ]


def found(engine, company, upload_id, term: str, *, only_errors: bool = False, limit: int = 50, offset: int = 0):
    with session_scope(engine, read_only=True) as session:
        rows, total = drafts.page(
            session, company, upload_id, search=term, only_errors=only_errors, limit=limit, offset=offset
        )
    return [r.row for r in rows], total


def assert_same(engine, company, upload_id, term, *, only_errors=False):
    want = expected(engine, upload_id, term, only_errors=only_errors)
    got, total = found(engine, company, upload_id, term, only_errors=only_errors, limit=10_000)
    assert (got, total) == (want, min(len(want), drafts.SEARCH_COUNT_LIMIT + 1)), term


UNUSUAL = [
    person(1, firstname="Élodie", lastname="ÉMILE-Zoë"),
    person(2, firstname="élodie", lastname="Ørsted"),
    person(3, firstname="Straße", lastname="ΣΊΣΥΦΟΣ"),
    person(4, firstname="100%", lastname="a_b"),
    person(5, firstname="back\\slash", lastname="x%_y"),
    person(6, firstname="İlkay", lastname="O'Brien"),
    person(7, email="not-an-email"),
    person(8, firstname="Ada", lastname="Lovelace"),
    person(9, firstname="ada", lastname="LOVELACE", email="person8@example.com"),  # a duplicate: an error
]
TERMS = [
    "é",
    "É",
    "élodie",
    "ÉLODIE",
    "émile-z",
    "zoë",
    "ø",
    "straße",
    "σ",
    "σίσυφος",
    "ΣΊΣΥΦΟΣ",
    "i̇lkay",
    "%",
    "_",
    "\\",
    "a_b",
    "x%_",
    "0%",
    "'",
    "-",
    "@example",
    "person1@example.com",
    "+44",
    "07400120001",
    "lovelace",
    "  Lovelace ",
    "first",
    "e",
    "nothing like this",
]


def test_a_search_finds_what_python_finds(engine, demo_company):
    upload_id = draft(engine, demo_company, UNUSUAL)
    for term in TERMS:
        assert_same(engine, demo_company, upload_id, term)
        assert_same(engine, demo_company, upload_id, term, only_errors=True)
    assert found(engine, demo_company, upload_id, "é")[0] == [2, 3]  # "É" and "é" alike, on both databases
    assert found(engine, demo_company, upload_id, "%")[0] == [5, 6]  # a wildcard of LIKE is a character


def test_edits_and_removals_are_searched_at_once(engine, demo_company):
    upload_id = draft(engine, demo_company, [person(i) for i in range(1, 2500)])  # rows 2..2500: three blocks
    assert found(engine, demo_company, upload_id, "Zebulon") == ([], 0)
    for number in (2, 1001, 1002, 2500):
        with session_scope(engine) as session:
            drafts.edit_cell(session, demo_company, upload_id, row_id(engine, upload_id, number), "lastname", "ZEBULON")
    assert found(engine, demo_company, upload_id, "zebulon") == ([2, 1001, 1002, 2500], 4)
    with session_scope(engine) as session:  # edited away from the term, and a row removed
        drafts.edit_cell(session, demo_company, upload_id, row_id(engine, upload_id, 1001), "lastname", "Smith")
        drafts.remove_row(session, demo_company, upload_id, row_id(engine, upload_id, 2500))
    assert found(engine, demo_company, upload_id, "zebulon") == ([2, 1002], 2)
    with session_scope(engine) as session:  # an email made a duplicate of row 2's: row 1002 now has an error
        drafts.edit_cell(
            session, demo_company, upload_id, row_id(engine, upload_id, 1002), "email", "person1@example.com"
        )
    assert found(engine, demo_company, upload_id, "zebulon", only_errors=True) == ([1002], 1)
    for term in ("zebulon", "smith", "person1@", "1"):
        assert_same(engine, demo_company, upload_id, term)
        assert_same(engine, demo_company, upload_id, term, only_errors=True)


def test_pages_of_a_search_and_its_capped_count(engine, demo_company):
    rows = [person(i) for i in range(drafts.SEARCH_COUNT_LIMIT + 300)]
    upload_id = draft(engine, demo_company, rows)
    want = expected(engine, upload_id, "first1")
    assert len(want) == 411  # first1, first10-19, first100-199, first1000-1299
    got = []
    for offset in range(0, 500, 50):
        page, total = found(engine, demo_company, upload_id, "first1", offset=offset)
        assert total == 411
        got += page
    assert got == want
    page, total = found(engine, demo_company, upload_id, "first", offset=1250)  # past the counted matches
    assert total == drafts.SEARCH_COUNT_LIMIT + 1 and page == [r + 2 for r in range(1250, 1300)]


def test_a_replaced_file_is_searched_and_not_the_old_one(engine, demo_company):
    upload_id = draft(engine, demo_company, [person(i, lastname="Oldname") for i in range(30)])
    draft(engine, demo_company, [person(i, lastname="Newname") for i in range(20)], replace_upload_id=upload_id)
    assert found(engine, demo_company, upload_id, "oldname") == ([], 0)
    assert found(engine, demo_company, upload_id, "newname")[1] == 20
    with session_scope(engine, read_only=True) as session:
        blocks = (
            session.exec(select(RowTextBlock.row_numbers).where(RowTextBlock.upload_id == upload_id)).scalars().all()
        )
    assert blocks == [" ".join(str(n) for n in range(2, 22))]


def test_a_draft_staged_before_its_text_was_kept_is_searched_row_by_row(engine, demo_company):
    upload_id = draft(engine, demo_company, UNUSUAL)
    with session_scope(engine) as session:
        session.execute(delete(RowTextBlock.__table__).where(RowTextBlock.upload_id == upload_id))
        drafts.edit_cell(session, demo_company, upload_id, row_id(engine, upload_id, 9), "firstname", "Grace")
    for term in ("grace", "lovelace", "%", "a_b", "\\", "+44"):
        assert_same(engine, demo_company, upload_id, term)


def test_a_draft_whose_first_rows_were_staged_without_text_is_searched_row_by_row(engine, demo_company, monkeypatch):
    """A worker from before migration 0020_row_text staged its first chunks, a newer one the rest (a deploy
    while the file was being judged): the text of the later blocks alone would miss rows."""
    monkeypatch.setattr(search, "BLOCK_ROWS", 3)
    upload_id = draft(engine, demo_company, UNUSUAL)
    with session_scope(engine) as session:
        blocks = session.exec(select(RowTextBlock.first_row).where(RowTextBlock.upload_id == upload_id)).scalars().all()
        assert len(blocks) > 1
        session.execute(
            delete(RowTextBlock.__table__).where(
                RowTextBlock.upload_id == upload_id, RowTextBlock.first_row == min(blocks)
            )
        )
    for term in ("lovelace", "%", "a_b", "\\", "+44", "person1@example.com", "e"):  # ASCII: SQLite's lower()
        assert_same(engine, demo_company, upload_id, term)


def test_rows_numbered_with_gaps_are_found_by_their_numbers(engine, demo_company):
    """Blank lines are not rows but keep their numbers: a block's rows are then not consecutive."""
    data = users_csv([person(1), person(2), person(3)]).replace(b"\n", b"\n\n", 2)
    upload_id = pipeline.draft_from_file(
        engine, company_id=demo_company, admin_user_id=None, file_name="g.csv", data=data, limits=ReadLimits()
    )
    assert found(engine, demo_company, upload_id, "example") == ([3, 5, 6], 3)
    assert found(engine, demo_company, upload_id, "person2") == ([5], 1)
    assert_same(engine, demo_company, upload_id, "first")


def test_a_term_holding_a_separator_of_the_text_is_searched_row_by_row(engine, demo_company):
    upload_id = draft(engine, demo_company, UNUSUAL)
    for separator in search.SEPARATORS:
        assert found(engine, demo_company, upload_id, f"ada{separator}lovelace") == ([], 0)
        assert not search.can_search(f"a{separator}")


_ALPHABET = "aAbÉé%_\\ ."
values = st.text(alphabet=_ALPHABET, min_size=1, max_size=6).map(str.strip).filter(bool)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(st.tuples(values, values), min_size=1, max_size=12),
    edits=st.lists(st.tuples(st.integers(0, 11), st.sampled_from(["firstname", "lastname", "remove"]), values)),
    terms=st.lists(st.text(alphabet=_ALPHABET, min_size=1, max_size=3), min_size=1, max_size=4),
    only_errors=st.booleans(),
)
def test_any_search_after_any_edits_finds_what_python_finds(engine, demo_company, names, edits, terms, only_errors):
    rows = [person(i, firstname=first, lastname=last) for i, (first, last) in enumerate(names)]
    rows[-1]["email"] = rows[0]["email"]  # an error when there are two rows or more
    upload_id = draft(engine, demo_company, rows)
    removed: set[int] = set()
    for index, column, value in edits:
        number = index % len(rows) + 2
        if number in removed:
            continue
        with session_scope(engine) as session:
            if column == "remove":
                drafts.remove_row(session, demo_company, upload_id, row_id(engine, upload_id, number))
                removed.add(number)
            else:
                drafts.edit_cell(session, demo_company, upload_id, row_id(engine, upload_id, number), column, value)
    for term in terms:
        if term.strip():
            assert_same(engine, demo_company, upload_id, term, only_errors=only_errors)


@pytest.mark.parametrize("text", ["ΣΊΣΥΦΟΣ", "İlkay", "Straße", "ǅemal", "ΌΣΟΣ Σ"])
def test_rows_and_terms_are_lower_cased_alike(text):
    """The rows' text and the term go through one lower-casing (polars'), which agrees with Python's
    for these letters that change length or depend on their place."""
    assert search.search_term(text) == text.lower()


@postgres_only
def test_the_worker_refreshes_the_planners_figures_after_staging_a_big_draft(engine, demo_company, monkeypatch):
    """Else a fresh draft of a million rows looks like ~140 to the planner, which then sorts them
    all for one page turn."""

    def rows_planned() -> float:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = to_regclass('bulk_upload_row')")
            ).scalar_one()

    draft(engine, demo_company, [person(i) for i in range(8)])
    assert rows_planned() != 8  # under ANALYZE_AFTER_ROWS: not analyzed
    monkeypatch.setattr(staging, "ANALYZE_AFTER_ROWS", 10)
    draft(engine, demo_company, [person(i, domain="example.org") for i in range(10)])
    assert rows_planned() == 18
