"""Judged rows are staged as one frame (COPY of polars' CSV on PostgreSQL, executemany on SQLite),
judged a chunk ahead of the one being written on PostgreSQL, written in transactions smaller than
the chunks judged: every value comes back as it was
judged, taken emails are refused in every chunk, and a cancel between chunks keeps nothing."""

from __future__ import annotations

import json

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from bulk_upload_app.db import session_scope
from bulk_upload_app.errors import ErrorCode
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.files.schema import COLUMN_NAMES
from bulk_upload_app.files.validation import validate_rows
from bulk_upload_app.models import BulkUpload, BulkUploadRow, User
from bulk_upload_app.statuses import UploadStatus
from bulk_upload_app.uploads import pipeline, processing
from bulk_upload_app.uploads.staging import stage_chunk
from tests.support.factories import new_company, person, users_csv

# What CSV writing and COPY's CSV reading must agree on: quotes, delimiters, line ends, empty
# strings (never NULL), backslashes, COPY's end marker, spaces at the ends, non-ASCII text.
_TRICKY = st.one_of(
    st.sampled_from(["", " ", '"', '""', ",", "a,b", "\n", "\r\n", "\r", "\\", "\\.", "\\N", "NULL", " x ", "Zoë"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
)


def _staged(engine, upload_id: str) -> list[BulkUploadRow]:
    with session_scope(engine, read_only=True) as session:
        return list(
            session.exec(
                select(BulkUploadRow).where(BulkUploadRow.upload_id == upload_id).order_by(BulkUploadRow.row_number)
            ).scalars()
        )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.tuples(*[_TRICKY] * len(COLUMN_NAMES)), min_size=1, max_size=8))
def test_every_staged_value_is_the_judged_one(engine, values):
    company = new_company(engine)
    frame = pl.DataFrame(
        {"row": list(range(2, len(values) + 2)), **{c: [v[i] for v in values] for i, c in enumerate(COLUMN_NAMES)}},
        schema={"row": pl.Int64, **dict.fromkeys(COLUMN_NAMES, pl.String)},
    )
    validation = validate_rows(frame)
    with session_scope(engine) as session:
        upload = BulkUpload(company_id=company, user_type="agent")
        session.add(upload)
        session.flush()
        upload_id = upload.id
        staged = stage_chunk(session, company, upload_id, validation)
    assert (staged.rows, staged.valid) == (validation.rows, validation.valid)
    errors = validation.errors_by_row()
    judged = validation.frame.to_dicts()
    for row, want in zip(_staged(engine, upload_id), judged, strict=True):
        assert row.row_number == want["row"]
        for column in (*COLUMN_NAMES, "email_norm", "prefix_norm", "phone_e164", "is_valid"):
            assert getattr(row, column) == want[column], column
        assert row.errors == [
            {"column": e.column, "code": e.code.value, "message": e.message} for e in errors.get(want["row"], [])
        ]
        assert row.outcome == "pending"
    with session_scope(engine, read_only=True) as session:  # the errors are JSON the database reads
        column = BulkUploadRow.__table__.c.errors
        for text in session.execute(select(column).where(BulkUploadRow.upload_id == upload_id)).scalars():
            assert isinstance(text, list)
            json.dumps(text)


def test_an_email_taken_in_the_account_is_refused_in_every_chunk(engine, monkeypatch):
    monkeypatch.setattr(processing, "WRITE_ROWS", 3)  # each judged chunk of 7 written 3, 3 and 1 rows at a time
    company = new_company(engine, seats=1000)
    rows = [person(i) for i in range(30)]
    taken = {rows[1]["email"], rows[17]["email"], rows[29]["email"]}
    with session_scope(engine) as session:
        for n, email in enumerate(sorted(taken)):
            session.add(
                User(
                    company_id=company,
                    firstname="T",
                    lastname="T",
                    email=email,
                    country_prefix="+44",
                    extension=100 + n,
                    user_type="agent",
                )
            )
    upload_id = pipeline.receive(
        engine, company_id=company, admin_user_id=None, file_name="p.csv", data=users_csv(rows), user_type="agent"
    )
    assert processing.process(engine, upload_id, limits=ReadLimits(), first_chunk=2, chunk=7) == UploadStatus.DRAFT
    staged = _staged(engine, upload_id)
    refused = {r.email for r in staged if any(e["code"] == ErrorCode.EMAIL_ALREADY_EXISTS.value for e in r.errors)}
    assert refused == taken
    assert [r.row_number for r in staged] == list(range(2, 32))
    with session_scope(engine, read_only=True) as session:
        upload = session.get(BulkUpload, upload_id)
        assert (upload.total_rows, upload.valid_rows, upload.invalid_rows) == (30, 27, 3)


def test_a_file_cancelled_between_chunks_keeps_no_row(engine, monkeypatch):
    company = new_company(engine)
    upload_id = pipeline.receive(
        engine,
        company_id=company,
        admin_user_id=None,
        file_name="p.csv",
        data=users_csv([person(i) for i in range(40)]),
        user_type="agent",
    )
    judge = processing.validate_rows
    judged: list[int] = []

    def judge_then_cancel(part, *args, **kwargs):
        judged.append(part.height)
        if len(judged) == 3:  # the admin presses Cancel while the third chunk is judged
            with session_scope(engine) as session:
                session.execute(update(BulkUpload).where(BulkUpload.id == upload_id).values(cancel_requested=True))
        return judge(part, *args, **kwargs)

    monkeypatch.setattr(processing, "validate_rows", judge_then_cancel)
    monkeypatch.setattr(processing, "WRITE_ROWS", 2)
    assert processing.process(engine, upload_id, limits=ReadLimits(), first_chunk=5, chunk=5) == UploadStatus.CANCELLED
    assert len(judged) < 8  # stopped at the first chunk written after the cancel
    assert _staged(engine, upload_id) == []
