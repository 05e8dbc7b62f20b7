"""Unit and property tests for the upload reader (bulk_upload_app/files/reading/).

Every file here is built by the test: CSV as bytes, xlsx with xlsxwriter, and hand-made zips
for ODS and for the hostile cases (bombs, lying headers) that no writer would produce.
"""

from __future__ import annotations

import ast
import codecs
import csv
import datetime as dt
import io
import logging
import random
import struct
import subprocess
import sys

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.files import reading
from bulk_upload_app.files.reading import (
    RawTable,
    ReadLimits,
    calamine,
    calamine_worker,
    delimited,
    limits,
    read_table,
    reader,
)
from tests.support.factories import (
    TWO_USERS_TABLE,
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

TEMPLATE = ["firstname", "lastname", "email", "countryprefix", "phone"]


def is_template(cells: list[str]) -> bool:
    return {"firstname", "email"} <= {c.lower() for c in cells}


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def read(data: bytes, name: str = "users.csv", **kw) -> RawTable:
    return read_table(data, name, **kw)


def refused(data: bytes, name: str = "users.csv", code: ErrorCode | None = None, **kw) -> FileProblem:
    with pytest.raises(FileProblem) as info:
        read_table(data, name, **kw)
    if code is not None:
        assert info.value.code == code, info.value.message
    return info.value


def values(table: RawTable) -> list[list[str]]:
    return [list(r[:-1]) for r in table.data.rows()]


def rownums(table: RawTable) -> list[int]:
    return table.data["row"].to_list()


def csv_bytes(rows, delimiter=",", encoding="utf-8", lineterminator="\r\n") -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator=lineterminator).writerows(rows)
    return out.getvalue().encode(encoding)


USERS = TWO_USERS_TABLE


# ---------------------------------------------------------------------------------------------
# the shape of a RawTable
# ---------------------------------------------------------------------------------------------


def test_shape_of_a_table():
    t = read(csv_bytes(USERS))
    assert t.header == TEMPLATE and t.header_row == 1
    assert t.data.columns == ["c0", "c1", "c2", "c3", "c4", "row"]
    assert t.data.schema == pl.Schema({**{f"c{i}": pl.String for i in range(5)}, "row": pl.Int64})
    assert values(t) == USERS[1:] and rownums(t) == [2, 3]
    assert (t.file_format, t.sheet_name, t.encoding, t.delimiter, t.extra_values, t.notices) == (
        "csv",
        None,
        "utf-8",
        ",",
        {},
        [],
    )


def test_default_limits_are_the_documented_ones():
    assert ReadLimits() == ReadLimits(100 * 1024 * 1024, 1_000_000, 200, 2_000, 512 * 1024 * 1024, 2_000, 200)


def test_whitespace_constant_is_pythons():
    assert "".join(c for c in map(chr, range(0x110000)) if c.isspace()) == limits._WS


# ---------------------------------------------------------------------------------------------
# formats and detection
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "delimiter, name", [(",", "comma"), (";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")]
)
def test_delimiter_detected(delimiter, name):
    t = read(csv_bytes(USERS, delimiter=delimiter))
    assert t.delimiter == delimiter and values(t) == USERS[1:]
    assert t.file_format == ("tsv" if delimiter == "\t" else "csv")
    if delimiter != ",":
        assert any(name in n for n in t.notices)


def test_semicolon_file_with_decimal_commas():
    t = read(b"name;amount;rate\nAnn;1,5;2,75\nBo;10,25;3,5\n")
    assert t.delimiter == ";" and values(t) == [["Ann", "1,5", "2,75"], ["Bo", "10,25", "3,5"]]


@pytest.mark.parametrize("name", ["users.tsv", "users.txt", "USERS.TXT"])
def test_tab_separated_text_files(name):
    t = read(csv_bytes(USERS, delimiter="\t"), name)
    assert t.delimiter == "\t" and t.file_format == "tsv" and values(t) == USERS[1:]
    assert t.notices == []


def test_excel_sep_line_is_honoured():
    data = b"sep=|\r\nfirstname|email|note\r\nAnn|ann@example.com|a,b;c\r\n"
    t = read(data)
    assert t.delimiter == "|" and t.header == ["firstname", "email", "note"]
    assert values(t) == [["Ann", "ann@example.com", "a,b;c"]]
    assert t.header_row == 1 and rownums(t) == [2]  # Excel hides the sep= line


def test_xlsx_named_csv_is_read_as_xlsx():
    t = read(xlsx(USERS), "users.csv")
    assert t.file_format == "xlsx" and values(t) == USERS[1:]
    assert any("is an Excel workbook" in n for n in t.notices)


def test_csv_named_xls_is_read_as_text_but_prose_is_refused():
    t = read(csv_bytes(USERS), "export.xls")
    assert t.file_format == "csv" and values(t) == USERS[1:]
    assert any('named "export.xls"' in n for n in t.notices)
    p = refused(b"Attachment Summer trading shots.xls not found!\r\n", "shots.xls", ErrorCode.UNSUPPORTED_FILE)
    assert "not a spreadsheet" in p.details["reason"]


