"""Fuzzing the reader and the validator (Hypothesis), sized for CI: ~3,000 cases, under a minute.

- arbitrary bytes, and bytes that start like each format, into parse_file (the whole intake);
- structured-but-broken CSV (hostile alphabet, odd titles, random line ends and encodings,
  then truncated or with bytes flipped) into parse_file;
- structured-but-broken XLSX (hand-written sheet XML with random cell references, types and
  text; or a real workbook truncated / flipped) into parse_file: these start the sandboxed
  calamine child, so there are fewer of them;
- arbitrary rows into validate_rows.

The promise checked: a ParsedFile with the template's columns, or a FileProblem with a
file-level code and a sentence; never another exception, never the reader's last-resort
handler (logged at ERROR), and every validated row either valid or with coded, worded errors.
"""

from __future__ import annotations

import codecs
import io
import logging
import re
import zipfile

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulk_upload_app.errors import FILE_LEVEL, ErrorCode, FileProblem
from bulk_upload_app.files import reading
from bulk_upload_app.files.intake import parse_file, validate_file
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.files.schema import COLUMN_NAMES
from bulk_upload_app.files.validation import validate_rows
from tests.support.factories import istr, raw_xlsx, xlsx

LIMITS = ReadLimits(max_bytes=20_000, max_rows=200, max_columns=40, max_cell_chars=300)
CI = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
COUNTS = {"bytes": 1500, "csv": 1000, "xlsx": 250, "rows": 450}  # 3,200 cases in all
ROW_CODES = {c for c in ErrorCode if c not in FILE_LEVEL}


