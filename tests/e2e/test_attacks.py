"""The demo admin (company A) attacking: guessed and foreign draft URLs, crafted websocket events
with company B's ids, formula cells, and what is left in the upload storage folder.

Crafted events: Reflex's frontend calls window.__reflex_otel.onEventSend(event) just before
socket.emit("event", event) (reflex_base/.templates/web/utils/state.js). An init script installs
that hook and, when a rewrite is queued, replaces the outgoing event's name and payload: the
server receives exactly what a hand-written websocket client would send, with the page's own
token. A positive control (editing A's own row by a crafted event) proves the rewrite lands.

Not done here: an over-limit upload (the server limit is 100 MB; the streaming cut-off in
UploadState.receive_file is not driven by this file) - the engine's byte limit is in
tests/unit/test_hostile_files.py.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import uuid
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.files.reading import ReadLimits
from bulk_upload_app.models import BulkUpload, BulkUploadRow, Company, Group, User
from bulk_upload_app.uploads.batch import BatchSpec
from bulk_upload_app.uploads.pipeline import draft_from_file
from tests.support.browser import REWRITER, record_frames, wait_connected
from tests.support.factories import unique
from tests.support.wizard_page import REFUSAL

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def company_b(app_server):
    """Company B with a group, a user with settings of its own, and a draft of 3 secret rows."""
    engine = get_engine(app_server.db_url)
    tag = uuid.uuid4().hex[:8]
    secret = f"Zyxel{tag}"
    with session_scope(engine) as session:
        company = Company(name=f"Company B {tag}", seats=10, default_settings={})
        session.add(company)
        session.flush()
        group = Group(company_id=company.id, name=f"B-group-{tag}")
        user = User(
            company_id=company.id,
            firstname=f"Bsecretuser{tag}",
            lastname="B",
            email=f"b-user-{tag}@b.example.com",
            country_prefix="+44",
            extension=1000,
            user_type="agent",
            settings={"sms": True, "marker": tag},
        )
        session.add_all([group, user])
        session.flush()
        company_id, group_id, user_id = company.id, group.id, user.id
    data = (
        "firstname,lastname,email,countryprefix,phone\n"
        + "".join(f"{secret}{i},Bsecret,b{i}-{tag}@b.example.com,+44,\n" for i in range(3))
    ).encode()
    upload_id = draft_from_file(
        engine, company_id=company_id, admin_user_id=None, file_name=f"{secret}.csv", data=data, limits=ReadLimits()
    )
    with session_scope(engine, read_only=True) as session:
        rows = (
            session.exec(
                select(BulkUploadRow).where(BulkUploadRow.upload_id == upload_id).order_by(BulkUploadRow.row_number)
            )
            .scalars()
            .all()
        )
        row_ids = [r.id for r in rows]
    return {
        "company_id": company_id,
        "group_id": group_id,
        "user_id": user_id,
        "upload_id": upload_id,
        "row_ids": row_ids,
        "secret": secret,
        "tag": tag,
    }


def b_snapshot(db_url: str, b: dict) -> list:
    with session_scope(get_engine(db_url), read_only=True) as session:
        rows = (
            session.exec(
                select(BulkUploadRow).where(BulkUploadRow.upload_id == b["upload_id"]).order_by(BulkUploadRow.id)
            )
            .scalars()
            .all()
        )
        upload = session.get(BulkUpload, b["upload_id"])
        user = session.get(User, b["user_id"])
        return [
            [(r.id, r.firstname, r.email, r.outcome, r.is_valid) for r in rows],
            (upload.status, upload.version, upload.batch, upload.total_rows),
            (user.firstname, user.settings),
        ]


def test_guessed_draft_url_finds_nothing(page):
    frames = record_frames(page)
    page.goto(f"/users/bulk-upload/{secrets.token_hex(16)}")
    wait_connected(page)
    expect(page.get_by_role("alert")).to_contain_text(REFUSAL)
    expect(page.get_by_text("All rows:")).to_have_count(0)
    assert not any("@" in f and "bulk_upload_row" in f for f in frames)


def test_company_b_draft_is_refused_and_never_sent(page, app_server, company_b):
    frames = record_frames(page)
    before = b_snapshot(app_server.db_url, company_b)
    page.goto(f"/users/bulk-upload/{company_b['upload_id']}")
    wait_connected(page)
    expect(page.get_by_role("alert")).to_contain_text(REFUSAL)
    page.wait_for_timeout(1000)
    html = page.content()
    for leak in (company_b["secret"], "Bsecret", f"b0-{company_b['tag']}"):
        assert leak not in html
        assert not any(leak in f for f in frames), f"{leak} sent over the websocket"
    assert b_snapshot(app_server.db_url, company_b) == before


def upload_csv(page, path: Path) -> None:
    page.goto("/users/bulk-upload?step=upload")
    wait_connected(page)
    expect(page.get_by_role("heading", name="Upload files")).to_be_visible()
    page.locator("#users_file input[type=file]").set_input_files(str(path))
    expect(page.get_by_text(path.name)).to_be_visible()
    page.get_by_role("button", name="Upload files").click()
    expect(page.get_by_text("All rows:")).to_be_visible(timeout=30_000)


def storage_dir(app_server) -> Path:
    return app_server.log_path.parent / "uploads"


FORMULAS = ['=HYPERLINK("http://evil.example/?x","click")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"]


def test_formula_cells_stay_text_and_reports_are_safe(page, app_server, tmp_path):
    tag = unique("fx")
    path = tmp_path / f"formulas-{tag}.csv"
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["firstname", "lastname", "email", "countryprefix", "phone"])
    for i, value in enumerate(FORMULAS):
        writer.writerow([value, "Fx", f"fx{i}.{tag}@example.com", "+999", ""])  # bad prefix: every row in the report
    path.write_text(out.getvalue())
    upload_csv(page, path)
    assert list(storage_dir(app_server).iterdir()) == [], "the upload was not deleted after reading"
    for row, value in enumerate(FORMULAS, start=2):
        expect(page.get_by_role("textbox", name=f"firstname of row {row}", exact=True)).to_have_value(value)

    page.get_by_role("button", name="Download rows with errors").click()
    with page.expect_download() as got:
        page.get_by_role("menuitem", name="CSV").click()
    text = Path(got.value.path()).read_text(encoding="utf-8-sig")
    report = list(csv.reader(io.StringIO(text)))
    assert [r[0] for r in report[1:]] == ["'" + v for v in FORMULAS]
    assert all(not v.startswith(("=", "+", "-", "@", "\t", "\r")) for r in report[1:] for v in r)

    page.get_by_role("button", name="Download rows with errors").click()
    with page.expect_download() as got:
        page.get_by_role("menuitem", name="Excel (.xlsx)").click()
    saved = tmp_path / "report.xlsx"
    got.value.save_as(saved)
    sheet = openpyxl.load_workbook(saved).worksheets[0]
    cells = [sheet.cell(r, 1) for r in range(2, 2 + len(FORMULAS))]
    assert [c.value for c in cells] == FORMULAS and {c.data_type for c in cells} == {"s"}


def event_name(page, handler: str, state: str) -> str:
    """The full name of `state.handler` as the page sends it (checked against a real ReviewState.set_search)."""
    from bulk_upload_app.ui.wizard.review import ReviewState
    from bulk_upload_app.ui.wizard.settings import SettingsState

    sent = page.evaluate("() => window.__sent.map(e => e.name)")
    assert f"{ReviewState.get_full_name()}.set_search" in sent, sent
    states = {"review_state": ReviewState, "settings_state": SettingsState}
    return f"{states[state].get_full_name()}.{handler}"


def send_crafted(page, name: str, payload: dict) -> None:
    """Queue a rewrite, then make the page send an event (type in the search box) that carries it;
    return once the server has handled it."""
    count = page.evaluate("() => window.__sent.length")
    page.evaluate("([n, p]) => window.__rewrites.push({ name: n, payload: p })", [name, payload])
    box = page.get_by_role("searchbox", name="Search rows")
    box.fill(secrets.token_hex(2))
    page.wait_for_function(f"() => window.__sent.length > {count} && window.__rewrites.length === 0")
    # The server handles a tab's events one after the other: once the page shows its answer to
    # the next, real one (a search that matches nothing), the crafted one is done.
    box.fill(f"no-such-row-{secrets.token_hex(4)}")
    expect(page.get_by_text("No rows match.")).to_be_visible()
    box.fill("")
    expect(page.get_by_text("No rows match.")).to_have_count(0)


def test_crafted_events_with_company_b_ids_change_nothing_of_b(page, app_server, company_b, tmp_path):
    page.context.add_init_script(REWRITER)
    frames = record_frames(page)
    tag = unique("atk")
    path = tmp_path / f"attacker-{tag}.csv"
    path.write_text(
        "firstname,lastname,email,countryprefix,phone\n"
        f"Own,Row,own.{tag}@example.com,+44,\nOther,Row,other.{tag}@example.com,+44,\n"
    )
    upload_csv(page, path)
    upload_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    page.get_by_role("searchbox", name="Search rows").fill("own")  # a real event, to learn the names
    expect(page.get_by_role("textbox", name="email of row 3", exact=True)).to_have_count(0)
    page.get_by_role("searchbox", name="Search rows").fill("")
    expect(page.get_by_role("textbox", name="email of row 3", exact=True)).to_be_visible()
    engine = get_engine(app_server.db_url)
    with session_scope(engine, read_only=True) as session:
        own_ids = (
            session.exec(
                select(BulkUploadRow.id).where(BulkUploadRow.upload_id == upload_id).order_by(BulkUploadRow.row_number)
            )
            .scalars()
            .all()
        )
    before = b_snapshot(app_server.db_url, company_b)
    review = lambda h: event_name(page, h, "review_state")  # noqa: E731
    settings = lambda h: event_name(page, h, "settings_state")  # noqa: E731

    # positive control: the crafted event path works, on A's own row
    send_crafted(page, review("edit_cell"), {"row_id": str(own_ids[0]), "column": "lastname", "value": f"Crafted{tag}"})
    with session_scope(engine, read_only=True) as session:
        assert session.get(BulkUploadRow, own_ids[0]).lastname == f"Crafted{tag}", (
            "crafted events do not reach the server"
        )

    for row_id in company_b["row_ids"]:
        send_crafted(
            page, review("edit_cell"), {"row_id": str(row_id), "column": "email", "value": "pwned@evil.example"}
        )
        send_crafted(page, review("remove_row"), {"row_id": str(row_id)})
    send_crafted(page, review("remove_row"), {"row_id": f"{company_b['row_ids'][0]} OR 1=1"})
    send_crafted(page, review("edit_cell"), {"row_id": {"$ne": 0}, "column": "email", "value": "x"})
    send_crafted(page, settings("toggle_group"), {"group_id": str(company_b["group_id"]), "checked": True})
    send_crafted(page, settings("load_existing"), {"user_id": str(company_b["user_id"])})

    assert b_snapshot(app_server.db_url, company_b) == before, "company B's draft or user changed"
    with session_scope(engine, read_only=True) as session:
        mine = session.get(BulkUpload, upload_id)
        spec = BatchSpec.from_json(mine.batch)
        assert company_b["group_id"] not in spec.group_ids
        assert not (spec.settings or {}).get("marker"), "company B's user settings were loaded into A's batch"
        assert sorted(
            session.exec(select(BulkUploadRow.id).where(BulkUploadRow.upload_id == upload_id)).scalars()
        ) == sorted(own_ids)
    for leak in (company_b["secret"], f"Bsecretuser{company_b['tag']}", f"B-group-{company_b['tag']}"):
        assert leak not in page.content()
        assert not any(leak in f for f in frames), f"{leak} sent to company A's browser"
    sent = page.evaluate("() => window.__sent.map(e => e.name)")
    assert sum(".edit_cell" in n or ".remove_row" in n for n in sent) >= 2 * len(company_b["row_ids"]) + 3
    print("\ncrafted events sent:", json.dumps([n.rsplit(".", 1)[-1] for n in sent]))
