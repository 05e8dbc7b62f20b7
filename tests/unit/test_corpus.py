"""Every file of the shared edge-case corpus, read the way an admin's upload is read.

The corpus (111 files copied from csv-spectrum, csvkit, frictionless-py, calamine and
messytables) lives outside the repo; its README says what a correct reader does with each file.
EXPECTED below holds that expectation for every file, as this reader implements it: a table
(header, row numbers, specific values) or the FileProblem code. A file in the folder without
an entry here fails, and so does a missing folder (set BULK_UPLOAD_CORPUS to point elsewhere).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.files.reading import RawTable, read_table
from tests.support.paths import CORPUS

NOT_DATA = {"README.md", "LICENSES.md", "expectations.json"}
MISSING = "<corpus folder missing>"


def titles(*names: str):
    """An is_header that accepts a row holding all these titles (like the header-mapping module)."""
    wanted = {n.lower() for n in names}
    return lambda cells: wanted <= {c.lower() for c in cells}


def problem(code: ErrorCode, reason: str | None = None) -> dict:
    return {"problem": code, "reason": reason}


PASSWORD = problem(ErrorCode.UNSUPPORTED_FILE, "password-protected")
JSON = problem(ErrorCode.UNSUPPORTED_FILE, "JSON file")
ENCODING = problem(ErrorCode.UNSUPPORTED_FILE, '"CSV UTF-8"')

TEST_XLSX_HEADER = ["text", "date", "integer", "boolean", "float", "datetime", "empty_column"]
TEST_XLSX_ROWS = {
    2: ["Chicago Reader", "1971-01-01", "40", "TRUE", "1", "1971-01-01 04:14:00", ""],
    3: ["Chicago Sun-Times", "1948-01-01", "63", "TRUE", "1.27", "1948-01-01 14:57:13", ""],
    4: ["Chicago Tribune", "1920-01-01", "164", "FALSE", "41800000.01", "1920-01-01", ""],
    5: ["This row has blanks", "", "", "", "", "", ""],
    6: ["Unicode! Σ", "", "", "", "", "", ""],
}


def shifted(rows: dict[int, list[str]], by: int) -> dict[int, list[str]]:
    return {r + by: v for r, v in rows.items()}


# Keys: header, rows (count), header_row, values {row: {column title or index: value}} or
# {row: [all values]}, extra {row: width}, format, encoding, delimiter, sheet, notice (substring),
# is_header, oracle (csv-spectrum JSON of the expected records), problem/reason.
EXPECTED: dict[str, dict] = {
    # ---- csv-spectrum: RFC 4180 acid tests, checked against their JSON where it is right ----
    "csv-spectrum/csvs/comma_in_quotes.csv": dict(
        header=["first", "last", "address", "city", "zip"],
        rows=1,
        values={2: {"city": "Anytown, WW", "zip": "08123"}},
        oracle="comma_in_quotes.json",
    ),
    "csv-spectrum/csvs/empty.csv": dict(header=["a", "b", "c"], rows=2, values={2: ["1", "", ""]}, oracle="empty.json"),
    "csv-spectrum/csvs/empty_crlf.csv": dict(
        header=["a", "b", "c"], rows=2, values={2: ["1", "", ""]}, oracle="empty_crlf.json"
    ),
    "csv-spectrum/csvs/escaped_quotes.csv": dict(
        header=["a", "b"], rows=2, values={2: {"b": 'ha "ha" ha'}}, oracle="escaped_quotes.json"
    ),
    "csv-spectrum/csvs/json.csv": dict(
        header=["key", "val"],
        rows=1,
        values={2: {"val": '{"type": "Point", "coordinates": [102.0, 0.5]}'}},
        oracle="json.json",
    ),
    # Lenient reading: the bare quotes stay literally; the U+FFFD were already in the file.
    "csv-spectrum/csvs/location_coordinates.csv": dict(
        header=["Contact Phone Number", "Location Coordinates", "Cities", "Counties"],
        rows=1,
        values={2: ["2095257564", "37\ufffd36'37.8\"N 121\ufffd2'17.9\"W", "Modesto", "Stanislaus"]},
    ),
    "csv-spectrum/csvs/newlines.csv": dict(
        header=["a", "b", "c"], rows=3, values={3: {"a": "Once upon \na time"}}, oracle="newlines.json"
    ),
    "csv-spectrum/csvs/newlines_crlf.csv": dict(
        header=["a", "b", "c"],
        rows=3,
        values={3: {"a": "Once upon \r\na time"}, 4: ["7", "8", "9"]},
        oracle="newlines_crlf.json",
    ),
    "csv-spectrum/csvs/quotes_and_newlines.csv": dict(
        header=["a", "b"], rows=2, values={2: {"b": 'ha \n"ha" \nha'}}, oracle="quotes_and_newlines.json"
    ),
    "csv-spectrum/csvs/simple.csv": dict(
        header=["a", "b", "c"], rows=1, values={2: ["1", "2", "3"]}, oracle="simple.json"
    ),
    "csv-spectrum/csvs/simple_crlf.csv": dict(
        header=["a", "b", "c"], rows=1, values={2: ["1", "2", "3"]}, oracle="simple_crlf.json"
    ),
    "csv-spectrum/csvs/utf8.csv": dict(
        header=["a", "b", "c"], rows=2, values={3: ["4", "5", "ʤ"]}, encoding="utf-8", oracle="utf8.json"
    ),
    # The expected-output JSON files are not spreadsheets: refused with a reason.
    **{
        f"csv-spectrum/json/{n}.json": JSON
        for n in (
            "comma_in_quotes",
            "empty",
            "empty_crlf",
            "escaped_quotes",
            "json",
            "location_coordinates",
            "newlines",
            "newlines_crlf",
            "quotes_and_newlines",
            "simple",
            "simple_crlf",
            "utf8",
        )
    },
    # ---- csvkit ----
    "csvkit/test_utf16_little.csv": dict(
        header=["a", "b", "c"], rows=2, values={3: ["4", "5", "ʤ"]}, encoding="utf-16", notice="UTF-16"
    ),
    "csvkit/test_utf16_big.csv": dict(
        header=["a", "b", "c"], rows=2, values={3: ["4", "5", "ʤ"]}, encoding="utf-16", notice="UTF-16"
    ),
    "csvkit/test_utf8_bom.csv": dict(
        header=["foo", "bar", "baz"], rows=2, values={3: ["4", "5", "ʤ"]}, encoding="utf-8-sig"
    ),
    "csvkit/test_utf8.csv": dict(header=["foo", "bar", "baz"], rows=2, values={3: ["4", "5", "ʤ"]}, encoding="utf-8"),
    # Decision: a real Windows-1252 file is converted (with a notice), not refused.
    "csvkit/test_latin1.csv": dict(
        header=["a", "b", "c"], rows=2, values={3: ["4", "5", "©"]}, encoding="cp1252", notice="Windows-1252"
    ),
    "csvkit/null_byte.csv": problem(ErrorCode.UNSUPPORTED_FILE, "NUL byte"),
    # Classic Mac CR-only lines; the CR inside the quoted field is kept as typed.
    "csvkit/mac_newlines.csv": dict(
        header=["a", "b", "c"], rows=2, values={2: ["1", "2", "3"], 3: ["Once upon\ra time", "5", "6"]}
    ),
    # Ragged rows: the long one is reported (row 2 spans 4 columns), the short one padded.
    "csvkit/bad.csv": dict(
        header=["column_a", "column_b", "column_c"],
        rows=3,
        extra={2: 4},
        values={2: ["1", "27", ""], 3: ["", "I'm too short!", ""], 4: ["0", "mixed types.... uh oh", "17"]},
    ),
    "csvkit/bad_skip_lines.csv": dict(
        header=["column_a", "column_b", "column_c"],
        header_row=4,
        rows=3,
        extra={5: 4},
        values={6: ["", "I'm too short!", ""], 7: ["0", "mixed types.... uh oh", "17"]},
    ),
    # `,,,` is a blank row once the delimiters are gone: no users at all.
    "csvkit/test_empty_columns_long_row.csv": problem(ErrorCode.NO_DATA_ROWS),
    "csvkit/test_extra_header.csv": dict(header=["a", "b", "c", "d"], rows=1, values={2: ["1", "2", "3", ""]}),
    "csvkit/test_header_newline.csv": dict(header=["start end", "b", "c"], rows=1, values={2: ["d", "e", "f"]}),
    "csvkit/empty.csv": problem(ErrorCode.EMPTY_FILE),
    "csvkit/blanks.csv": dict(
        header=["a", "b", "c", "d", "e", "f"], rows=1, values={2: ["", "NA", "N/A", "NONE", "NULL", "."]}
    ),
    "csvkit/test_no_leading_zeroes.csv": dict(header=["a", "b", "c"], rows=1, values={2: ["01", "00.11", "0.1"]}),
    "csvkit/test_skip_lines.csv": dict(header=["a", "b", "c"], header_row=4, rows=1, values={5: ["1", "2", "3"]}),
    "csvkit/dummy.tsv": dict(header=["a", "b", "c"], rows=1, values={2: ["1", "2", "3"]}, delimiter="\t", format="tsv"),
    "csvkit/sniff_limit.csv": dict(
        header=["a", "b", "c"], rows=1, values={2: ["1", "2", "3"]}, delimiter=";", notice="semicolons"
    ),
    "csvkit/test_locale.csv": dict(header=["a", "b", "c"], rows=1, values={2: ["1,7", "200.000.000", ""]}),
    "csvkit/test_date_format.csv": dict(header=["a"], rows=2, values={2: ["02/01/2014"], 3: ["31/12/2012"]}),
    # The value under the blank H1 title is reported as an extra value of row 3.
    "csvkit/test.xlsx": dict(
        header=TEST_XLSX_HEADER, rows=5, values=TEST_XLSX_ROWS, extra={3: 8}, sheet="Sheet1", format="xlsx"
    ),
    "csvkit/test.xls": dict(  # 1904 date system: 1971-01-01, not 1966-12-31
        header=TEST_XLSX_HEADER,
        rows=5,
        values=TEST_XLSX_ROWS,
        extra={3: 8},
        sheet="testfixed_converted.csv",
        format="xls",
    ),
    "csvkit/sheets.xlsx": dict(
        header=TEST_XLSX_HEADER,
        rows=5,
        values=TEST_XLSX_ROWS,
        extra={3: 8},
        sheet="data",
        is_header=titles("text", "date"),
        notice='Read the sheet "data"',
    ),
    "csvkit/test_skip_lines.xlsx": dict(
        header=TEST_XLSX_HEADER, header_row=4, rows=5, values=shifted(TEST_XLSX_ROWS, 3), extra={6: 8}
    ),
    # ---- frictionless ----
    "frictionless/blank-headers.csv": dict(
        header=["id", "", "age"], rows=2, values={2: ["1101", "John", "30"], 3: ["1102", "Julie", "26"]}
    ),
    "frictionless/duplicate-headers.csv": dict(  # both "id" columns kept, nothing merged
        header=["id", "name", "id", "age", "id"], rows=2, values={2: ["1101", "John", "0", "30", "001101"]}
    ),
    "frictionless/blank-rows-no-fields.csv": dict(
        header=["id", "name", "age"], rows=2, values={2: ["1101", "John", "30"], 4: ["1102", "Julie", "26"]}
    ),
    "frictionless/blank-rows-multiple.csv": dict(
        header=["id", "name", "age"], rows=2, values={2: ["1101", "John", "30"], 3: ["1102", "Julie", "26"]}
    ),
    "frictionless/defective-rows.csv": dict(
        header=["id", "name", "age"], rows=2, extra={3: 4}, values={2: ["1101", "John", ""]}
    ),
    "frictionless/empty.csv": problem(ErrorCode.EMPTY_FILE),
    "frictionless/without-rows.csv": problem(ErrorCode.NO_DATA_ROWS),
    "frictionless/leading-zeros.csv": dict(header=["value"], rows=3, values={2: ["01"], 3: ["002"], 4: ["00003"]}),
    "frictionless/table-infer-iso-8859-7.csv": ENCODING,  # Greek: never the cp1252 mojibake
    "frictionless/table-infer-utf8.csv": dict(
        header=["id", "age", "name"], rows=5, values={6: {"name": "Iñtërnâtiônàlizætiøn"}}
    ),
    # Space before a quote is skipped; the backslash-"escaped" row stays literal (no guessing).
    "frictionless/escaping.csv": dict(
        header=["ID", "Test"],
        rows=3,
        values={2: ["1", "Test line 1"], 3: ["2", 'Test " line 2'], 4: ["3", 'Test \\ line 3"']},
    ),
    "frictionless/matrix-with-comment.csv": dict(
        header=["f1", "f2", "f3", "f4"],
        header_row=2,
        rows=4,
        is_header=titles("f1", "f2"),
        values={3: ["11", "12", "13", "14"], 6: ["41", "42", "43", "44"]},
        notice="Row 1 above the column titles was ignored.",
    ),
    "frictionless/issue-1138.csv": dict(  # the phantom 4th column from the trailing ';' is dropped
        header=["Zeit [MEZ]", "Wasserstand", "Status"],
        rows=7,
        delimiter=";",
        values={
            2: ["09.07.2013 12:00:00", "146", "nicht qualitätsgesichert"],
            3: {"Zeit [MEZ]": "10.07.2013", "Status": "qualitätsgesichert"},
        },
    ),
    "frictionless/issue-1232.csv": dict(
        header=[
            "comune",
            "codice_regione",
            "codice_provincia",
            "codice_comune",
            "denominazione_comune",
            "sigla_provincia",
            "data_entrata_in_carica",
        ],
        rows=5,
        delimiter=";",
        values={
            2: {"comune": "030151360", "codice_regione": "03", "data_entrata_in_carica": "13/10/2021"},
            3: {"codice_regione": "00", "codice_comune": "0530"},
        },
        contains="CAPO D'ORLANDO",
    ),
    "frictionless/table-with-accents.csv": dict(
        header=["Classement", "Quartier", "Date", "Année", "Occupancy rate", "Average Price", "RevPAR", "Source"],
        rows=638,
        encoding="cp1252",
        delimiter=";",
        values={2: {"Date": "01-01-13", "Occupancy rate": "0,611553068"}},
    ),
    "frictionless/issue-1109.csv": dict(
        header=["int", "number", "string"], rows=3, values={2: ["1", "2.3", "string"], 3: ["", "4.3", "string"]}
    ),
    "frictionless/issue-870.xlsx": dict(
        header=["0", "First Name", "Last Name", "Gender", "Country", "Age", "Date", "Id"],
        rows=9,
        values={2: ["1", "Dulce", "Abril", "Female", "United States", "32", "15/10/2017", "1562"]},
        sheet="Sheet1",
    ),
    "frictionless/cast-int-to-string-issue-1251.xlsx": dict(
        header=["A", "B", "C", "D", "E"],
        rows=2,
        sheet="Feuille1",
        values={2: ["001", "b", "1", "a", "1"], 3: ["002", "c", "1", "1", "1"]},
    ),
    "frictionless/adjust-floating-point-error.xlsx": dict(
        header=["Sample Name", "peak PO4", "actual PO4 (formula)", "actual PO4 (values)"],
        rows=5,
        values={
            3: {"peak PO4": "68.665", "actual PO4 (formula)": "274.66", "actual PO4 (values)": "274.66"},
            5: {"actual PO4 (formula)": "968"},
        },
    ),
    "frictionless/merged-cells.xlsx": problem(ErrorCode.NO_DATA_ROWS),  # only "data" in A1
    # No single header row: read as is; the header-mapping step reports the missing titles.
    "frictionless/multiline-headers.xlsx": dict(
        header=["Region", "Caloric contribution", "Cumulative impact of changes on cost of food basket"],
        rows=3,
        values={6: ["A", "B", "C"]},
        extra={4: 4, 6: 4},
    ),
    "frictionless/preserve-formatting-percentage.xlsx": dict(
        header=["col1", "col2"], rows=3, values={2: ["123", "0.52"], 3: ["456", "0.3"], 4: ["789", "0.06"]}
    ),
    "frictionless/issue-312.xlsx": dict(
        header=["id", "name", "", "name"],
        rows=4,
        sheet="invalid",
        extra={6: 5},
        values={2: ["1", "english", "", ""], 6: ["2", "german", "1", "2"]},
    ),
    # The TOTAL footer stays a row (no firstname etc.): validation refuses it as a user.
    "frictionless/skip-rows.xlsx": dict(
        header=["A", "B"],
        header_row=2,
        rows=2,
        is_header=titles("A", "B"),
        sheet="Sheet 1",
        values={3: ["8", "9"], 4: ["", "TOTAL"]},
        notice="Row 1 above the column titles was ignored.",
    ),
    "frictionless/table-with-ints-floats-dates.ods": dict(
        header=["Int", "Float", "Date", "Datetime"],
        rows=3,
        sheet="test",
        format="ods",
        values={2: ["2013", "3.3", "2009-08-16", "2009-08-16 05:43:21"]},
    ),
    "frictionless/table-with-booleans.ods": dict(
        header=["id", "boolean"], rows=2, values={2: ["1", "TRUE"], 3: ["2", "FALSE"]}
    ),
    "frictionless/table-with-two-sheets.ods": dict(
        header=["id", "name"], rows=2, sheet="Лист1", values={3: ["2", "中国人"]}, notice='Read the sheet "Лист1"'
    ),
    # ---- calamine ----
    "calamine/merged_range.xlsx": dict(
        header=["A1", "B1", "C1", "", "E1", "F1", "G1", "H1"],
        rows=2,
        sheet="Sheet1",
        values={3: ["A3", "B3", "C3", "", "E3", "F3", "G3", "H3"], 4: ["A4", "B4", "C4", "", "E4", "F4", "G4", "H4"]},
    ),
    "calamine/merge_cells.xlsx": dict(
        header=["Row Merge", "", "Not Merged"], rows=1, values={2: ["Column Merge", "Chunk Merged", ""]}
    ),
    "calamine/merged_cells.ods": dict(header=["A", "B", "C"], rows=2, values={2: ["A", "B", "C"], 3: ["", "", "C"]}),
    # No titles in these: the first row is the header; a duration reads as Excel shows it.
    "calamine/date.xlsx": dict(
        header=["2021-01-01", "15"], rows=2, values={2: ["2021-01-02", "16"], 3: ["255:10:10", "17"]}
    ),
    "calamine/date_1904.xlsx": dict(
        header=["2021-01-01", "15"], rows=2, values={2: ["2021-01-02", "16"], 3: ["255:10:10", "17"]}
    ),
    "calamine/date_1904.xls": dict(
        header=["2021-01-01", "15"], rows=2, values={2: ["2021-01-02", "16"], 3: ["255:10:10", "17"]}, format="xls"
    ),
    "calamine/date.ods": dict(
        header=["2021-01-01", "15"],
        rows=3,
        values={2: ["2021-01-01 10:10:10", "16"], 3: ["10:10:10", "17"], 4: ["10:10:10.123456", "18"]},
    ),
    "calamine/date_iso.xlsx": dict(header=["2021-01-01"], rows=5, values={2: ["2021-01-01 10:10:10"], 3: ["10:10:10"]}),
    # Error cells come through as their text; validation then rejects them as values.
    "calamine/errors.xlsx": dict(
        header=["#DIV/0!"],
        rows=6,
        sheet="Feuil1",
        values={2: ["#NAME?"], 3: ["#VALUE!"], 4: ["#NULL!"], 5: ["#REF!"], 6: ["#NUM!"], 7: ["#N/A"]},
    ),
    "calamine/formula.issue.xlsx": dict(  # cached values; G13 (=SUM) is the header of the second read
        header=["23", "", "23"], rows=2, extra={13: 7, 14: 10}
    ),
    "calamine/empty_sheet.xlsx": problem(ErrorCode.EMPTY_FILE),
    "calamine/header-row.xlsx": dict(
        header=["Columns", "Column A", "Column B", "Column C"],
        header_row=9,
        rows=1,
        is_header=titles("Columns", "Column A"),
        values={10: ["put data here", "1", "2", "3"]},
        notice="Row 3 above the column titles was ignored.",
    ),
    "calamine/pass_protected.xlsx": PASSWORD,
    "calamine/pass_protected.ods": PASSWORD,
    "calamine/too_small.xls": problem(ErrorCode.UNSUPPORTED_FILE, "not a spreadsheet"),
    "calamine/issue_594_dos.ods": problem(ErrorCode.FILE_TOO_LARGE),
    "calamine/has_x000D_.xlsx": problem(ErrorCode.NO_DATA_ROWS),  # one cell; its value is checked below
    "calamine/any_sheets.xlsx": dict(
        header=["1", "2"],
        rows=3,
        sheet="Visible",
        values={2: ["3", "4"], 3: ["5", "6"]},
        notice='Read the sheet "Visible"',
    ),
    "calamine/any_sheets.ods": dict(header=["1", "2"], rows=3, sheet="Visible", values={2: ["3", "4"], 3: ["5", "6"]}),
    "calamine/string-ref.xlsx": dict(header=["col1"], rows=1, sheet="Sheet1", values={2: ["-8086931554011838357"]}),
    # Strict OOXML: read normally (openpyxl sees zero sheets here).
    "calamine/strict_iso_paths.xlsx": dict(
        rows=75,
        sheet="ml_out",
        width=18,
        values={2: {"Item": "150-031260-001_B", "Thickness": "1.5"}, 3: {"Item": "1625593500"}},
    ),
    "calamine/number_rows_repeated.ods": dict(
        header=["A", "B"], rows=4, sheet="Sheet1", values={2: ["C", "D"], 3: ["C", "D"], 6: ["C", "D"], 8: ["C", "D"]}
    ),
    "calamine/special_cells.ods": dict(
        header=["Split Line"],
        rows=4,
        values={
            2: ["Value  With spaces"],
            3: ["Value   With 3 spaces"],
            4: ["Value   With spaces before and after"],
            5: ["Value   With 2 spaces before and after"],
        },
    ),
    "calamine/table-multiple.xlsx": dict(
        header=["Item", "Type", "Quantity"],
        rows=4,
        sheet="Sheet1",
        values={2: ["1", "Apple", "50"], 5: ["4", "Pear", "100"]},
    ),
    "calamine/temperature-in-middle.xlsx": dict(  # table at B4: the empty column A is not a blank title
        header=["label", "value"], header_row=4, rows=2, values={5: ["celsius", "22.2222"], 6: ["fahrenheit", "72"]}
    ),
    # ---- messytables ----
    "messytables/encrypted_no_password.xls": PASSWORD,
    "messytables/excel_pasting.csv": dict(
        header=["Year", "2000", "2001", "2002", "2003", "2004", "2005", "2006", "2007"],
        header_row=4,
        rows=16,
        is_header=titles("Year", "2000"),
        notice="Rows 1–2 above the column titles were ignored.",
        values={5: ["Timber", "2,666", "2,274", "1,877", "1,999", "2,055", "1,632", "1,687", "1,751"]},
        contains="Machinery and \nequipment",
    ),
    "messytables/skip_initials.csv": dict(header=["field1", "field2"], rows=2, values={2: ["hello", "goodbye"]}),
    "messytables/simple.psv": dict(
        header=[
            "Year",
            "New dwellings",
            "Other dwellings",
            "All dwellings",
            "First time buyers",
            "Former owner occupiers",
        ],
        rows=28,
        delimiter="|",
        values={2: {"Year": "1986", "Former owner occupiers": "45000"}},
        no_cr=True,
    ),
    "messytables/utf8bom.csv": problem(ErrorCode.NO_DATA_ROWS),
    "messytables/small.csv": problem(ErrorCode.NO_DATA_ROWS),
    # 115 rows: the README's 116 counts the all-empty row 117 (skipped as blank).
    "messytables/spanish_chars.csv": dict(
        header=["GF_ID", "FN_ID", "SF_ID", "GF", "F", "SF", "Gasto total 2011", "Descripción"],
        rows=115,
        encoding="cp1252",
        values={2: {"GF": "Gobierno", "Gasto total 2011": "229,932.50"}},
        no_cr=True,
    ),
    "messytables/characters.csv": ENCODING,  # Big5: never the cp1252 mojibake
    "messytables/blank_line.ods": dict(
        header=["Name", "Age", "When"],
        rows=3,
        values={2: ["Bob", "20", "2010-10-10"], 3: ["Jane", "23", "2012-01-01"], 5: ["Ian", "34", "2015-11-11"]},
    ),
    "messytables/multilineods.ods": problem(ErrorCode.NO_DATA_ROWS),  # one cell; its value is checked below
    "messytables/unicode_sheet_name.xls": problem(ErrorCode.NO_DATA_ROWS),  # one cell; checked below
}


def require_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.fail(f"The test corpus was not found at {CORPUS}; set BULK_UPLOAD_CORPUS to its folder.")


def corpus_files() -> list[str]:
    if not CORPUS.is_dir():
        return [MISSING]
    return sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*") if p.is_file() and p.name not in NOT_DATA)


def row_values(table: RawTable, row: int) -> dict:
    found = table.data.filter(table.data["row"] == row)
    assert found.height == 1, f"row {row} not in the table (rows: {table.data['row'].to_list()})"
    return found.row(0, named=True)


def check_values(table: RawTable, row: int, expected) -> None:
    got = row_values(table, row)
    if isinstance(expected, list):
        assert [got[f"c{i}"] for i in range(len(table.header))] == expected, f"row {row}"
    else:
        for title, value in expected.items():
            col = table.header.index(title) if isinstance(title, str) else title
            assert got[f"c{col}"] == value, f"row {row}, {title}"


@pytest.mark.parametrize("rel", corpus_files())
def test_corpus_file(rel: str) -> None:
    require_corpus()
    assert rel in EXPECTED, f"no expectation written for {rel}"
    spec = EXPECTED[rel]
    data = (CORPUS / rel).read_bytes()
    try:
        table = read_table(data, Path(rel).name, is_header=spec.get("is_header"))
    except FileProblem as exc:
        assert "problem" in spec, f"unexpected {exc.code}: {exc.message}"
        assert exc.code == spec["problem"], exc.message
        if spec["reason"]:
            assert spec["reason"] in exc.details["reason"]
        assert exc.message  # a sentence for the admin
        return
    assert "problem" not in spec, f"expected {spec['problem']}, got a table with {table.data.height} rows"
    check_table(table, spec)


def check_table(table: RawTable, spec: dict) -> None:
    # The shape the rest of the engine relies on.
    n = len(table.header)
    assert table.data.columns == [f"c{i}" for i in range(n)] + ["row"]
    assert all(dtype == __import__("polars").String for dtype in table.data.dtypes[:-1])
    assert table.data.null_count().sum_horizontal().item() == 0
    assert table.data["row"].dtype == __import__("polars").Int64
    assert table.data["row"].is_sorted() and table.data["row"].min() > table.header_row
    if "header" in spec:
        assert table.header == spec["header"]
    if "width" in spec:
        assert n == spec["width"]
    assert table.data.height == spec["rows"]
    assert table.header_row == spec.get("header_row", 1)
    assert table.extra_values == spec.get("extra", {})
    for row, expected in spec.get("values", {}).items():
        check_values(table, row, expected)
    for key, attr in (
        ("format", "file_format"),
        ("encoding", "encoding"),
        ("delimiter", "delimiter"),
        ("sheet", "sheet_name"),
    ):
        if key in spec:
            assert getattr(table, attr) == spec[key], attr
    if "notice" in spec:
        assert any(spec["notice"] in s for s in table.notices), table.notices
    if "contains" in spec:
        assert any(spec["contains"] in v for col in table.data.columns[:-1] for v in table.data[col]), spec["contains"]
    if spec.get("no_cr"):
        assert not any("\r" in v for col in table.data.columns[:-1] for v in table.data[col])
    if "oracle" in spec:
        records = json.loads((CORPUS / "csv-spectrum" / "json" / spec["oracle"]).read_text("utf-8"))
        ours = [{h: r[f"c{i}"] for i, h in enumerate(table.header)} for r in table.data.iter_rows(named=True)]
        assert ours == [{k: v.strip() for k, v in rec.items()} for rec in records]


def test_corpus_is_the_documented_one() -> None:
    """The bytes are the ones the README describes (same sha256), and nothing is left untested."""
    require_corpus()
    listed = json.loads((CORPUS / "expectations.json").read_text("utf-8"))
    assert len(listed) == 111
    for entry in listed:
        assert hashlib.sha256((CORPUS / entry["file"]).read_bytes()).hexdigest() == entry["sha256"], entry["file"]
    assert {e["file"] for e in listed} == set(corpus_files()) == set(EXPECTED)


@pytest.mark.parametrize(
    "rel, sheet, cell",
    [
        ("calamine/has_x000D_.xlsx", "Sheet1", "ABC\r\nDEF"),  # the _x000D_ escape decoded
        ("messytables/multilineods.ods", "Sheet1", "1\n2\n3\n4"),  # paragraphs joined with \n
        ("messytables/unicode_sheet_name.xls", "mês", "this spreadsheet has got a unicode character in the sheet name"),
        ("frictionless/merged-cells.xlsx", "Лист1", "data"),
    ],
)
def test_single_cell_workbooks(rel: str, sheet: str, cell: str) -> None:
    """Files holding one cell are NO_DATA_ROWS as uploads; their one value still reads right."""
    require_corpus()
    import python_calamine

    from bulk_upload_app.files.reading.calamine_worker import _cell_text

    book = python_calamine.CalamineWorkbook.from_object(io.BytesIO((CORPUS / rel).read_bytes()))
    assert book.sheet_names[0] == sheet
    rows = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    assert _cell_text(rows[0][0]) == cell


def test_formula_cells_give_cached_values() -> None:
    require_corpus()
    table = read_table((CORPUS / "calamine/formula.issue.xlsx").read_bytes(), "f.xlsx", is_header=lambda c: "2" in c)
    assert table.header_row == 13 and table.header[6] == "2"  # G13 = SUM(1+1)
    assert table.extra_values == {14: 10}  # J14 = IF(...) -> "US", beyond the header


def test_hidden_sheets_are_never_chosen() -> None:
    require_corpus()
    for rel in ("calamine/any_sheets.xlsx", "calamine/any_sheets.ods"):
        table = read_table((CORPUS / rel).read_bytes(), Path(rel).name, is_header=titles("nothing matches"))
        assert table.sheet_name == "Visible"


def test_sheet_chosen_by_titles() -> None:
    require_corpus()
    two = read_table(
        (CORPUS / "frictionless/table-with-two-sheets.ods").read_bytes(), "t.ods", is_header=titles("a", "b", "c")
    )
    assert two.sheet_name == "Tabelle2" and two.header == ["a", "b", "c"]
    assert any("the first sheet with the template's column titles" in s for s in two.notices)
    multi = read_table(
        (CORPUS / "calamine/table-multiple.xlsx").read_bytes(), "t.xlsx", is_header=titles("Item", "Units")
    )
    assert multi.sheet_name == "Sheet3" and multi.data.height == 9
    assert multi.data.filter(multi.data["row"] == 7).row(0) == ("Item", "Units", 7)  # the 2nd table's titles: data
    sheets = read_table((CORPUS / "csvkit/sheets.xlsx").read_bytes(), "s.xlsx", is_header=titles("a", "b", "c"))
    assert sheets.sheet_name == "ʤ"


def test_corrupt_xls_that_aborts_calamine_is_contained() -> None:
    """One byte changed in test.xls makes calamine abort() its process; ours only loses a child."""
    require_corpus()
    data = bytearray((CORPUS / "csvkit/test.xls").read_bytes())
    data[16850] = 251
    with pytest.raises(FileProblem) as info:
        read_table(bytes(data), "test.xls")
    assert info.value.code in (ErrorCode.UNSUPPORTED_FILE, ErrorCode.FILE_TOO_LARGE)
