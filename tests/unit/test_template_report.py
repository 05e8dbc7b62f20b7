from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.files.intake import parse_file
from bulk_upload_app.files.schema import COLUMN_NAMES
from bulk_upload_app.files.spreadsheet_out import csv_safe, unescape_csv_safe
from bulk_upload_app.files.template import template_csv, template_xlsx
from bulk_upload_app.uploads.report import REPORT_HEADER, report_csv, report_xlsx

HOSTILE = ['=HYPERLINK("http://x")', "+44", "-2+3", "@SUM(A1)", "\tx", "\rx", "=1+1"]


def test_csv_template_is_the_lowercase_header_only():
    text = template_csv().decode("utf-8-sig")
    assert text == ",".join(COLUMN_NAMES) + "\r\n"


def test_xlsx_template_has_text_columns_and_instructions():
    book = openpyxl.load_workbook(io.BytesIO(template_xlsx()))
    users, instructions = book.worksheets
    assert users.title == "Users" and [c.value for c in users[1]] == list(COLUMN_NAMES)
    assert users.max_row == 1
    text_columns = {
        i for d in users.column_dimensions.values() if d.number_format == "@" for i in range(d.min, d.max + 1)
    }
    assert text_columns >= {1, 2, 3, 4, 5}  # so "+44" and long digit strings typed in stay text
    assert instructions.title == "Instructions"
    assert any(row[0].value == "countryprefix" for row in instructions.iter_rows())


@pytest.mark.parametrize("template", [template_csv, template_xlsx])
def test_a_template_imports_no_user(template):
    with pytest.raises(FileProblem) as caught:
        parse_file(template(), "template.xlsx" if template is template_xlsx else "template.csv")
    assert caught.value.code is ErrorCode.NO_DATA_ROWS


FAILED = [
    {
        "row": 3,
        "firstname": HOSTILE[0],
        "lastname": "@x",
        "email": "bad",
        "countryprefix": "+44",
        "phone": "-1",
        "code": "INVALID_EMAIL",
        "message": "not valid",
    },
    {
        "row": 3,
        "firstname": HOSTILE[0],
        "lastname": "@x",
        "email": "bad",
        "countryprefix": "+44",
        "phone": "-1",
        "code": "INVALID_PHONE_NUMBER",
        "message": "bad phone",
    },
    {
        "row": 2,
        "firstname": "Ann",
        "lastname": "Lee",
        "email": "a@b.com",
        "countryprefix": "+1",
        "phone": "",
        "code": "EMAIL_ALREADY_EXISTS",
        "message": "taken",
    },
]


def test_report_has_one_line_per_row_with_all_its_problems():
    rows = list(csv.reader(io.StringIO(report_csv(FAILED).decode("utf-8-sig"))))
    assert rows[0] == list(REPORT_HEADER)
    assert [r[5] for r in rows[1:]] == ["2", "3"]
    assert rows[2][6] == "INVALID_EMAIL INVALID_PHONE_NUMBER" and rows[2][7] == "not valid bad phone"


def test_csv_report_never_starts_a_cell_with_a_formula_trigger():
    rows = list(csv.reader(io.StringIO(report_csv(FAILED).decode("utf-8-sig"))))
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert rows[2][0] == "'" + HOSTILE[0]


def test_xlsx_report_writes_formula_looking_cells_as_text():
    book = openpyxl.load_workbook(io.BytesIO(report_xlsx(FAILED)))
    sheet = book.active
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert values[1][0] == HOSTILE[0] and values[1][3] == "+44"
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type == "s", (cell.coordinate, cell.value)


@pytest.mark.parametrize("value", [*HOSTILE, "plain", "'quoted", "", "'=x"])
def test_csv_escaping_round_trips(value):
    assert unescape_csv_safe(csv_safe(value)) == value


def test_a_csv_report_reuploads_with_the_values_as_typed():
    parsed = parse_file(report_csv(FAILED), "failed-rows.csv")
    rows = parsed.frame.to_dicts()
    assert [r["firstname"] for r in rows] == ["Ann", HOSTILE[0]]
    assert [(r["lastname"], r["countryprefix"], r["phone"]) for r in rows] == [("Lee", "+1", ""), ("@x", "+44", "-1")]
    assert [r["row"] for r in rows] == [2, 3]
    assert any('"row" is not part of the template' in n for n in parsed.notices)