def fake_cfb(*streams: str) -> bytes:
    """A compound-file header and directory entries with these names (enough for detection)."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    entries = b""
    for name in ("Root Entry",) + streams:
        raw = name.encode("utf-16-le") + b"\0\0"
        entries += raw.ljust(64, b"\0") + struct.pack("<H", len(raw)) + bytes(62)
    return header + entries.ljust(512, b"\0")


def test_password_protected_ooxml_is_recognised():
    p = refused(fake_cfb("EncryptionInfo", "EncryptedPackage"), "users.xlsx", ErrorCode.UNSUPPORTED_FILE)
    assert p.details["reason"] == "the workbook is password-protected"
    assert "password-protected" in p.message


def test_other_ole_files_are_refused_with_a_reason():
    assert "Word document" in refused(fake_cfb("WordDocument"), "users.doc").details["reason"]
    assert refused(fake_cfb("Workbook"), "users.xls", ErrorCode.UNSUPPORTED_FILE).details["reason"]


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"%PDF-1.7\n" + bytes(range(256)) * 4, "PDF"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "image"),
        (b"\x1f\x8b\x08\x00" + bytes(50), "gzip"),
        (make_zip({"readme.txt": b"hello"}), "ZIP archive"),
        (make_zip({"[Content_Types].xml": b"<x/>", "word/document.xml": b"<x/>"}), "Word document"),
        (make_zip({"[Content_Types].xml": b"<x/>", "xl/workbook.bin": b"\0"}), ".xlsb"),
        (xlsx(USERS)[:2000], "damaged"),
        (b"PK\x03\x04" + bytes(200), "damaged"),
        (b"<!DOCTYPE html><html><body><table><tr><td>a</td></tr></table></body></html>", "web page"),
        (
            b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"></Workbook>',
            "Excel 2003 XML",
        ),
        (b'[{"firstname": "Ann"}]', "JSON"),
        (bytes(range(1, 32)) * 40, "binary data"),
    ],
)
def test_not_a_table_is_refused_with_a_reason(data, fragment):
    p = refused(data, "users.xlsx", ErrorCode.UNSUPPORTED_FILE)
    assert fragment in p.details["reason"]
    assert p.message.startswith("We can't read this file: ")


def test_random_bytes_are_refused():
    # (A handful of random bytes can be valid Windows-1252 text; from ~100 bytes on they never are.)
    rng = random.Random(20240501)
    for size in (100, 5_000, 100_000):
        refused(bytes(rng.getrandbits(8) for _ in range(size)), "users.csv", ErrorCode.UNSUPPORTED_FILE)


# ---------------------------------------------------------------------------------------------
# text encodings
# ---------------------------------------------------------------------------------------------

NAMES = [["firstname", "lastname"], ["José", "Muñoz"], ["Zoë", "Brontë"], ["Ævar", "Þórsson"]]


@pytest.mark.parametrize(
    "encoding, label",
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),
        ("utf-16-le+bom", "utf-16"),
        ("utf-16-be+bom", "utf-16"),
    ],
)
def test_unicode_encodings(encoding, label):
    text = csv_bytes(NAMES + [["王", "小明"], ["Ольга", "😀"]], encoding="utf-8").decode()
    if encoding.endswith("+bom"):
        codec = encoding[:-4]
        data = (codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE) + text.encode(codec)
    else:
        data = text.encode(encoding)
    t = read(data)
    assert t.encoding == label and t.header == ["firstname", "lastname"]
    assert values(t)[-1] == ["Ольга", "😀"]
    assert not any("\ufeff" in v or "\0" in v for row in values(t) for v in row)


def test_excel_unicode_text_export():
    """Excel's "Unicode Text": UTF-16LE with BOM, tab-delimited."""
    data = codecs.BOM_UTF16_LE + "firstname\temail\r\nAnn\tann@example.com\r\n".encode("utf-16-le")
    t = read(data, "users.txt")
    assert (t.encoding, t.delimiter, values(t)) == ("utf-16", "\t", [["Ann", "ann@example.com"]])


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_decoded_not_nul_riddled(codec):
    t = read(csv_bytes(NAMES, encoding=codec))
    assert t.encoding == codec and values(t) == NAMES[1:]
    assert any("UTF-16" in n for n in t.notices)


def test_nul_byte_is_refused():
    p = refused(b"firstname,email\nAnn,\x00\n", code=ErrorCode.UNSUPPORTED_FILE)
    assert "NUL" in p.details["reason"]
    refused(codecs.BOM_UTF16_LE + "a,b\n1,\0\n".encode("utf-16-le"), code=ErrorCode.UNSUPPORTED_FILE)


def test_invalid_utf8_after_a_utf8_bom_is_refused_with_position():
    p = refused(codecs.BOM_UTF8 + b"firstname\nJos\xe9\n", code=ErrorCode.UNSUPPORTED_FILE)
    assert "0xE9 at position 16" in p.details["reason"]


WESTERN = {
    "French": "prénom;nom\nÉlodie;Lefèvre\nFrançois;Dupré\nAnaïs;Bœuf\nJean–Pierre;L’Hôpital\n« Zoé »;Crème brûlée\n",
    "Spanish": "nombre,apellido\nJosé,Muñoz\nMaría,Núñez\nÁlvaro,Peña\n¿Qué?,¡Olé!\nNº 5,1ª\n",
    "German": "vorname,nachname\nJürgen,Größe\nÄnne,Müßig\nÖzil,Straße\n",
    "Portuguese": "nome,apelido\nJoão,Conceição\nInês,Gonçalves\nAções,Informações\n",
    "Nordic": "fornavn,efternavn\nSøren,Kierkegaard\nÅsa,Ærø\nÞóra,Guðmundsdóttir\n",
    "Catalan and symbols": "nom,preu\nCol·legi,€12\nCafé,£3·50\nO’Brien,“quoted” 25°\n",
}


