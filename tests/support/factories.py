"""The test data every test builds from, in one place: users (rows, CSV and spreadsheet files),
companies, staged uploads and drafts, and the settings and tokens of a production configuration.

Database factories take an engine (or, `new_company`, a URL) and commit in a transaction of their
own, as a caller of the engine would. Some write an upload's columns directly (`running_create`):
they make a state the engine only reaches through a crash or another process.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
import zipfile
from datetime import timedelta

import xlsxwriter
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.files.intake import parse_file, validate_file
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.files.schema import COLUMN_NAMES
from bulk_upload_app.models import BulkUpload, BulkUploadRow, Company, User, utcnow
from bulk_upload_app.uploads import pipeline, staging
from bulk_upload_app.uploads.batch import BatchSpec
from bulk_upload_app.uploads.settings_catalogue import default_settings

# ---------------------------------------------------------------- users: rows and files


def users_csv(rows: list[dict] | list[tuple], header: list[str] | None = None) -> bytes:
    """A CSV file (bytes) with the template's header (or `header`) and these rows (dicts by column, or tuples)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header or COLUMN_NAMES)
    for row in rows:
        writer.writerow([row.get(c, "") for c in COLUMN_NAMES] if isinstance(row, dict) else row)
    return buffer.getvalue().encode()


def person(i: int, domain: str = "example.com", **overrides) -> dict:
    """A valid row for person number `i` (unique email and phone), with any columns overridden."""
    return {
        "firstname": f"First{i}",
        "lastname": f"Last{i}",
        "email": f"person{i}@{domain}",
        "countryprefix": "+44",
        "phone": f"0740012{i:04d}",
        **overrides,
    }


def users_file(tmp_path, rows, name="users.csv", header="firstname,lastname,email,countryprefix,phone"):
    """A CSV file of these rows (tuples of cells, no quoting) in `tmp_path`, for the browser to upload."""
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    return path


def unique(tag: str) -> str:
    """`tag` made unique across tests and runs (the browser tests share their servers' data)."""
    return f"{tag}-{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------- spreadsheets, hand-made or written

# A header and two users, as the reader tests write them into every format.
TWO_USERS_TABLE = [
    ["firstname", "lastname", "email", "countryprefix", "phone"],
    ["Ann", "Lee", "ann@example.com", "+44", "07911123456"],
    ["Bo", "Ek", "bo@example.com", "+46", ""],
]


def xlsx(sheets, *, hidden=(), formats=None) -> bytes:
    """sheets: {name: [[cell, ...], ...]} (None = leave empty); or a list of rows for one sheet."""
    if not isinstance(sheets, dict):
        sheets = {"Sheet1": sheets}
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        if name in hidden:
            sheet.hide()
        for r, row in enumerate(rows or []):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, str):
                    sheet.write_string(r, c, value)
                elif isinstance(value, bool):
                    sheet.write_boolean(r, c, value)
                elif isinstance(value, (int, float)):
                    sheet.write_number(r, c, value)
                elif isinstance(value, (dt.datetime, dt.date)):
                    fmt = "yyyy-mm-dd hh:mm:ss" if isinstance(value, dt.datetime) else "yyyy-mm-dd"
                    sheet.write_datetime(r, c, value, book.add_format({"num_format": fmt}))
                elif isinstance(value, tuple):  # ("=formula", cached value)
                    sheet.write_formula(r, c, value[0], None, value[1])
                else:
                    raise TypeError(value)
    if hidden and all(n in hidden for n in sheets):
        raise ValueError("Excel needs a visible sheet")
    book.close()
    return buf.getvalue()


def make_zip(entries: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(
                zipfile.ZipInfo(name) if name != "mimetype" else name,
                data,
                compress_type=zipfile.ZIP_STORED if name == "mimetype" else method,
            )
    return buf.getvalue()


XLSX_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
XLSX_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
XLSX_WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
XLSX_WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)


def raw_xlsx(sheet_data: bytes, prolog: bytes = b"") -> bytes:
    """A minimal hand-written xlsx whose one sheet has exactly this <sheetData> content."""
    sheet = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        + prolog
        + b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        + sheet_data
        + b"</sheetData></worksheet>"
    )
    return make_zip(
        {
            "[Content_Types].xml": XLSX_CONTENT_TYPES,
            "_rels/.rels": XLSX_RELS,
            "xl/workbook.xml": XLSX_WORKBOOK,
            "xl/_rels/workbook.xml.rels": XLSX_WORKBOOK_RELS,
            "xl/worksheets/sheet1.xml": sheet,
        }
    )


def istr(ref: str, text: str) -> bytes:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'.encode()