def test_an_xlsx_report_reuploads_with_the_values_as_typed():
    rows = parse_file(report_xlsx(FAILED), "failed-rows.xlsx").frame.to_dicts()
    assert [(r["firstname"], r["countryprefix"]) for r in rows] == [("Ann", "+1"), (HOSTILE[0], "+44")]


# Cells as hostile as we can make them: separators, formula starts, blanks, apostrophes, and
# now and then any other character.
_PIECES = [";", ",", "\t", "=", "+", "-", "@", "'", " ", "\u00a0", "a", "1", "(", "=1+1", "SUM(A1)"]
RISKY_TEXT = st.lists(st.sampled_from([*_PIECES, "\r"]) | st.characters(codec="utf-8"), max_size=10).map("".join)
# What an admin types in a cell: no control characters (the reader refuses those as binary).
TYPED_TEXT = st.lists(
    st.sampled_from(_PIECES) | st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), max_size=10
).map("".join)
PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_no_formula_anywhere(cell: str) -> None:
    """No piece of the cell, whichever of ; , or tab a spreadsheet splits it at, starts a formula."""
    assert not cell.startswith(("\t", "\r")), repr(cell)
    for piece in re.split(r"[;,\t]", cell):
        assert not piece.lstrip().startswith(("=", "+", "-", "@")), (repr(cell), repr(piece))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("x;=1+1", "x;'=1+1"),
        ("a,=HYPERLINK(1)", "a,'=HYPERLINK(1)"),
        ("a\t@SUM(1)", "a\t'@SUM(1)"),
        ("Lee; -2+3", "Lee;' -2+3"),
        (" =1+1", "' =1+1"),
        ("x;'=1", "x;''=1"),
        ("1;2,3", "1;2,3"),
        ("Anne-Marie", "Anne-Marie"),
    ],
)
def test_a_formula_after_a_separator_or_blanks_is_escaped_too(value, written):
    assert csv_safe(value) == written
    assert_no_formula_anywhere(written)
    assert unescape_csv_safe(written) == value


@PROPS
@given(RISKY_TEXT)
def test_property_csv_escaping_leaves_no_formula_and_round_trips(value):
    written = csv_safe(value)
    assert_no_formula_anywhere(written)
    assert unescape_csv_safe(written) == value


@PROPS
@given(st.lists(TYPED_TEXT.map(str.strip).filter(bool), min_size=1, max_size=4))
def test_property_a_csv_report_reuploads_with_the_values_as_typed(names):
    failed = [
        {
            "row": i + 2,
            "firstname": name,
            "lastname": "Lee",
            "email": f"p{i}@example.com",
            "countryprefix": "+44",
            "phone": "",
            "code": "INVALID_PHONE_NUMBER",
            "message": name,
        }
        for i, name in enumerate(names)
    ]
    report = report_csv(failed)
    for line in list(csv.reader(io.StringIO(report.decode("utf-8-sig"))))[1:]:
        for cell in line:
            assert_no_formula_anywhere(cell)
    rows = parse_file(report, "failed-rows.csv").frame.to_dicts()
    assert [r["firstname"] for r in rows] == names


@PROPS
@given(st.lists(TYPED_TEXT, min_size=1, max_size=4))
def test_property_xlsx_report_cells_are_always_strings(names):
    failed = [
        {
            "row": i + 2,
            "firstname": name,
            "lastname": "=1+1",
            "email": f"p{i}@example.com",
            "countryprefix": "+44",
            "phone": "-1",
            "code": "INVALID_PHONE_NUMBER",
            "message": f"x;{name}",
        }
        for i, name in enumerate(names)
    ]
    sheet = openpyxl.load_workbook(io.BytesIO(report_xlsx(failed))).active
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.value is None or cell.data_type == "s", (cell.coordinate, cell.value)
    assert [sheet.cell(r, 1).value or "" for r in range(2, 2 + len(names))] == names