@pytest.mark.parametrize("language", WESTERN)
def test_windows_1252_western_text_is_accepted(language):
    text = WESTERN[language]
    t = read(text.encode("cp1252"))
    assert t.encoding == "cp1252"
    assert "The file is encoded as Windows-1252; it was converted." in t.notices
    expected = [line.split(t.delimiter) for line in text.strip().split("\n")]
    assert [t.header] + values(t) == expected


FOREIGN = [
    ("Greek", "iso-8859-7", "όνομα,επώνυμο\nΓιώργος,Παπαδόπουλος\nΜαρία,Νικολάου\n"),
    ("Greek", "cp1253", "όνομα,επώνυμο\nΓιώργος,Παπαδόπουλος\n"),
    ("Russian", "cp1251", "имя,фамилия\nИван,Петров\nМария,Иванова\n"),
    ("Russian", "koi8-r", "имя,фамилия\nИван,Петров\n"),
    ("Hebrew", "cp1255", "שם,משפחה\nדוד,כהן\n"),
    ("Arabic", "cp1256", "الاسم,العائلة\nمحمد,أحمد\n"),
    ("Chinese", "big5", "名字,姓氏\n小明,王\n美玲,陳\n"),
    ("Chinese", "gbk", "名字,姓氏\n小明,王\n"),
    ("Japanese", "shift_jis", "名前,苗字\n太郎,山田\n"),
    ("Japanese", "euc-jp", "名前,苗字\n太郎,山田\n"),
    ("Korean", "euc-kr", "이름,성\n민준,김\n"),
    ("Thai", "cp874", "ชื่อ,นามสกุล\nสมชาย,ใจดี\n"),
    ("Spanish (Mac Roman)", "mac_roman", "nombre,apellido\nJosé,Muñoz\nMaría,Núñez\n"),
    ("French (Mac Roman)", "mac_roman", "prénom,nom\nÉlodie,Lefèvre\n"),
    ("German (Mac Roman)", "mac_roman", "vorname,nachname\nJürgen,Müller\nÄnne,Schön\n"),
    ("Polish", "cp1250", "imię,nazwisko\nZażółć,Gęślą\nŁukasz,Jaźń\n"),
]


@pytest.mark.parametrize("language, codec, text", FOREIGN, ids=[f"{a}-{b}" for a, b, _ in FOREIGN])
def test_other_encodings_are_refused_never_mojibake(language, codec, text):
    p = refused(text.encode(codec), code=ErrorCode.UNSUPPORTED_FILE)
    assert "text encoding isn't recognised" in p.details["reason"] and '"CSV UTF-8"' in p.details["reason"]


# ---------------------------------------------------------------------------------------------
# values are text, exactly
# ---------------------------------------------------------------------------------------------


def test_csv_values_are_never_converted():
    typed = [
        "007",
        "+447911123456",
        "1e5",
        "2021-01-01",
        "TRUE",
        "NULL",
        "=1+1",
        "00.10",
        "-0",
        "٣",
        "a\x07b",
        "tab\there",
    ]
    t = read(csv_bytes([[f"h{i}" for i in range(len(typed))], typed]))
    assert values(t) == [typed]


def test_xlsx_values_are_rendered_like_excel():
    row = [
        "007",
        "+44",
        447911123456.0,
        68.66499999999999,
        0.1 + 0.2,
        1e20,
        1.5e-7,
        -0.0,
        40.0,
        0.52,
        12345678901234567890.0,
        True,
        False,
        dt.date(2021, 1, 1),
        dt.datetime(2021, 1, 1, 10, 10, 10),
        ("=1/0", "#DIV/0!"),
        ("=NA()", "#N/A"),
        ("=2+2", 4),
        ('="x"&"y"', "xy"),
        "-8086931554011838357",
        "ABC\r\nDEF",
        "lit _x0041_ kept",
        "=SUM(A1)",
    ]
    t = read(xlsx([[f"h{i}" for i in range(len(row))], row]), "users.xlsx")
    assert values(t) == [
        [
            "007",
            "+44",
            "447911123456",
            "68.665",
            "0.3",
            "100000000000000000000",
            "0.00000015",
            "0",
            "40",
            "0.52",
            "12345678901234600000",
            "TRUE",
            "FALSE",
            "2021-01-01",
            "2021-01-01 10:10:10",
            "#DIV/0!",
            "#N/A",
            "4",
            "xy",
            "-8086931554011838357",
            "ABC\r\nDEF",
            "lit _x0041_ kept",
            "=SUM(A1)",
        ]
    ]


@pytest.mark.parametrize(
    "value, text",
    [
        (447911123456.0, "447911123456"),
        (4.47911123456e11, "447911123456"),
        (68.66499999999999, "68.665"),
        (274.65999999999997, "274.66"),
        (41800000.01, "41800000.01"),
        (1.0, "1"),
        (-3.0, "-3"),
        (-0.0, "0"),
        (0.1, "0.1"),
        (1 / 3, "0.333333333333333"),
        (123456789012345.6, "123456789012346"),
        (1e15, "1000000000000000"),
        (1e-5, "0.00001"),
        (2.5e-10, "0.00000000025"),
        (-1.5e300, "-15" + "0" * 299),
    ],
)
def test_float_rendering(value, text):
    assert calamine_worker._fmt_float(value) == text