def ods(table_xml: str, name: str = "Sheet1") -> bytes:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="{name}">{table_xml}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    ).encode()
    manifest = (
        b'<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        b'<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        b'<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    return make_zip(
        {
            "mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
            "META-INF/manifest.xml": manifest,
            "content.xml": content,
        }
    )


def ods_row(*cells: str, repeat: int = 1) -> str:
    attr = f' table:number-rows-repeated="{repeat}"' if repeat > 1 else ""
    body = "".join(
        f'<table:table-cell office:value-type="string"><text:p>{c}</text:p></table:table-cell>'
        if c
        else "<table:table-cell/>"
        for c in cells
    )
    return f"<table:table-row{attr}>{body}</table:table-row>"


def patched_xlsx(part: str, old: bytes, new: bytes) -> bytes:
    """An xlsx of TWO_USERS_TABLE written by xlsxwriter, with `old` replaced by `new` in one part."""
    source = zipfile.ZipFile(io.BytesIO(xlsx(TWO_USERS_TABLE)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == part:
                assert old in data
                data = data.replace(old, new)
            zf.writestr(info.filename, data)
    return out.getvalue()


# ---------------------------------------------------------------- companies, uploads and drafts


def stage(engine, company_id, rows, spec: BatchSpec | None = None, name="users.csv") -> str:
    """A staged upload (a draft) of these rows, with the batch settings `spec` when given."""
    parsed = parse_file(users_csv(rows), name)
    with session_scope(engine) as session:
        upload = staging.stage_upload(
            session,
            company_id=company_id,
            admin_user_id=None,
            file_name=name,
            parsed=parsed,
            validation=validate_file(parsed),
        )
        if spec is not None:
            staging.configure_batch(session, company_id, upload.id, spec)
        return upload.id


def new_company(engine: Engine | str, seats: int = 100, name: str = "Acme") -> int:
    """A company of its own with the default settings; `engine` may be a database URL."""
    with session_scope(get_engine(engine) if isinstance(engine, str) else engine) as session:
        company = Company(name=name, seats=seats, default_settings=default_settings())
        session.add(company)
        session.flush()
        return company.id


def count_users(engine, company_id) -> int:
    """The company's users."""
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(User).where(User.company_id == company_id)).scalar_one()


def running_create(engine, company_id, reserved, heartbeat_age=0.0) -> str:
    """An upload another worker is creating right now (or was, `heartbeat_age` seconds ago)."""
    upload_id = stage(engine, company_id, [person(500 + i, domain="elsewhere.example") for i in range(reserved)])
    with session_scope(engine) as session:
        upload = session.get(BulkUpload, upload_id)
        upload.status, upload.creating_owner = "creating", "other-host:1:abcd"
        upload.creating_heartbeat = utcnow() - timedelta(seconds=heartbeat_age)
        upload.seats_reserved = reserved
    return upload_id


def draft(engine, company, rows, **kwargs) -> str:
    """A draft made from a CSV of these rows as a worker makes it (read, judged, staged in chunks)."""
    return pipeline.draft_from_file(
        engine,
        company_id=company,
        admin_user_id=None,
        file_name="u.csv",
        data=users_csv(rows),
        limits=ReadLimits(),
        **kwargs,
    )


def row_id(engine, upload_id, number) -> int:
    """The id of the draft's row with this row number (the header is row 1)."""
    with session_scope(engine, read_only=True) as session:
        return session.exec(
            select(BulkUploadRow.id).where(BulkUploadRow.upload_id == upload_id, BulkUploadRow.row_number == number)
        ).scalar_one()


# ---------------------------------------------------------------- settings and tokens

GOOD_JWT_SECRET = "p" * 32
QUEUE_SETTINGS = {"BULK_UPLOAD_QUEUE_URL": "redis://127.0.0.1:6379/0"}
# A complete production configuration: the app starts with it (tests/unit/test_settings.py).
PRODUCTION_SETTINGS = {
    **QUEUE_SETTINGS,
    "BULK_UPLOAD_JWT_SECRET": GOOD_JWT_SECRET,
    "BULK_UPLOAD_JWT_ISSUER": "https://dashboard.example.com",
    "BULK_UPLOAD_FRAME_ANCESTORS": "https://dashboard.example.com",
    "BULK_UPLOAD_LEGACY_DASHBOARD_URL": "https://dashboard.example.com/billing/seats",
    "REFLEX_DEPLOY_URL": "https://bulk-upload.example.com",
    "REFLEX_API_URL": "https://bulk-upload.example.com",
}
# The dashboard's sign-in tokens in the unit and integration tests (the e2e servers': dashboard.py).
TOKEN_SECRET = "test-secret-" + "x" * 40
TOKEN_ISSUER = "https://dashboard.example.com"
