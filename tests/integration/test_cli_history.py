"""`bulk-upload history` and `bulk-upload undo`, in real subprocesses, against a real database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.models import BulkUpload, utcnow
from tests.support.cli import cli
from tests.support.factories import person, users_csv


def imported(tmp_path, db_url, company, rows, name="u.csv") -> str:
    path = tmp_path / name
    path.write_bytes(users_csv(rows))
    code, doc, err = cli(db_url, "import", str(path), "--company", str(company), "--group", "Sales", "--json")
    assert code == 0, err
    return doc["upload_id"]


def test_history_lists_the_companys_uploads_newest_first_as_json(tmp_path, seeded):
    db_url, company = seeded
    first = imported(tmp_path, db_url, company, [person(1), person(2, countryprefix="+999")], "first.csv")
    with session_scope(get_engine(db_url)) as session:
        session.execute(update(BulkUpload).where(BulkUpload.id == first).values(created_at=utcnow() - timedelta(1)))
    second = imported(tmp_path, db_url, company, [person(3)], "second.csv")
    code, doc, _ = cli(db_url, "history", "--company", str(company), "--json")
    assert code == 0
    assert [{k: v for k, v in d.items() if k != "created_at"} for d in doc] == [
        {
            "id": second,
            "file_name": "second.csv",
            "status": "created",
            "source": "cli",
            "rows": 1,
            "created": 1,
            "failed": 0,
        },
        {
            "id": first,
            "file_name": "first.csv",
            "status": "created_with_failures",
            "source": "cli",
            "rows": 2,
            "created": 1,
            "failed": 1,
        },
    ]
    assert all(d["created_at"] for d in doc)
    code, other, _ = cli(db_url, "company", "create", "--name", "Other", "--seats", "5", "--json")
    assert cli(db_url, "history", "--company", str(other["id"]), "--json")[1] == []


def test_undo_previews_removes_and_answers_the_same_when_repeated(tmp_path, seeded):
    db_url, company = seeded
    upload_id = imported(tmp_path, db_url, company, [person(1), person(2)])
    code, preview, _ = cli(db_url, "undo", upload_id, "--company", str(company), "--dry-run", "--json")
    assert (code, preview) == (0, {"upload_id": upload_id, "removed": 2, "kept": [], "status": "done"})
    code, done, _ = cli(db_url, "undo", upload_id, "--company", str(company), "--json")
    assert (code, done) == (0, {"upload_id": upload_id, "removed": 2, "kept": [], "status": "undone"})
    code, again, _ = cli(db_url, "undo", upload_id, "--company", str(company), "--json")
    assert (code, again) == (0, done)
    assert cli(db_url, "history", "--company", str(company), "--json")[1][0]["status"] == "undone"
    # The emails are free again: the same file imports again.
    assert imported(tmp_path, db_url, company, [person(1), person(2)], "again.csv")


def test_undo_of_another_companys_upload_or_past_the_window_exits_2_with_a_code(tmp_path, seeded):
    db_url, company = seeded
    upload_id = imported(tmp_path, db_url, company, [person(1)])
    _, other, _ = cli(db_url, "company", "create", "--name", "Other", "--seats", "5", "--json")
    for extra in ((), ("--dry-run",)):
        code, doc, _ = cli(db_url, "undo", upload_id, "--company", str(other["id"]), *extra, "--json")
        assert (code, doc["error"]["code"]) == (2, "UPLOAD_NOT_FOUND")
    with session_scope(get_engine(db_url)) as session:
        session.execute(
            update(BulkUpload).where(BulkUpload.id == upload_id).values(finished_at=utcnow() - timedelta(8))
        )
    code, doc, _ = cli(db_url, "undo", upload_id, "--company", str(company), "--json")
    assert (code, doc["error"]["code"]) == (2, "UNDO_WINDOW_PASSED")
    assert "7 days" in doc["error"]["message"]