class _Trap(logging.Handler):
    """Fails the case if the reader logs an unexpected exception (its last-resort handler)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def outcome(data: bytes, name: str) -> None:
    trap = _Trap()
    logger = logging.getLogger(reading.__name__)
    logger.addHandler(trap)
    try:
        parsed = parse_file(data, name, LIMITS)
    except FileProblem as problem:
        assert problem.code in FILE_LEVEL, problem.code
        # every placeholder filled (a title from the file may itself hold braces)
        assert problem.message and not re.search(r"\{[a-z_]+\}", problem.message)
        assert not trap.records, f"last-resort handler: {trap.records[0].getMessage()}"
        return
    finally:
        logger.removeHandler(trap)
    assert not trap.records, f"last-resort handler: {trap.records[0].getMessage()}"
    assert parsed.frame.columns == ["row", *COLUMN_NAMES]
    assert parsed.frame.height >= 1 and parsed.frame.null_count().sum_horizontal().item() == 0
    assert all(len(v) <= LIMITS.max_cell_chars for c in COLUMN_NAMES for v in parsed.frame[c])
    check_validation(validate_file(parsed), parsed.frame)


def check_validation(validation, frame: pl.DataFrame) -> None:
    assert validation.rows == frame.height
    by_row = validation.errors_by_row()
    rows = set(frame["row"].to_list())
    for error in validation.errors:
        assert error.row in rows
        assert error.code in ROW_CODES
        assert error.column in (None, *COLUMN_NAMES)
        assert isinstance(error.message, str) and error.message.strip()
    for row, valid in validation.frame.select("row", "is_valid").iter_rows():
        assert valid == (row not in by_row), (row, by_row.get(row))


NAMES = st.sampled_from(
    [
        "users.csv",
        "users.xlsx",
        "users.xls",
        "users.ods",
        "users.tsv",
        "users.txt",
        "users",
        "",
        "../../etc/passwd",
        "users.csv\x00.exe",
        "ünïcode .CSV",
    ]
)
SEEDS = [
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    codecs.BOM_UTF8,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
    codecs.BOM_UTF32_LE,
    b"sep=;\n",
    b'sep="\n',
    b"firstname,lastname,email,countryprefix\n",
    b"<?xml",
    b"<html",
    b"{",
    b"[",
    b"\x00",
    b"%PDF",
    b"\x1f\x8b",
]


@settings(max_examples=COUNTS["bytes"], **CI)
@given(
    data=st.one_of(
        st.binary(max_size=4000), st.builds(lambda s, t: s + t, st.sampled_from(SEEDS), st.binary(max_size=3000))
    ),
    name=NAMES,
)
def test_fuzz_arbitrary_bytes(data, name):
    outcome(data, name)


# ---------------------------------------------------------------- structured, broken CSV

HOSTILE_CHARS = list(",;\t|\"'\r\n \u00a0\u3000\ufeff\u200b\u202e\x00\x01\x1b\x7f=+-@é漢\U0001f600\\")
CELL = st.text(
    alphabet=st.one_of(st.sampled_from(HOSTILE_CHARS), st.characters(codec="utf-8", exclude_categories=("Cs",))),
    max_size=30,
)
TITLE = st.one_of(
    st.sampled_from([*COLUMN_NAMES, "E-mail", "First Name", "surname", "mobile", "", " ", "email", "Email "]), CELL
)


@st.composite
def broken_csv(draw):
    width = draw(st.integers(1, 8))
    titles = draw(st.lists(TITLE, min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(CELL, min_size=0, max_size=width + 3), max_size=12))
    delim = draw(st.sampled_from([",", ";", "\t", "|"]))
    quote_all = draw(st.booleans())

    def fmt(value: str) -> str:
        if quote_all or any(ch in value for ch in f'{delim}"\r\n'):
            if draw(st.booleans()):  # sometimes leave the quote unbalanced
                return '"' + value.replace('"', '""') + '"'
            return '"' + value
        return value

    ends = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=len(rows) + 1, max_size=len(rows) + 1))
    text = delim.join(map(fmt, titles)) + ends[0] + "".join(delim.join(map(fmt, r)) + e for r, e in zip(rows, ends[1:]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1252"]))
    data = text.encode(encoding, errors="replace" if encoding == "cp1252" else "surrogatepass")
    damage = draw(st.sampled_from(["none", "truncate", "flip", "insert"]))
    if damage == "truncate" and data:
        data = data[: draw(st.integers(0, len(data)))]
    elif damage == "flip" and data:
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]
    elif damage == "insert":
        i = draw(st.integers(0, len(data)))
        data = data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:]
    return data


@settings(max_examples=COUNTS["csv"], **CI)
@given(data=broken_csv(), name=st.sampled_from(["users.csv", "users.tsv", "users.txt", "users.xlsx"]))
def test_fuzz_structured_broken_csv(data, name):
    outcome(data, name)


# ---------------------------------------------------------------- structured, broken XLSX

REF = st.one_of(
    st.builds(
        lambda c, r: f"{c}{r}",
        st.sampled_from(["A", "B", "C", "D", "E", "Z", "AA", "GR", "XFD", "XFE", "ZZZZ", "a", ""]),
        st.sampled_from(["1", "2", "3", "0", "1048576", "1048577", "99999999999999999999", ""]),
    ),
    st.text(alphabet="AZaz09-$!:", max_size=6),
)
XML_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20).map(
    lambda t: t.replace("&", "&amp;").replace("<", "&lt;")
)


@st.composite
def xlsx_cell(draw):
    ref = draw(st.one_of(st.none(), REF))
    r = "" if ref is None else f' r="{ref}"'
    kind = draw(st.sampled_from(["inline", "number", "bool", "error", "shared", "empty", "formula", "junk"]))
    if kind == "inline":
        return f'<c{r} t="inlineStr"><is><t>{draw(XML_TEXT)}</t></is></c>'.encode()
    if kind == "number":
        return (
            f"<c{r}><v>{draw(st.sampled_from(['1', '-0', '1e308', '1e309', 'NaN', '4.5', 'x', '']))}</v></c>".encode()
        )
    if kind == "bool":
        return f'<c{r} t="b"><v>{draw(st.sampled_from(["0", "1", "2", "true"]))}</v></c>'.encode()
    if kind == "error":
        return f'<c{r} t="e"><v>#DIV/0!</v></c>'.encode()
    if kind == "shared":
        return f'<c{r} t="s"><v>{draw(st.sampled_from(["0", "5", "-1", "4294967296"]))}</v></c>'.encode()
    if kind == "formula":
        return f"<c{r}><f>{draw(XML_TEXT)}</f><v>1</v></c>".encode()
    if kind == "junk":
        return draw(
            st.sampled_from(
                [
                    b"<c",
                    b"</row>",
                    b"<row>",
                    b"<c r='A1'/>",
                    b"<x:c r='B2'><x:v>1</x:v></x:c>",
                    b"&bogus;",
                    b"<![CDATA[x]]>",
                ]
            )
        )
    return f"<c{r}/>".encode()


# Built once: xlsxwriter stamps the time into the file, and Hypothesis needs every draw to
# depend only on its own choices (else FlakyStrategyDefinition when the second ticks over).
_REAL_BOOK = xlsx([list(COLUMN_NAMES), ["Ann", "Lee", "ann@example.com", "+44", ""]])


@st.composite
def broken_xlsx(draw):
    if draw(st.integers(0, 3)) == 0:  # a real workbook, damaged
        book = _REAL_BOOK
        cut = draw(st.integers(0, len(book)))
        flips = draw(st.dictionaries(st.integers(0, len(book) - 1), st.integers(1, 255), max_size=4))
        return bytes(b ^ flips.get(i, 0) for i, b in enumerate(book))[: cut or len(book)]
    header = b'<row r="1">' + b"".join(istr(f"{c}1", t) for c, t in zip("ABCDE", COLUMN_NAMES)) + b"</row>"
    rows = draw(st.lists(st.lists(xlsx_cell(), max_size=6), max_size=6))
    body = b"".join(b"<row>" + b"".join(cells) + b"</row>" for cells in rows)
    return raw_xlsx(header + body)


@settings(max_examples=COUNTS["xlsx"], **CI)
@given(data=broken_xlsx(), name=st.sampled_from(["users.xlsx", "users.csv", "users.ods"]))
def test_fuzz_structured_broken_xlsx(data, name):
    outcome(data, name)


def test_fuzz_zip_roundtrip_sanity():
    """The XLSX fuzzer's base files are real workbooks (else it would only fuzz the zip layer)."""
    with zipfile.ZipFile(io.BytesIO(raw_xlsx(istr("A1", "x")))) as zf:
        assert "xl/worksheets/sheet1.xml" in zf.namelist()
    parsed = parse_file(
        raw_xlsx(
            b'<row r="1">'
            + b"".join(istr(f"{c}1", t) for c, t in zip("ABCD", COLUMN_NAMES))
            + b'</row><row r="2">'
            + istr("A2", "Ann")
            + istr("C2", "a@example.com")
            + b"</row>"
        ),
        "u.xlsx",
    )
    assert parsed.frame["firstname"].to_list() == ["Ann"]


