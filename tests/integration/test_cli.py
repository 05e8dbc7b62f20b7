"""The command line end to end, in real subprocesses, against a real database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from bulk_upload_app.files.schema import COLUMN_NAMES
from tests.support.cli import cli
from tests.support.exports import google_workspace_csv, microsoft_365_csv, okta_csv
from tests.support.factories import person, users_csv


def test_db_upgrade_and_demo_seed_are_repeatable(db_url):
    assert cli(db_url, "db", "upgrade")[0] == 0
    first = cli(db_url, "demo-seed", "--json")[1]
    assert cli(db_url, "demo-seed", "--json")[1] == first


def test_the_demo_seed_is_refused_outside_demo_mode(db_url):
    code, doc, err = cli(db_url, "demo-seed", "--json", demo=False)
    assert code == 2 and doc is None and "BULK_UPLOAD_DEMO=1" in err


def test_company_create(db_url):
    code, doc, _ = cli(db_url, "company", "create", "--name", "Acme", "--seats", "5", "--json")
    assert code == 0 and isinstance(doc["id"], int)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_template(tmp_path, db_url, fmt):
    out = tmp_path / f"t.{fmt}"
    assert cli(db_url, "template", "--format", fmt, "--output", str(out))[0] == 0
    if fmt == "xlsx":
        assert [c.value for c in openpyxl.load_workbook(out).worksheets[0][1]] == list(COLUMN_NAMES)
    else:
        assert out.read_text("utf-8-sig").strip() == ",".join(COLUMN_NAMES)


def test_validate_without_company(tmp_path, db_url):
    path = tmp_path / "u.csv"
    path.write_bytes(
        users_csv(
            [person(1), person(2, email="nope"), person(3, email="PERSON1@example.com")],
            header=["First Name", *COLUMN_NAMES[1:]],
        )
    )
    code, doc, _ = cli(db_url, "validate", str(path), "--json")
    assert code == 0
    assert (doc["rows"], doc["valid"], doc["invalid"]) == (3, 1, 2)
    assert any('"First Name" was read as "firstname"' in n for n in doc["notices"])
    assert [(e["row"], e["column"], e["code"]) for e in doc["errors"]] == [
        (3, "email", "INVALID_EMAIL"),
        (4, "email", "DUPLICATE_EMAIL_IN_FILE"),
    ]
    assert all(e["message"] for e in doc["errors"])


def test_validate_with_company_checks_existing_emails(tmp_path, seeded):
    db_url, company = seeded
    path = tmp_path / "u.csv"
    path.write_bytes(users_csv([person(1), person(2, email="sam.okafor@demo-company.example.com")]))
    code, doc, _ = cli(db_url, "validate", str(path), "--company", str(company), "--json")
    assert code == 0 and [e["code"] for e in doc["errors"]] == ["EMAIL_ALREADY_EXISTS"]


@pytest.mark.parametrize(
    "content,name,code",
    [
        (b"", "u.csv", "EMPTY_FILE"),
        (b"\x00\x01\x02garbage\xff" * 50, "u.csv", "UNSUPPORTED_FILE"),
        (b"firstname,lastname,countryprefix\nA,B,+44\n", "u.csv", "MISSING_COLUMN"),
    ],
)
def test_validate_file_level_problem_exits_2(tmp_path, db_url, content, name, code):
    path = tmp_path / name
    path.write_bytes(content)
    status, doc, _ = cli(db_url, "validate", str(path), "--json")
    assert status == 2 and doc["error"]["code"] == code and doc["error"]["message"]


def test_import_creates_users_and_reports_failures(tmp_path, seeded):
    db_url, company = seeded
    path = tmp_path / "u.csv"
    path.write_bytes(users_csv([person(1), person(2, countryprefix="+999"), person(3)]))
    code, doc, err = cli(
        db_url,
        "import",
        str(path),
        "--company",
        str(company),
        "--user-type",
        "supervisor",
        "--group",
        "Sales",
        "--outbound-number",
        "+442071838750",
        "--skill",
        "English:4",
        "--skill",
        "Klingon:1",
        "--settings-from",
        "lena.fischer@demo-company.example.com",
        "--json",
    )
    assert code == 0, err
    assert doc["created"] == 2 and len(doc["upload_id"]) == 32
    assert doc["failed"] == [
        {
            "row": 3,
            "email": "person2@example.com",
            "code": "INVALID_COUNTRY_PREFIX",
            "message": doc["failed"][0]["message"],
        }
    ]
    code, again, _ = cli(db_url, "import", str(path), "--company", str(company), "--json")
    assert code == 0 and again["created"] == 0
    # Each taken email once: the import checks the account before staging and staging does not again.
    assert sorted((f["row"], f["code"]) for f in again["failed"]) == [
        (2, "EMAIL_ALREADY_EXISTS"),
        (3, "INVALID_COUNTRY_PREFIX"),
        (4, "EMAIL_ALREADY_EXISTS"),
    ]


def test_import_with_too_few_seats_exits_3_and_creates_nobody(tmp_path, seeded):
    db_url, company = seeded
    path = tmp_path / "u.csv"
    path.write_bytes(users_csv([person(i) for i in range(20)]))
    code, doc, _ = cli(db_url, "import", str(path), "--company", str(company), "--json")
    assert code == 3
    error = doc["error"]
    assert (error["code"], error["needed"], error["available"]) == ("SEATS_EXCEEDED", 20, 15)
    assert error["legacy_dashboard_url"] and "15" in error["message"]
    code, check, _ = cli(db_url, "validate", str(path), "--company", str(company), "--json")
    assert check["valid"] == 20


def test_import_rejects_an_unknown_group(tmp_path, seeded):
    db_url, company = seeded
    path = tmp_path / "u.csv"
    path.write_bytes(users_csv([person(1)]))
    code, doc, _ = cli(db_url, "import", str(path), "--company", str(company), "--group", "Nope", "--json")
    assert code == 4 and "Nope" in doc["error"]["message"]


def purge_cli(db_url: str, storage: Path, *args: str, **env: str) -> tuple[int, dict | None, str, str]:
    environment = {**os.environ, "REFLEX_DB_URL": db_url, "BULK_UPLOAD_STORAGE_DIR": str(storage), **env}
    done = subprocess.run(
        [sys.executable, "-m", "bulk_upload_app", "purge", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    document = json.loads(done.stdout) if "--json" in args and done.stdout.strip() else None
    return done.returncode, document, done.stdout, done.stderr


def test_purge_removes_what_is_due_once_and_prints_no_personal_data(tmp_path, db_url):
    from datetime import timedelta

    from sqlalchemy import update

    from bulk_upload_app.db import get_engine, session_scope
    from bulk_upload_app.models import BulkUpload, utcnow
    from bulk_upload_app.uploads import creating
    from tests.support.factories import new_company, stage

    engine = get_engine(db_url)
    company = new_company(engine)
    old_draft = stage(engine, company, [person(1, firstname="Zelda", email="zelda@secret.example.com")])
    fresh_draft = stage(engine, company, [person(2)])
    finished = stage(engine, company, [person(3, firstname="Yannick", email="yannick@secret.example.com", phone="")])
    creating.create_users(engine, company, finished)
    with session_scope(engine) as session:
        up = BulkUpload.__table__.c
        session.execute(
            update(BulkUpload.__table__).where(up.id == old_draft).values(updated_at=utcnow() - timedelta(days=15))
        )
        session.execute(
            update(BulkUpload.__table__).where(up.id == finished).values(finished_at=utcnow() - timedelta(days=31))
        )
    storage = tmp_path / "uploads"
    storage.mkdir()
    orphan, fresh = storage / f"{'e' * 32}.upload", storage / f"{'f' * 32}.upload"
    for path, age in ((orphan, 7200), (fresh, 60)):
        path.write_bytes(b"firstname\nZelda\n")
        os.utime(path, (utcnow().timestamp() - age,) * 2)

    code, doc, out, err = purge_cli(db_url, storage, "--json")
    assert code == 0, err
    assert doc == {
        "drafts_deleted": {"count": 1, "rows": 1, "upload_ids": [old_draft]},
        "rows_purged": {"count": 1, "rows": 1, "upload_ids": [finished]},
        "files_removed": {"count": 1, "files": [orphan.name]},
        "notifications_deleted": 0,
        "removed_anything": True,
    }
    assert not any(secret in (out + err).lower() for secret in ("zelda", "yannick", "secret.example"))
    assert fresh.exists() and not orphan.exists()
    with session_scope(engine, read_only=True) as session:
        assert session.get(BulkUpload, fresh_draft) is not None and session.get(BulkUpload, old_draft) is None

    code, doc, _, err = purge_cli(db_url, storage, "--json")
    assert code == 0 and doc["removed_anything"] is False, err
    assert [doc[k]["count"] for k in ("drafts_deleted", "rows_purged", "files_removed")] == [0, 0, 0]
    code, _, out, _ = purge_cli(db_url, storage)
    assert code == 0 and out.strip() == "Nothing to purge."


def test_purge_follows_the_configured_days_and_refuses_bad_ones(tmp_path, db_url):
    from datetime import timedelta

    from sqlalchemy import update

    from bulk_upload_app.db import get_engine, session_scope
    from bulk_upload_app.models import BulkUpload, utcnow
    from tests.support.factories import new_company, stage

    engine = get_engine(db_url)
    draft = stage(engine, new_company(engine), [person(1)])
    with session_scope(engine) as session:
        session.execute(
            update(BulkUpload.__table__).where(BulkUpload.id == draft).values(updated_at=utcnow() - timedelta(days=3))
        )
    code, doc, _, _ = purge_cli(db_url, tmp_path, "--json")
    assert code == 0 and doc["drafts_deleted"]["count"] == 0
    code, doc, _, _ = purge_cli(db_url, tmp_path, "--json", BULK_UPLOAD_DRAFT_DAYS="0")
    assert code == 4 and "BULK_UPLOAD_DRAFT_DAYS" in doc["error"]["message"]
    code, doc, out, err = purge_cli(db_url, tmp_path, BULK_UPLOAD_DRAFT_DAYS="2")
    assert code == 0 and out.splitlines() == [
        "Deleted 1 abandoned drafts (1 rows), purged the rows of 0 finished uploads (0 rows), "
        "removed 0 orphaned files, forgot 0 old notifications.",
        f"draft deleted: {draft}",
    ], err


def test_import_counts_seats_a_running_create_holds_and_exits_3(tmp_path, seeded):
    from bulk_upload_app.db import get_engine
    from tests.support.factories import running_create

    db_url, company = seeded  # 25 seats, 10 users
    running_create(get_engine(db_url), company, reserved=10)
    path = tmp_path / "u.csv"
    path.write_bytes(users_csv([person(i) for i in range(6)]))
    code, doc, _ = cli(db_url, "import", str(path), "--company", str(company), "--json")
    assert code == 3
    assert (doc["error"]["code"], doc["error"]["needed"], doc["error"]["available"]) == ("SEATS_EXCEEDED", 6, 5)


def test_import_whose_seats_go_while_it_stages_exits_3_with_the_same_document(tmp_path, db_url, monkeypatch, capsys):
    """The seats go between the CLI's own check and the create: the create refuses the batch whole."""
    import types

    from sqlalchemy import select

    from bulk_upload_app import cli as cli_module
    from bulk_upload_app.db import get_engine, session_scope
    from bulk_upload_app.models import BulkUpload, User
    from tests.support.factories import new_company, running_create

    engine = get_engine(db_url)
    company = new_company(engine, seats=10)
    running_create(engine, company, reserved=6)
    # The check before staging sees the seats still free (as it would just before another batch started).
    from bulk_upload_app.services import imports
    from bulk_upload_app.uploads import records

    monkeypatch.setattr(
        imports, "records", types.SimpleNamespace(**{**vars(records), "seat_problem": lambda *a, **k: None})
    )
    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    monkeypatch.setenv("BULK_UPLOAD_LEGACY_DASHBOARD_URL", "https://legacy.example/seats")
    path = tmp_path / "u.csv"
    path.write_bytes(users_csv([person(i) for i in range(5)]))
    code = cli_module.main(["import", str(path), "--company", str(company), "--json"])
    error = json.loads(capsys.readouterr().out)["error"]
    assert code == 3
    assert error == {
        "code": "SEATS_EXCEEDED",
        "message": error["message"],
        "needed": 5,
        "available": 4,
        "shortfall": 1,
        "legacy_dashboard_url": "https://legacy.example/seats",
    }
    with session_scope(engine, read_only=True) as session:
        assert session.exec(select(User.id).where(User.company_id == company)).all() == []
        statuses = (
            session.exec(
                select(BulkUpload.status).where(BulkUpload.company_id == company).order_by(BulkUpload.created_at)
            )
            .scalars()
            .all()
        )
    assert sorted(statuses) == ["creating", "draft"]  # the other batch's, and this one, still a draft