def test_other_cell_types():
    assert calamine_worker._cell_text(dt.timedelta(days=10, seconds=54610)) == "255:10:10"
    assert calamine_worker._cell_text(dt.time(10, 10, 10, 123456)) == "10:10:10.123456"
    assert calamine_worker._cell_text(dt.datetime(2021, 1, 1)) == "2021-01-01"
    assert calamine_worker._cell_text(7) == "7" and calamine_worker._cell_text(True) == "TRUE"


# ---------------------------------------------------------------------------------------------
# rows, blanks, trimming, line endings
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("quoted", [False, True], ids=["fast path", "csv module"])
def test_blank_rows_are_skipped_but_counted(quoted):
    q = '"' if quoted else ""
    data = f"\n\nfirstname,email\n\n{q}Ann{q},a@x\n   \n,,\n , \t,\nBo,b@x\n\n".encode()
    t = read(data)
    assert t.header_row == 3 and values(t) == [["Ann", "a@x"], ["Bo", "b@x"]]
    assert rownums(t) == [5, 9]


@pytest.mark.parametrize("quoted", [False, True], ids=["fast path", "csv module"])
def test_values_are_trimmed(quoted):
    q = '"' if quoted else ""
    data = f"firstname , email\r\n{q}  Ann \u00a0{q},\tann@x \r\n".encode()
    t = read(data)
    assert t.header == ["firstname", "email"] and values(t) == [["Ann", "ann@x"]]


def test_stray_carriage_returns_are_trimmed_inner_line_breaks_kept():
    t = read(b'firstname,note\r\n"Ann\r","two\nlines"\r\n')
    assert values(t) == [["Ann", "two\nlines"]]


@pytest.mark.parametrize("newline", ["\r", "\n", "\r\n"], ids=["CR (classic Mac)", "LF", "CRLF"])
def test_line_endings(newline):
    t = read(newline.join(["firstname,email", "Ann,a@x", "", "Bo,b@x"]).encode())
    assert values(t) == [["Ann", "a@x"], ["Bo", "b@x"]] and rownums(t) == [2, 4]


def test_mixed_line_endings():
    t = read(b"firstname,email\r\nAnn,a@x\rBo,b@x\nCy,c@x\r\n")
    assert values(t) == [["Ann", "a@x"], ["Bo", "b@x"], ["Cy", "c@x"]] and rownums(t) == [2, 3, 4]


def test_quoted_fields_with_newlines_keep_spreadsheet_row_numbers():
    t = read(b'firstname,address\n"Ann","1 High St\nLondon"\n"Bo","x"\n')
    assert values(t) == [["Ann", "1 High St\nLondon"], ["Bo", "x"]]
    assert rownums(t) == [2, 3]  # one record = one spreadsheet row, as Excel shows it


def test_short_rows_are_padded_long_rows_reported():
    t = read(b"a,b,c\n1\n1,2,3,4\n1,2,3,,,\n1,,,,,x\n")
    assert values(t) == [["1", "", ""], ["1", "2", "3"], ["1", "2", "3"], ["1", "", ""]]
    assert t.extra_values == {3: 4, 5: 6}  # trailing empty cells are fine


def test_header_cells_whitespace_collapsed():
    t = read('"\ufefffirst\t name ", " e\nmail",\u200bphone\nA,b,c\n'.encode())
    assert t.header == ["first name", "e mail", "phone"]


def test_trailing_blank_titles_dropped_inner_blank_titles_kept():
    t = read(b"a,,c,,\n1,2,3,,\n")
    assert t.header == ["a", "", "c"] and values(t) == [["1", "2", "3"]]


def test_leading_empty_columns_are_not_blank_titles():
    t = read(b",,firstname,email\n,,Ann,a@x\n")
    assert t.header == ["firstname", "email"] and values(t) == [["Ann", "a@x"]]
    book = xlsx([[], [], [], [None, "firstname", "email"], [None, "Ann", "a@x"]])
    t = read(book, "users.xlsx")
    assert (t.header, t.header_row, values(t), rownums(t)) == (["firstname", "email"], 4, [["Ann", "a@x"]], [5])


def test_header_found_by_is_header_below_title_rows():
    data = csv_bytes([["Company users export"], ["generated today"], [], TEMPLATE, USERS[1]])
    t = read(data, is_header=is_template)
    assert t.header_row == 4 and t.header == TEMPLATE and rownums(t) == [5]
    assert "Rows 1–2 above the column titles were ignored." in t.notices
    # Without is_header the first non-blank row is the header.
    assert read(data).header == ["Company users export"]


def test_header_search_is_limited_to_30_rows():
    title_rows = [[f"note {i}"] for i in range(30)]
    t = read(csv_bytes(title_rows + [TEMPLATE, USERS[1]]), is_header=is_template)
    assert t.header == ["note 0"] and t.header_row == 1  # not found: the first non-blank row
    t = read(csv_bytes(title_rows[:29] + [TEMPLATE, USERS[1]]), is_header=is_template)
    assert t.header == TEMPLATE and t.header_row == 30


def test_is_header_errors_are_the_callers():
    def broken(cells):
        raise ZeroDivisionError("bug in the mapping module")

    with pytest.raises(ZeroDivisionError):
        read(csv_bytes(USERS), is_header=broken)