# ---------------------------------------------------------------- the validator

VALUE = st.one_of(
    CELL,
    st.emails().map(str),
    st.sampled_from(
        [
            "",
            " ",
            "+1",
            "+44",
            "0044",
            "44",
            "+999",
            "+0",
            "+",
            "1" * 7,
            "+44 ",
            "ann@example.com",
            "ANN@EXAMPLE.COM",
            "a@b",
            "a@@b.com",
            '"quoted"@example.com',
            "ann@xn--80ak6aa92e.com",
            "07911 123456",
            "+447911123456",
            "0" * 41,
            "x" * 101,
            "x" * 300,
            "=1+1",
            "@SUM(1)",
        ]
    ),
    st.from_regex(r"\+?[0-9 ()\-]{0,20}", fullmatch=True),
)


@settings(max_examples=COUNTS["rows"], **CI)
@given(
    rows=st.lists(st.tuples(*[VALUE] * len(COLUMN_NAMES)), min_size=1, max_size=15),
    extra=st.dictionaries(st.integers(2, 20), st.integers(6, 50), max_size=3),
)
def test_fuzz_validate_rows(rows, extra):
    frame = pl.DataFrame(
        {"row": list(range(2, len(rows) + 2)), **{c: [r[i] for r in rows] for i, c in enumerate(COLUMN_NAMES)}},
        schema={"row": pl.Int64, **{c: pl.String for c in COLUMN_NAMES}},
    )
    extra = {r: n for r, n in extra.items() if r < len(rows) + 2}
    validation = validate_rows(frame, extra, len(COLUMN_NAMES))
    check_validation(validation, frame)
    by_row = validation.errors_by_row()
    for row in extra:
        assert any(e.code == ErrorCode.EXTRA_VALUES_IN_ROW for e in by_row[row])
    for row, valid in validation.frame.select("row", "is_valid").iter_rows():
        values = dict(zip(COLUMN_NAMES, rows[row - 2]))
        if any(values[c] == "" for c in ("firstname", "lastname", "email", "countryprefix")):
            assert not valid, values