# ---------------------------------------------------------------- exports of other systems (issue 12)


@pytest.mark.parametrize("build", [google_workspace_csv, microsoft_365_csv, okta_csv])
def test_exports_validate_and_import_with_the_guessed_mapping(tmp_path, seeded, build):
    db_url, company = seeded
    path = tmp_path / f"{build.__name__}.csv"
    path.write_bytes(build(domain=f"{build.__name__.replace('_', '-')}.example.com"))
    code, doc, err = cli(db_url, "validate", str(path), "--json")
    assert code == 0, err
    assert (doc["rows"], doc["valid"]) == (3, 3), doc["errors"]
    assert any(n.startswith("Columns matched (guessed)") for n in doc["notices"])
    assert any("country prefix was derived" in n for n in doc["notices"])
    code, doc, err = cli(db_url, "import", str(path), "--company", str(company), "--json")
    assert code == 0, err
    assert doc["created"] == 3 and doc["failed"] == []
    assert any(n.startswith("Columns matched (guessed)") for n in doc["notices"])
    code, story, _ = cli(db_url, "audit", doc["upload_id"], "--json")
    assert any("columns guessed:" in line and "→email" in line for line in story["story"])


def test_map_overrides_a_guess_and_names_unknown_titles(tmp_path, db_url):
    path = tmp_path / "u.csv"
    path.write_bytes(
        users_csv(
            [("Ada", "Lovelace", "ada@example.com", "+44", "ada@home.example.com")],
            header=["Vorname", "Nachname", "Mail", "Vorwahl", "Private"],
        )
    )
    code, doc, err = cli(db_url, "validate", str(path), "--map", "Private=email", "--map", "Mail=ignore", "--json")
    assert code == 0, err
    assert doc["valid"] == 1 and any('"Private" → email' in n for n in doc["notices"])
    code, doc, _ = cli(db_url, "validate", str(path), "--map", "Nope=email", "--json")
    assert code == 4 and "Nope" in doc["error"]["message"]


def test_missing_column_names_the_best_candidates(tmp_path, db_url):
    path = tmp_path / "u.csv"
    path.write_bytes(
        users_csv([("Ada", "Lovelace", "n/a", "+44")], header=["firstname", "lastname", "Mail adr", "prefix"])
    )
    code, doc, _ = cli(db_url, "validate", str(path), "--json")
    assert code == 2 and doc["error"]["code"] == "MISSING_COLUMN"
    assert "'Mail adr'" in doc["error"]["message"]
    code, doc, _ = cli(db_url, "validate", str(path), "--map", "Mail adr=email", "--json")
    assert code == 0 and doc["invalid"] == 1  # matched; the value itself is no address