# ---------------------------------------------------------------------------------------------
# workbooks: sheets and row numbers
# ---------------------------------------------------------------------------------------------


def test_sheet_choice():
    book = xlsx(
        {
            "Notes": [["How to fill this in"], ["Ask IT"]],
            "Old": [TEMPLATE, USERS[2]],
            "Users": [TEMPLATE, USERS[1]],
            "Empty": None,
        },
        hidden=("Old",),
    )
    t = read(book, "u.xlsx", is_header=is_template)
    assert t.sheet_name == "Users" and values(t) == [USERS[1]]  # the hidden sheet is never chosen
    assert t.notices == ['Read the sheet "Users" (the first sheet with the template\'s column titles).']
    t = read(book, "u.xlsx")
    assert t.sheet_name == "Notes"
    assert t.notices == ['Read the sheet "Notes" (the first sheet with data).']
    t = read(xlsx({"Empty": None, "Notes": [["a", "b"], ["1", "2"]]}), "u.xlsx", is_header=is_template)
    assert t.sheet_name == "Notes" and "no sheet has the template's column titles" in t.notices[0]


def test_single_sheet_has_no_sheet_notice():
    assert read(xlsx(USERS), "u.xlsx").notices == []


def test_hidden_data_only_is_an_empty_file():
    book = xlsx({"Front": None, "Data": USERS}, hidden=("Data",))
    refused(book, "u.xlsx", ErrorCode.EMPTY_FILE, is_header=is_template)


def test_xlsx_row_numbers_are_excels():
    rows = [[], ["Users"], [], TEMPLATE, USERS[1], [], [None, None, None, None, None], USERS[2]]
    t = read(xlsx(rows), "u.xlsx", is_header=is_template)
    assert t.header_row == 4 and rownums(t) == [5, 8] and values(t) == USERS[1:]


def test_ods_is_read():
    t = read(
        ods(
            ods_row("firstname", "email") + ods_row("", "") + ods_row("Ann", "a@x", "") + ods_row("Bo", "b@x", repeat=2)
        ),
        "u.ods",
    )
    assert (
        t.file_format == "ods"
        and values(t) == [["Ann", "a@x"], ["Bo", "b@x"], ["Bo", "b@x"]]
        and rownums(t) == [3, 4, 5]
    )


# ---------------------------------------------------------------------------------------------
# emptiness
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n",
        b"\r\n\r\n  \t \n",
        b",,,\n, ,\n",
        codecs.BOM_UTF8,
        codecs.BOM_UTF8 + b"\n",
        codecs.BOM_UTF16_LE + " \n".encode("utf-16-le"),
    ],
)
def test_empty_text_files(data):
    p = refused(data, code=ErrorCode.EMPTY_FILE)
    assert p.details == {}


def test_empty_workbook():
    refused(xlsx({"A": None, "B": [[None, ""]]}), "u.xlsx", ErrorCode.EMPTY_FILE)


@pytest.mark.parametrize(
    "data, name", [(b"firstname,email\n", "u.csv"), (b"firstname,email\n\n,\n", "u.csv"), (xlsx([TEMPLATE]), "u.xlsx")]
)
def test_header_without_users(data, name):
    p = refused(data, name, ErrorCode.NO_DATA_ROWS)
    assert p.details == {}


# ---------------------------------------------------------------------------------------------
# limits
# ---------------------------------------------------------------------------------------------


def test_size_is_checked_before_anything():
    p = refused(b"\xff" * 101, code=ErrorCode.FILE_TOO_LARGE, limits=ReadLimits(max_bytes=100))
    assert p.details["reason"] == "it is 101 bytes; the limit is 100 bytes"
    p = refused(bytes(110 * 1024 * 1024), code=ErrorCode.FILE_TOO_LARGE)
    assert p.details["reason"] == "it is 110 MB; the limit is 100 MB"
    assert p.message.startswith("This file is too large: it is 110 MB; the limit is 100 MB.")


@pytest.mark.parametrize("quoted", [False, True], ids=["fast path", "csv module"])
def test_row_limit(quoted):
    q = '"' if quoted else ""
    limits = ReadLimits(max_rows=10)
    rows = "".join(f"{q}u{i}{q},u{i}@x\n\n" for i in range(10))
    assert read(("firstname,email\n" + rows).encode(), limits=limits).data.height == 10
    p = refused(("firstname,email\n" + rows + "x,y\n").encode(), code=ErrorCode.FILE_TOO_LARGE, limits=limits)
    assert p.details["reason"] == "it has 11 rows; the limit is 10"


def test_row_limit_in_workbooks():
    book = xlsx([TEMPLATE] + [USERS[1]] * 11)
    assert read(book, "u.xlsx", limits=ReadLimits(max_rows=11)).data.height == 11
    refused(book, "u.xlsx", ErrorCode.FILE_TOO_LARGE, limits=ReadLimits(max_rows=10))


@pytest.mark.parametrize("quoted", [False, True], ids=["fast path", "csv module"])
def test_column_limit(quoted):
    q = '"' if quoted else ""
    ok = ",".join(f"{q}h{i}{q}" for i in range(200)) + "," * 500 + "\n" + ",".join("v" * 200) + "\n"
    assert len(read(ok.encode()).header) == 200
    wide = ",".join(f"h{i}" for i in range(201)) + "\n" + "1\n"
    p = refused(wide.encode(), code=ErrorCode.FILE_TOO_LARGE)
    assert p.details["reason"] == "it has 201 columns; the limit is 200"
    p = refused(f"a\n{q}1{q}".encode() + b"," * 300 + b"x\n", code=ErrorCode.FILE_TOO_LARGE)
    assert p.details["reason"] == "it has 301 columns; the limit is 200"


