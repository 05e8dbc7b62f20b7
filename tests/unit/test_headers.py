from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.files.headers import column_for, map_headers
from bulk_upload_app.files.schema import COLUMN_NAMES

TEMPLATE = list(COLUMN_NAMES)


def test_template_titles_are_taken_as_they_are_without_notices():
    mapping = map_headers(TEMPLATE)
    assert mapping.positions == {name: i for i, name in enumerate(TEMPLATE)}
    assert mapping.notices == []


@pytest.mark.parametrize(
    "title,column",
    [
        ("First Name", "firstname"),
        ("FIRSTNAME", "firstname"),
        ("first_name", "firstname"),
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("Country Prefix", "countryprefix"),
        ("country-code", "countryprefix"),
        ("Last name", "lastname"),
        ("Surname", "lastname"),
        ("Phone Number", "phone"),
        ("  email  ", "email"),
    ],
)
def test_near_misses_are_matched_and_reported(title, column):
    header = [title if c == column else c for c in TEMPLATE]
    mapping = map_headers(header)
    assert mapping.positions[column] == TEMPLATE.index(column)
    assert any(f'"{title}" was read as "{column}"' in n for n in mapping.notices)


def test_unknown_columns_are_ignored_with_a_notice():
    mapping = map_headers([*TEMPLATE, "department", ""])
    assert mapping.positions == {name: i for i, name in enumerate(TEMPLATE)}
    assert mapping.notices == ['The column "department" is not part of the template and was ignored.']


@pytest.mark.parametrize("missing", ["firstname", "lastname", "email", "countryprefix"])
def test_a_missing_required_column_is_named(missing):
    with pytest.raises(FileProblem) as caught:
        map_headers([c for c in TEMPLATE if c != missing])
    assert caught.value.code is ErrorCode.MISSING_COLUMN
    assert f'"{missing}"' in caught.value.message


def test_phone_column_may_be_absent():
    assert "phone" not in map_headers(TEMPLATE[:4]).positions


def test_two_headers_for_one_column_are_an_error():
    with pytest.raises(FileProblem) as caught:
        map_headers([*TEMPLATE, "E-mail"])
    assert caught.value.code is ErrorCode.DUPLICATE_COLUMN
    assert '"email", "E-mail"' in caught.value.message


@given(st.sampled_from(TEMPLATE), st.lists(st.sampled_from([" ", "_", "-", "."]), max_size=3), st.booleans())
def test_separators_and_case_never_matter(column, separators, upper):
    title = column
    for i, sep in enumerate(separators, 1):
        title = title[: i * 2] + sep + title[i * 2 :]
    title = title.upper() if upper else title.title()
    assert column_for(title) == column


@given(st.text(max_size=30))
def test_any_title_maps_to_a_template_column_or_none(title):
    assert column_for(title) in (None, *TEMPLATE)
