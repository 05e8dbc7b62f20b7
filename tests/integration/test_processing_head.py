"""A big text file's head is judged before the whole file is read: what ends up staged is exactly
what reading the whole file first stages, whatever the head cut (quoted line breaks, later bytes
that change the encoding, rows the head can't tell from the rest), and a file found unusable
after its head was staged leaves nothing behind."""

from __future__ import annotations

import contextlib
import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bulk_upload_app.db import session_scope
from bulk_upload_app.errors import ErrorCode, FileProblem
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.files.schema import COLUMN_NAMES
from bulk_upload_app.models import BulkUpload, BulkUploadRow
from bulk_upload_app.uploads import pipeline, processing
from tests.support.factories import new_company, person

_EMAILS = st.sampled_from(["a@example.com", "A@example.com", "b@example.org", "bad", ""])
_NAMES = st.sampled_from(["Ada", "Grace Hopper", 'Line\nbreak "quoted"', "Zoë", "Ørsted, Hans", "=SUM(A1)"])


def _csv(rows: list[dict], *, late_note: bool = False) -> bytes:
    """The rows, after a blank first column when `late_note`, which only the last row fills: a
    file's head alone would not see that column."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    blank = [""] if late_note else []
    writer.writerow([*blank, *COLUMN_NAMES])
    for row in rows:
        writer.writerow(blank + [row.get(c, "") for c in COLUMN_NAMES])
    if late_note:
        writer.writerow(["note", *person(999).values()])
    return buffer.getvalue().encode()


def _staged(engine, upload_id: str) -> list[tuple]:
    with session_scope(engine, read_only=True) as session:
        rows = session.exec(
            select(BulkUploadRow).where(BulkUploadRow.upload_id == upload_id).order_by(BulkUploadRow.row_number)
        ).scalars()
        return [
            (
                r.row_number,
                tuple(getattr(r, c) for c in COLUMN_NAMES),
                sorted((e["column"], e["code"]) for e in r.errors),
            )
            for r in rows
        ]


def _process(engine, company: int, data: bytes, head_bytes: int, monkeypatch) -> str:
    monkeypatch.setattr(processing, "HEAD_BYTES", head_bytes)
    upload_id = pipeline.receive(
        engine, company_id=company, admin_user_id=None, file_name="big.csv", data=data, user_type="agent"
    )
    with contextlib.suppress(FileProblem):  # refused either way, or neither: compared by the caller
        processing.process(engine, upload_id, limits=ReadLimits(), first_chunk=3, chunk=4)
    return upload_id


def _outcome(engine, upload_id: str) -> tuple:
    with session_scope(engine, read_only=True) as session:
        upload = session.get(BulkUpload, upload_id)
        counts = (upload.status, upload.problem, upload.total_rows, upload.valid_rows, upload.file_rows)
    return counts, _staged(engine, upload_id)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cells=st.lists(st.tuples(_EMAILS, _NAMES), min_size=2, max_size=30),
    head_bytes=st.integers(40, 400),
    late_note=st.booleans(),
    late_latin1=st.booleans(),
)
def test_judging_the_head_first_stages_what_reading_the_whole_file_stages(
    engine, monkeypatch, cells, head_bytes, late_note, late_latin1
):
    company = new_company(engine)
    rows = [person(i, email=email, firstname=name) for i, (email, name) in enumerate(cells)]
    data = _csv(rows, late_note=late_note)
    if late_latin1:  # a Windows-1252 byte past the head: the whole file is not UTF-8
        data += "Late,Row,late@example.com,+44,07400999999\n".replace("Late", "L\xe4te").encode("cp1252")
    whole_first = _outcome(engine, _process(engine, company, data, 10**9, monkeypatch))
    head_first = _outcome(engine, _process(engine, new_company(engine), data, head_bytes, monkeypatch))
    assert head_first == whole_first


def test_a_file_unusable_past_its_head_is_rejected_with_nothing_staged(engine, monkeypatch):
    company = new_company(engine)
    data = _csv([person(i) for i in range(200)]) + b"\0binary tail\n"
    monkeypatch.setattr(processing, "HEAD_BYTES", 1024)
    upload_id = pipeline.receive(
        engine, company_id=company, admin_user_id=None, file_name="big.csv", data=data, user_type="agent"
    )
    with pytest.raises(FileProblem) as refused:
        processing.process(engine, upload_id, limits=ReadLimits(), first_chunk=5, chunk=50)
    assert refused.value.code is ErrorCode.UNSUPPORTED_FILE
    with session_scope(engine, read_only=True) as session:
        upload = session.get(BulkUpload, upload_id)
        assert (upload.status, upload.total_rows, upload.valid_rows) == ("rejected", 0, 0)
        assert upload.problem.startswith("UNSUPPORTED_FILE: ")
        assert session.exec(select(BulkUploadRow).where(BulkUploadRow.upload_id == upload_id)).first() is None


def test_the_head_is_staged_before_the_whole_file_is_read(engine, monkeypatch):
    """The first rows are in the draft while the whole file has not been read yet."""
    company = new_company(engine)
    data = _csv([person(i) for i in range(300)])
    monkeypatch.setattr(processing, "HEAD_BYTES", 2048)
    upload_id = pipeline.receive(
        engine, company_id=company, admin_user_id=None, file_name="big.csv", data=data, user_type="agent"
    )
    seen_when_reading_whole: list[int] = []
    read_raw = processing.read_raw

    def spying_read_raw(content, name, limits):
        if content == data:
            with session_scope(engine, read_only=True) as session:
                upload = session.get(BulkUpload, upload_id)
                seen_when_reading_whole.extend([upload.total_rows, upload.file_rows])
        return read_raw(content, name, limits)

    monkeypatch.setattr(processing, "read_raw", spying_read_raw)
    processing.process(engine, upload_id, limits=ReadLimits(), first_chunk=5, chunk=50)
    assert seen_when_reading_whole == [5, 300]  # the first chunk staged; the rows estimated from the lines
    with session_scope(engine, read_only=True) as session:
        upload = session.get(BulkUpload, upload_id)
        assert (upload.status, upload.total_rows, upload.file_rows) == ("draft", 300, 300)


def test_a_column_whose_meaning_only_the_whole_file_shows_is_read_as_the_whole_file_says(engine, monkeypatch):
    """The head's few country prefixes look like calling codes; the whole file's show ISO countries
    (Okta's countryCode): the upload ends as reading the whole file first ends it, head rows gone."""
    rows = [person(i, countryprefix="+44" if i < 3 else "") for i in range(60)]
    rows += [person(i, countryprefix="GB") for i in range(60, 300)]
    data = _csv(rows)

    def ended(head_bytes: int) -> tuple:
        upload_id = _process(engine, new_company(engine), data, head_bytes, monkeypatch)
        with session_scope(engine, read_only=True) as session:
            step = session.get(BulkUpload, upload_id).wizard_step
        return step, _outcome(engine, upload_id)

    whole_first = ended(10**9)
    assert ended(1024) == whole_first