def test_cell_length_limit_names_the_cell():
    data = b"a,b,c\n" + b"x,y,z\n" * 5 + b"x,y," + b"w" * 2001 + b"\n"
    p = refused(data, code=ErrorCode.FILE_TOO_LARGE)
    assert p.details["reason"] == "cell C7 has 2,001 characters; a cell can hold at most 2,000"
    assert read(data.replace(b"w" * 2001, b"w" * 2000)).data.height == 6
    book = xlsx([["a", "b"], ["x", "y" * 32_767]])  # Excel's own cell limit
    p = refused(book, "u.xlsx", ErrorCode.FILE_TOO_LARGE)
    assert p.details["reason"] == "cell B2 has 32,767 characters; a cell can hold at most 2,000"


def test_unclosed_quote_becomes_one_huge_cell_not_a_crash():
    p = refused(b'a,b\n1,"oops\n' + b"more text\n" * 500, code=ErrorCode.FILE_TOO_LARGE)
    assert p.details["reason"].startswith("cell B2 has ")


def test_zip_entry_count_limit():
    book = make_zip({f"xl/f{i}.xml": b"<x/>" for i in range(30)})
    p = refused(book, "u.xlsx", ErrorCode.FILE_TOO_LARGE, limits=ReadLimits(max_zip_entries=20))
    assert p.details["reason"] == "the workbook contains 30 internal files; the limit is 20"


def test_zip_declared_size_limit():
    p = refused(xlsx(USERS), "u.xlsx", ErrorCode.FILE_TOO_LARGE, limits=ReadLimits(max_uncompressed_bytes=5_000))
    assert "when opened; the limit is" in p.details["reason"]


def test_zip_bomb_ratio_is_refused_before_inflating():
    bomb = make_zip(
        {
            "[Content_Types].xml": XLSX_CONTENT_TYPES,
            "xl/workbook.xml": XLSX_WORKBOOK,
            "xl/worksheets/sheet1.xml": b"<" + b"a" * 300_000_000,
        }
    )
    assert len(bomb) < 400_000
    p = refused(bomb, "u.xlsx", ErrorCode.FILE_TOO_LARGE)
    assert "fold when opened (the limit is 200-fold)" in p.details["reason"]


def patch_zip_size(data: bytes, name: bytes, new_size: int) -> bytes:
    """Make the headers of one entry claim another uncompressed size (as a hostile file would)."""
    out = bytearray(data)
    for sig, size_off, name_len_off, name_off in ((b"PK\x01\x02", 24, 28, 46), (b"PK\x03\x04", 22, 26, 30)):
        pos = out.find(sig)
        while pos != -1:
            n = struct.unpack_from("<H", out, pos + name_len_off)[0]
            if bytes(out[pos + name_off : pos + name_off + n]) == name:
                struct.pack_into("<I", out, pos + size_off, new_size)
            pos = out.find(sig, pos + 4)
    return bytes(out)


def test_zip_entry_larger_than_declared_is_refused():
    sheet = b"<sheetData>" + b"<row/>" * 2_000_000 + b"</sheetData>"
    book = make_zip(
        {
            "[Content_Types].xml": XLSX_CONTENT_TYPES,
            "_rels/.rels": XLSX_RELS,
            "xl/workbook.xml": XLSX_WORKBOOK,
            "xl/_rels/workbook.xml.rels": XLSX_WORKBOOK_RELS,
            "xl/worksheets/sheet1.xml": sheet,
        }
    )
    lying = patch_zip_size(book, b"xl/worksheets/sheet1.xml", 1000)
    p = refused(lying, "u.xlsx", ErrorCode.FILE_TOO_LARGE)
    assert "larger than it declares" in p.details["reason"]


def test_zip_with_bad_crc_is_damaged():
    book = bytearray(raw_xlsx(istr("A1", "a") + istr("A2", "b")))
    pos = book.find(b"PK\x01\x02")
    while pos != -1:  # corrupt every CRC in the central directory
        book[pos + 16] ^= 0xFF
        pos = book.find(b"PK\x01\x02", pos + 4)
    assert "damaged" in refused(bytes(book), "u.xlsx", ErrorCode.UNSUPPORTED_FILE).details["reason"]


# -- sheet-grid bombs: tiny files that would make calamine allocate gigabytes -------------------------


def test_hand_written_xlsx_reads():
    t = read(
        raw_xlsx(
            b'<row r="1">'
            + istr("A1", "firstname")
            + istr("B1", "email")
            + b'</row><row r="2">'
            + istr("A2", "Ann")
            + b"</row>"
        ),
        "u.xlsx",
    )
    assert values(t) == [["Ann", ""]]


@pytest.mark.parametrize(
    "sheet_data, fragment",
    [
        # two cells, far apart: a 1.5 KB file asking for a 1,048,576 x 16,384 grid (512 GB)
        (istr("A1", "x") + b'<c r="XFD1048576"><v>1</v></c>', "column XFD"),
        (istr("A1", "x") + b'<c r="GR500000"><v>1</v></c>', "spans 500,000 rows and 200 columns"),
        (istr("A1", "x") + b'<c r="Z1048576"><v>1</v></c>', "spans 1,048,576 rows and 26 columns"),
        (istr("A1", "x") + b'<c r="A2000000"><v>1</v></c>', "below row 1,048,576"),
        # the same, written in ways a quick scan could miss: other attribute order, quotes, no r
        (istr("A1", "x") + b"<c t='n' r='XFD1048576'><v>1</v></c>", "column XFD"),
        (istr("A1", "x") + b'<c s="1" r="Z1048576"><v>1</v></c>', "26 columns"),
        (b'<row r="1">' + b"<c><v>1</v></c>" * 300 + b'</row><row r="1048576"><c><v>1</v></c></row>', "columns"),
        (
            b'<x:row r="1"><x:c r="XFD1"><x:v>1</x:v></x:c></x:row><x:row r="900000"><x:c r="A900000"><x:v>1</x:v></x:c></x:row>',
            "column XFD",
        ),
    ],
)
def test_sparse_sheet_bombs_are_refused_before_parsing(sheet_data, fragment):
    p = refused(raw_xlsx(sheet_data), "u.xlsx", ErrorCode.FILE_TOO_LARGE)
    assert fragment in p.details["reason"]


def test_tall_narrow_and_styled_far_cells_are_fine():
    t = read(raw_xlsx(istr("A1", "firstname") + istr("A900000", "Ann") + b'<c r="XFD5" s="3"/>'), "u.xlsx")
    assert values(t) == [["Ann"]] and rownums(t) == [900000]


def test_entity_expansion_is_refused():
    laughs = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    with pytest.raises(FileProblem):
        read(raw_xlsx(b"<row><c t='inlineStr'><is><t>&b;</t></is></c></row>", prolog=laughs), "u.xlsx")


def test_ods_repeat_bombs_are_refused_before_parsing():
    cell = '<table:table-cell table:number-columns-repeated="{c}" office:value-type="string"><text:p>X</text:p></table:table-cell>'
    for rows, cols in ((999_999_999, 999_999_999), (20_000, 1_000), (1_000_000, 100), (3, 20_000)):
        table = f'<table:table-row table:number-rows-repeated="{rows}">{cell.format(c=cols)}</table:table-row>'
        refused(ods(table), "u.ods", ErrorCode.FILE_TOO_LARGE)


def test_ods_padding_rows_cost_nothing():
    """LibreOffice pads sheets with huge runs of empty rows and cells: they are not data."""
    pad = '<table:table-row table:number-rows-repeated="1048570"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
    body = ods_row("firstname", "email") + ods_row("Ann", "a@x") + pad
    t = read(
        ods(
            body.replace(
                "</table:table-row>", '<table:table-cell table:number-columns-repeated="1022"/></table:table-row>', 2
            )
        ),
        "u.ods",
    )
    assert values(t) == [["Ann", "a@x"]]


# -- files that crash python-calamine itself: it runs in a sandboxed child process -------------------


def test_count_bomb_that_aborts_calamine_is_contained():
    """uniqueCount="4000000000" makes calamine reserve 96 GB and abort(): only its child dies."""
    bomb = patched_xlsx("xl/sharedStrings.xml", b'uniqueCount="', b'uniqueCount="4000000000" x="')
    assert len(bomb) < 10_000
    p = refused(bomb, "u.xlsx", ErrorCode.FILE_TOO_LARGE)
    assert "more memory than an upload may use" in p.details["reason"]


def test_no_process_to_spawn_is_not_blamed_on_the_file(monkeypatch):
    def no_fork(*args, **kwargs):
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(calamine.subprocess, "Popen", no_fork)
    with pytest.raises(OSError):
        read(xlsx(USERS), "u.xlsx")


def test_worker_timeout_is_a_file_problem(monkeypatch):
    monkeypatch.setattr(calamine, "_WORKER_TIMEOUT", 0.001)
    p = refused(xlsx(USERS), "u.xlsx", ErrorCode.UNSUPPORTED_FILE)
    assert "too long to open" in p.details["reason"]


def test_worker_is_killed_when_the_parent_refuses_the_file(monkeypatch):
    started = []
    real = reader._Worker

    class Spy(real):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            started.append(self)

    monkeypatch.setattr(reader, "_Worker", Spy)
    refused(raw_xlsx(istr("A1", "x") + b'<c r="Z1048576"><v>1</v></c>'), "u.xlsx", ErrorCode.FILE_TOO_LARGE)
    assert len(started) == 1 and started[0].proc.poll() is not None


def test_the_calamine_child_imports_nothing_heavy_on_its_way():
    """`python -m` imports the package chain before the child's module: it must stay light (no polars)."""
    probe = (
        "import sys; before = set(sys.modules); "
        f"import {calamine._WORKER_MODULE}; "
        "print(sorted(set(sys.modules) - before))"
    )
    out = subprocess.run(
        [sys.executable, "-E", "-s", "-c", probe], cwd=calamine._CODE_ROOT, capture_output=True, text=True, check=True
    )
    imported = set(ast.literal_eval(out.stdout))
    assert "polars" not in imported
    assert {m for m in imported if m.startswith("bulk_upload_app")} == {
        "bulk_upload_app",
        "bulk_upload_app.files",
        "bulk_upload_app.files.reading",
        calamine._WORKER_MODULE,
    }


# ---------------------------------------------------------------------------------------------
# property tests
# ---------------------------------------------------------------------------------------------

TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
        st.sampled_from(list(" \t\n\r\"',;|\u00a0\u3000\ufeff")),
    ),
    max_size=25,
)
PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def expected_rows(rows: list[list[str]], first_row: int) -> tuple[list[list[str]], list[int]]:
    kept, numbers = [], []
    for i, row in enumerate(rows):
        stripped = [v.strip() for v in row]
        if any(stripped):
            kept.append(stripped)
            numbers.append(first_row + i)
    return kept, numbers


@PROPS
@given(
    rows=st.lists(st.lists(TEXT, min_size=3, max_size=3), min_size=1, max_size=8),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
    lineterminator=st.sampled_from(["\r\n", "\n", "\r"]),
)
def test_property_csv_round_trip(rows, delimiter, encoding, lineterminator):
    if lineterminator != "\r\n":  # csv.writer only quotes the line-end characters it writes itself
        assume(not any(ch in v for row in rows for v in row for ch in "\r\n"))
    header = ["firstname", "lastname", "email"]
    data = csv_bytes([header] + rows, delimiter, encoding, lineterminator)
    kept, numbers = expected_rows(rows, 2)
    if not kept:
        refused(data, code=ErrorCode.NO_DATA_ROWS)
        return
    t = read(data)
    assert (t.header, t.delimiter, values(t), rownums(t)) == (header, delimiter, kept, numbers)
    assert t.extra_values == {}


@PROPS
@given(rows=st.lists(st.lists(TEXT, min_size=3, max_size=3), min_size=1, max_size=8))
def test_property_xlsx_round_trip(rows):
    header = ["firstname", "lastname", "email"]
    data = xlsx([header] + rows)
    kept, numbers = expected_rows(rows, 2)
    if not kept:
        refused(data, "u.xlsx", ErrorCode.NO_DATA_ROWS)
        return
    t = read(data, "u.xlsx")
    assert (t.header, values(t), rownums(t)) == (header, kept, numbers)


QUOTELESS = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters='"\r\n\x00,'), max_size=12
)


def assembled(frame: pl.DataFrame):
    """What read_table makes of a frame of raw strings (or the FileProblem code)."""
    try:
        t = reader._Reader(b"", "u.csv", ReadLimits(), None)._assemble(
            frame, "csv", sheet_name=None, encoding=None, delimiter=","
        )
    except FileProblem as exc:
        return exc.code
    return t.header, t.header_row, t.extra_values, t.data.rows()


@PROPS
@given(lines=st.lists(st.lists(QUOTELESS, min_size=1, max_size=5), min_size=1, max_size=10), crlf=st.booleans())
def test_property_polars_fast_path_matches_csv_module(lines, crlf):
    """The quote-free fast path (polars) reads exactly what the csv module reads."""
    text = ("\r\n" if crlf else "\n").join(",".join(fields) for fields in lines)
    fast = delimited._frame_polars(text, ",", ReadLimits())
    if fast is None:
        return  # e.g. a row longer than the first: the csv module reads the file
    try:
        slow = delimited._frame_python_csv(text, ",", ReadLimits())
    except FileProblem as exc:
        assert assembled(fast) == exc.code
        return
    assert assembled(fast) == assembled(slow)


SEEDS = [
    b"",
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    codecs.BOM_UTF8,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF16_BE,
    b"sep=;\n",
    b"firstname,email\n",
    b"<?xml",
    b"{",
    b"\x00",
]
VALID = [
    xlsx(USERS),
    ods(ods_row("firstname", "email") + ods_row("Ann", "a@x")),
    csv_bytes(USERS),
    csv_bytes(USERS, encoding="utf-16"),
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=3000),
        st.builds(lambda seed, tail: seed + tail, st.sampled_from(SEEDS), st.binary(max_size=2000)),
        st.builds(
            lambda base, edits: bytes(b ^ edits.get(i, 0) for i, b in enumerate(base))[
                : max(1, len(base) - edits.get(-1, 0))
            ],
            st.sampled_from(VALID),
            st.dictionaries(st.integers(-1, 3000), st.integers(1, 255), max_size=6),
        ),
    ),
    name=st.sampled_from(["u.csv", "u.xlsx", "u.xls", "u.ods", "u.tsv", "u", ""]),
)
def test_property_any_bytes_give_a_table_or_a_file_problem(data, name, caplog):
    caplog.clear()
    try:
        with caplog.at_level(logging.ERROR, logger=reading.__name__):
            t = read_table(data, name, ReadLimits(max_bytes=10_000))
    except FileProblem as exc:
        assert not caplog.records, "reached the reader's last-resort handler (an unexpected exception)"
        assert exc.code in {
            ErrorCode.UNSUPPORTED_FILE,
            ErrorCode.FILE_TOO_LARGE,
            ErrorCode.EMPTY_FILE,
            ErrorCode.NO_DATA_ROWS,
        }
        assert exc.message and "{" not in exc.message
        return
    assert t.data.columns == [f"c{i}" for i in range(len(t.header))] + ["row"]
    assert t.data.height >= 1 and t.data.null_count().sum_horizontal().item() == 0
    if (
        "\ufffd".encode() not in data
        and "\ufffd".encode("utf-16-le") not in data
        and "\ufffd".encode("utf-16-be") not in data
    ):
        assert not any("\ufffd" in v for row in values(t) for v in row + t.header)  # nothing silently replaced
