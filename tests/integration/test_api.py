"""The import API (/api/v1) over HTTP (httpx against the app's ASGI object, wrapped by http_guard as
Reflex wraps it), on SQLite and on PostgreSQL: every endpoint, tenancy, auth, idempotency, limits,
and webhooks POSTed to a real HTTP server (a thread of this process) through the outbox.

Background work (judging a file, creating users) runs in the API's own threads; tests poll the
upload as a client would until it leaves "processing"/"creating".
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import httpx
import openpyxl
import pytest
from sqlalchemy import func, select

from bulk_upload_app.api import create_api
from bulk_upload_app.db import session_scope
from bulk_upload_app.delivery import outbox
from bulk_upload_app.http_guard import http_guard
from bulk_upload_app.models import (
    ApiIdempotency,
    BulkUpload,
    Group,
    GroupMember,
    OutboxMessage,
    Skill,
    User,
    UserSkill,
    utcnow,
)
from bulk_upload_app.services import api_keys, history
from tests.support.factories import count_users, new_company, person, users_csv

# Files are judged and users created by a dramatiq worker on the test Redis, in this process.
pytestmark = [pytest.mark.anyio, pytest.mark.redis]
BASE = "http://api.test"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def api_env(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    monkeypatch.setenv("BULK_UPLOAD_STORAGE_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("BULK_UPLOAD_LEGACY_DASHBOARD_URL", "https://dashboard.example.com/billing/seats")
    monkeypatch.delenv("BULK_UPLOAD_REDIS_URL", raising=False)
    monkeypatch.delenv("BULK_UPLOAD_WEBHOOK_ALLOW_INSECURE", raising=False)
    return db_url


@pytest.fixture
async def client(api_env, request):
    request.getfixturevalue("queue")  # a worker on the test Redis judges files and creates users
    transport = httpx.ASGITransport(app=http_guard(create_api()))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


def key_for(company_id: int, name: str = "script") -> str:
    return api_keys.create_key(company_id, name, created_by="test")[1]


def auth(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


async def upload(client, key, rows=None, *, data=None, content=None, name="users.csv", headers=None):
    body = content if content is not None else users_csv(rows or [person(1)])
    return await client.post(
        "/api/v1/user-imports",
        headers=auth(key, **(headers or {})),
        files={"file": (name, body, "text/csv")},
        data={"user_type": "agent", **(data or {})},
    )


async def settled(client, key, location, waiting=("processing", "creating")) -> dict:
    """The upload once it is neither being read nor created (polled as a client polls)."""
    for _ in range(600):
        found = await client.get(location, headers=auth(key))
        assert found.status_code == 200, found.text
        body = found.json()
        busy = body["status"] in waiting or ("creating" in waiting and body["create_requested"])
        if not busy:
            return body
        await anyio.sleep(0.05)
    raise AssertionError(f"{location} still {body['status']}")


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["detail"] and body["title"]
    return body


async def test_upload_poll_fix_list_create_report(client, engine):
    company = new_company(engine, seats=10)
    key = key_for(company)
    rows = [person(1), person(2), person(3, email="not-an-email"), person(4, phone="12")]
    started = await upload(client, key, rows)
    assert started.status_code == 202
    location = started.headers["location"]
    assert location == f"/api/v1/user-imports/{started.json()['id']}"
    assert int(started.headers["retry-after"]) > 0
    # http_guard's headers reach the API's answers too
    assert started.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors" in started.headers["content-security-policy"]

    judged = await settled(client, key, location)
    assert judged["status"] == "draft" and judged["source"] == "api"
    assert judged["progress"] == {"judged": 4, "total": 4}
    assert judged["counts"] == {"rows": 4, "valid": 2, "invalid": 2, "created": 0, "failed": 0}
    assert judged["links"]["wizard"].endswith(f"/users/bulk-upload/{judged['id']}")

    invalid = (await client.get(f"{location}/rows", params={"result": "invalid"}, headers=auth(key))).json()
    assert [r["row"] for r in invalid["data"]] == [4, 5]
    assert invalid["data"][0]["values"]["email"] == "not-an-email"
    assert invalid["data"][0]["errors"] == [
        {"column": "email", "code": "INVALID_EMAIL", "message": invalid["data"][0]["errors"][0]["message"]}
    ]
    assert invalid["data"][1]["errors"][0]["code"] == "INVALID_PHONE_NUMBER"
    assert invalid["next_cursor"] is None

    created = await client.post(f"{location}/create", headers=auth(key))
    assert created.status_code == 202 and created.headers["location"] == location
    done = await settled(client, key, location)
    assert done["status"] == "done"
    assert done["counts"] == {"rows": 4, "valid": 2, "invalid": 2, "created": 2, "failed": 0}
    assert count_users(engine, company) == 2
    made = (await client.get(f"{location}/rows", params={"result": "created"}, headers=auth(key))).json()
    assert [r["values"]["email"] for r in made["data"]] == ["person1@example.com", "person2@example.com"]
    assert (await client.get(f"{location}/rows", params={"result": "failed"}, headers=auth(key))).json()["data"] == []

    report = await client.get(f"{location}/report.csv", headers=auth(key))
    assert report.status_code == 200 and report.headers["content-type"].startswith(CSV)
    lines = list(csv.DictReader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert [line["outcome"] for line in lines] == ["created", "created", "not created (errors)", "not created (errors)"]
    xlsx = await client.get(f"{location}/report.xlsx", headers=auth(key))
    assert xlsx.headers["content-type"] == XLSX
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.max_row == 5

    listed = (await client.get("/api/v1/user-imports", headers=auth(key))).json()
    assert [i["id"] for i in listed["data"]] == [done["id"]]
    lines, _ = history.history_page(company)
    assert [(line.id, line.source) for line in lines] == [(done["id"], "api")]


async def test_create_true_creates_once_judged_with_the_settings(client, engine, demo_company):
    key = key_for(demo_company)
    settings = {
        "use_company_settings": False,
        "settings": {"international_calls": True, "call_history_access": "groups"},
        "groups": ["Sales"],
        "skills": [{"name": "Spanish", "level": 4}],
    }
    started = await upload(
        client,
        key,
        [person(1), person(2)],
        data={"create": "true", "settings": json.dumps(settings), "notify": "ops@example.com"},
    )
    assert started.status_code == 202, started.text
    assert started.json()["create_requested"] is True
    done = await settled(client, key, started.headers["location"])
    assert done["status"] == "done" and done["counts"]["created"] == 2
    with session_scope(engine) as session:
        told = session.exec(select(OutboxMessage).where(OutboxMessage.upload_id == done["id"])).scalars().all()
        assert [(m.kind, m.recipients) for m in told] == [("email", ["ops@example.com"])]
        users = session.exec(select(User).where(User.email == "person1@example.com")).scalars().all()
        assert users[0].settings["international_calls"] is True
        assert users[0].settings["call_history_access"] == "groups"
        group = (
            session.exec(
                select(Group.name)
                .join(GroupMember, GroupMember.group_id == Group.id)
                .where(GroupMember.user_id == users[0].id)
            )
            .scalars()
            .all()
        )
        assert group == ["Sales"]
        skill = session.exec(
            select(Skill.name, UserSkill.level)
            .join(UserSkill, UserSkill.skill_id == Skill.id)
            .where(UserSkill.user_id == users[0].id)
        ).all()
        assert [tuple(s) for s in skill] == [("Spanish", 4)]


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"groups": ["No such group"]}, "No such group"),
        ({"use_company_settings": False, "settings": {"sms": "maybe"}}, "on or off"),
        ({"colour": "blue"}, "colour"),
        ({"skills": [{"name": "Spanish", "level": 9}]}, "Skill level"),
    ],
)
async def test_settings_that_cannot_be_used_are_422_and_nothing_is_kept(
    client, engine, demo_company, settings, fragment
):
    key = key_for(demo_company)
    refused = await upload(client, key, data={"settings": json.dumps(settings)})
    body = assert_problem(refused, 422, "INVALID_SETTINGS")
    assert fragment in body["detail"]
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(BulkUpload)).scalar_one() == 0


async def test_bad_forms_are_problems(client, engine):
    key = key_for(new_company(engine))
    assert_problem(await upload(client, key, data={"user_type": "wizard"}), 422, "INVALID_REQUEST")
    assert_problem(await upload(client, key, data={"create": "perhaps"}), 422, "INVALID_REQUEST")
    assert_problem(await upload(client, key, data={"notify": "nobody"}), 422, "INVALID_REQUEST")
    assert_problem(await upload(client, key, data={"settings": "[1]"}), 422, "INVALID_REQUEST")
    no_file = await client.post("/api/v1/user-imports", headers=auth(key), data={"user_type": "agent"})
    assert_problem(no_file, 415, "INVALID_REQUEST")  # a form without a file part is url-encoded
    as_json = await client.post("/api/v1/user-imports", headers=auth(key), json={"user_type": "agent"})
    assert_problem(as_json, 415, "INVALID_REQUEST")


async def test_a_file_over_the_limit_is_413_before_it_is_all_read(client, engine, monkeypatch, tmp_path):
    monkeypatch.setenv("BULK_UPLOAD_MAX_FILE_MB", "1")
    key = key_for(new_company(engine))
    big = users_csv([person(i) for i in range(30_000)])
    assert len(big) > 1024 * 1024
    assert_problem(await upload(client, key, content=big), 413, "FILE_TOO_LARGE")
    assert not list((tmp_path / "uploads").glob("*.upload"))  # the partial file is gone


async def test_an_unreadable_file_ends_failed_with_its_problem(client, engine):
    key = key_for(new_company(engine))
    started = await upload(client, key, content=b"\x00\x01PK\x03\x04garbage" * 10, name="users.xlsx")
    done = await settled(client, key, started.headers["location"])
    assert done["status"] == "rejected"
    assert done["problem"]["code"] == "UNSUPPORTED_FILE" and done["problem"]["message"]


async def test_columns_we_cannot_match_wait_for_the_wizard(client, engine):
    key = key_for(new_company(engine))
    odd = users_csv([("a", "b", "c")], header=["Colour", "Shape", "Size"])
    started = await upload(client, key, content=odd, data={"create": "true"})
    found = await settled(client, key, started.headers["location"], waiting=("processing",))
    assert found["status"] == "draft" and found["step"] == "match"
    refused = await client.post(f"{started.headers['location']}/create", headers=auth(key))
    assert "wizard" in assert_problem(refused, 409, "UPLOAD_BUSY")["detail"]


async def test_a_seat_shortage_is_409_and_nothing_is_created(client, engine):
    company = new_company(engine, seats=2)
    key = key_for(company)
    started = await upload(client, key, [person(i) for i in range(3)])
    location = started.headers["location"]
    await settled(client, key, location)
    refused = await client.post(f"{location}/create", headers=auth(key))
    body = assert_problem(refused, 409, "SEATS_EXCEEDED")
    assert (body["needed"], body["available"]) == (3, 2)
    assert body["legacy_dashboard_url"] == "https://dashboard.example.com/billing/seats"
    assert count_users(engine, company) == 0
    assert (await client.get(location, headers=auth(key))).json()["status"] == "draft"


async def test_create_true_with_too_few_seats_keeps_the_problem(client, engine):
    company = new_company(engine, seats=1)
    key = key_for(company)
    started = await upload(client, key, [person(1), person(2)], data={"create": "1"})
    found = await settled(client, key, started.headers["location"])
    assert found["status"] == "draft" and found["problem"]["code"] == "SEATS_EXCEEDED"
    assert count_users(engine, company) == 0


async def test_cancel_and_undo(client, engine):
    company = new_company(engine, seats=10)
    key = key_for(company)
    first = await upload(client, key, [person(1)])
    await settled(client, key, first.headers["location"])
    cancelled = await client.post(f"{first.headers['location']}/cancel", headers=auth(key))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert_problem(await client.post(f"{first.headers['location']}/create", headers=auth(key)), 409, "UPLOAD_BUSY")

    second = await upload(client, key, [person(2), person(3)], data={"create": "true"})
    location = second.headers["location"]
    assert (await settled(client, key, location))["counts"]["created"] == 2
    assert_problem(await client.post(f"{location}/cancel", headers=auth(key)), 409, "UPLOAD_BUSY")
    preview = await client.post(f"{location}/undo", headers=auth(key), json={"dry_run": True})
    assert preview.json() == {
        "upload_id": second.json()["id"],
        "removed": 2,
        "kept": [],
        "status": "done",
        "dry_run": True,
    }
    assert count_users(engine, company) == 2
    undone = await client.post(f"{location}/undo", headers=auth(key))
    assert undone.status_code == 200 and undone.json()["removed"] == 2 and undone.json()["status"] == "undone"
    assert count_users(engine, company) == 0
    again = await client.post(f"{location}/undo", headers=auth(key))  # says what the undo did, does nothing more
    assert again.status_code == 200 and again.json()["status"] == "undone" and again.json()["removed"] == 2
    assert_problem(await client.post(f"{location}/undo", headers=auth(key), json={"dry": 1}), 422, "INVALID_REQUEST")


async def test_lists_are_paged_by_cursor_and_filtered(client, engine):
    key = key_for(new_company(engine))
    ids = []
    for i in range(5):
        started = await upload(client, key, [person(i)])
        ids.append(started.json()["id"])
        await settled(client, key, started.headers["location"])
    await client.post(f"/api/v1/user-imports/{ids[0]}/cancel", headers=auth(key))
    seen, cursor = [], ""
    while True:
        page = (
            await client.get("/api/v1/user-imports", params={"limit": 2, "cursor": cursor}, headers=auth(key))
        ).json()
        seen += [i["id"] for i in page["data"]]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert seen == list(reversed(ids))
    cancelled = (await client.get("/api/v1/user-imports", params={"status": "cancelled"}, headers=auth(key))).json()
    assert [i["id"] for i in cancelled["data"]] == [ids[0]]
    bad = await client.get("/api/v1/user-imports", params={"cursor": "nonsense!"}, headers=auth(key))
    assert_problem(bad, 422, "INVALID_REQUEST")
    assert_problem(
        await client.get("/api/v1/user-imports", params={"status": "lost"}, headers=auth(key)), 422, "INVALID_REQUEST"
    )

    started = await upload(client, key, [person(i, email="x") for i in range(7)])
    location = started.headers["location"]
    await settled(client, key, location)
    rows, cursor = [], ""
    while True:
        page = (await client.get(f"{location}/rows", params={"limit": 3, "cursor": cursor}, headers=auth(key))).json()
        rows += [r["row"] for r in page["data"]]
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert rows == list(range(2, 9))


async def test_another_companys_key_finds_nothing(client, engine):
    a, b = new_company(engine, seats=10, name="A"), new_company(engine, seats=10, name="B")
    key_a, key_b = key_for(a), key_for(b)
    done = await upload(client, key_a, [person(1)], data={"create": "true"})
    location = done.headers["location"]
    await settled(client, key_a, location)
    draft = await upload(client, key_a, [person(2)])
    await settled(client, key_a, draft.headers["location"])
    attacks = [
        client.get(location, headers=auth(key_b)),
        client.get(f"{location}/rows", headers=auth(key_b)),
        client.get(f"{location}/rows", params={"result": "created"}, headers=auth(key_b)),
        client.get(f"{location}/report.csv", headers=auth(key_b)),
        client.get(f"{location}/report.xlsx", headers=auth(key_b)),
        client.post(f"{location}/undo", headers=auth(key_b), json={"dry_run": True}),
        client.post(f"{location}/undo", headers=auth(key_b)),
        client.post(f"{location}/cancel", headers=auth(key_b)),
        client.post(f"{draft.headers['location']}/create", headers=auth(key_b)),
        client.post(f"{draft.headers['location']}/cancel", headers=auth(key_b)),
    ]
    for attack in attacks:
        assert_problem(await attack, 404, "UPLOAD_NOT_FOUND")
    assert (await client.get("/api/v1/user-imports", headers=auth(key_b))).json()["data"] == []
    assert count_users(engine, a) == 1 and count_users(engine, b) == 0
    assert (await client.get(draft.headers["location"], headers=auth(key_a))).json()["status"] == "draft"


async def test_missing_unknown_and_revoked_keys_are_401(client, engine):
    company = new_company(engine)
    key_id, key = api_keys.create_key(company, "soon revoked", created_by="test")
    assert (await client.get("/api/v1/user-imports", headers=auth(key))).status_code == 200
    api_keys.revoke_key(company, key_id)
    for headers in ({}, auth(key), auth("bu_live_" + "x" * 43), {"Authorization": f"Basic {key}"}):
        refused = await client.get("/api/v1/user-imports", headers=headers)
        assert_problem(refused, 401, "UNAUTHORIZED")
        assert refused.headers["www-authenticate"].startswith("Bearer")
    refused = await client.post(
        "/api/v1/user-imports", headers=auth(key), files={"file": ("u.csv", b"x")}, data={"user_type": "agent"}
    )
    assert_problem(refused, 401, "UNAUTHORIZED")
    assert_problem(await client.get("/api/v1/nowhere", headers=auth(key)), 404, "NOT_FOUND")


async def test_the_same_idempotency_key_gives_the_same_answer(client, engine):
    a, b = new_company(engine, seats=10, name="A"), new_company(engine, seats=10, name="B")
    key_a, key_b = key_for(a), key_for(b)
    first = await upload(client, key_a, [person(1)], headers={"Idempotency-Key": "import-1"})
    again = await upload(client, key_a, [person(1)], headers={"Idempotency-Key": "import-1"})
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    other = await upload(client, key_a, [person(2)], headers={"Idempotency-Key": "import-1"})
    assert_problem(other, 422, "IDEMPOTENCY_KEY_REUSED")
    # keys are per company: B's "import-1" is its own
    theirs = await upload(client, key_b, [person(1, domain="b.example")], headers={"Idempotency-Key": "import-1"})
    assert theirs.status_code == 202 and theirs.json()["id"] != first.json()["id"]
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(BulkUpload)).scalar_one() == 2

    location = first.headers["location"]
    await settled(client, key_a, location)
    created = await client.post(f"{location}/create", headers=auth(key_a, **{"Idempotency-Key": "create-1"}))
    replay = await client.post(f"{location}/create", headers=auth(key_a, **{"Idempotency-Key": "create-1"}))
    assert created.status_code == replay.status_code == 202 and replay.json() == created.json()
    await settled(client, key_a, location)
    assert count_users(engine, a) == 1
    cancel_with_same = await client.post(f"{location}/cancel", headers=auth(key_a, **{"Idempotency-Key": "create-1"}))
    assert_problem(cancel_with_same, 422, "IDEMPOTENCY_KEY_REUSED")
    # a refusal is an answer too: replayed as given
    refused = await client.post(f"{location}/cancel", headers=auth(key_a, **{"Idempotency-Key": "cancel-1"}))
    replayed = await client.post(f"{location}/cancel", headers=auth(key_a, **{"Idempotency-Key": "cancel-1"}))
    assert refused.status_code == replayed.status_code == 409 and refused.json() == replayed.json()
    assert replayed.headers["content-type"] == "application/problem+json"
    long_key = await client.post(f"{location}/cancel", headers=auth(key_a, **{"Idempotency-Key": "k" * 256}))
    assert_problem(long_key, 422, "INVALID_REQUEST")
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(ApiIdempotency)).scalar_one() == 4


async def test_a_key_over_its_rate_limit_gets_429(client, engine, monkeypatch):
    monkeypatch.setenv("BULK_UPLOAD_API_RATE_LIMIT", "3")
    monkeypatch.setenv("BULK_UPLOAD_API_RATE_WINDOW_SECONDS", "3600")
    company = new_company(engine)
    key, other = key_for(company, "busy"), key_for(company, "quiet")
    for _ in range(3):
        assert (await client.get("/api/v1/user-imports", headers=auth(key))).status_code == 200
    limited = await client.get("/api/v1/user-imports", headers=auth(key))
    assert_problem(limited, 429, "RATE_LIMITED")
    assert 0 < int(limited.headers["retry-after"]) <= 3600
    assert (await client.get("/api/v1/user-imports", headers=auth(other))).status_code == 200


@pytest.mark.redis
async def test_rate_limits_are_shared_through_redis(client, engine, monkeypatch):
    from tests.support.services import redis_database

    with redis_database("api-rate") as redis_url:
        monkeypatch.setenv("BULK_UPLOAD_REDIS_URL", redis_url)
        monkeypatch.setenv("BULK_UPLOAD_API_RATE_LIMIT", "2")
        monkeypatch.setenv("BULK_UPLOAD_API_RATE_WINDOW_SECONDS", "3600")
        key = key_for(new_company(engine))
        second_app = httpx.AsyncClient(transport=httpx.ASGITransport(app=http_guard(create_api())), base_url=BASE)
        async with second_app:
            assert (await client.get("/api/v1/user-imports", headers=auth(key))).status_code == 200
            assert (await second_app.get("/api/v1/user-imports", headers=auth(key))).status_code == 200
            assert_problem(await client.get("/api/v1/user-imports", headers=auth(key)), 429, "RATE_LIMITED")
            assert_problem(await second_app.get("/api/v1/user-imports", headers=auth(key)), 429, "RATE_LIMITED")


async def test_openapi_and_docs_need_no_key(client):
    document = (await client.get("/api/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert "/api/v1/user-imports/{upload_id}/rows" in document["paths"]
    errors = document["paths"]["/api/v1/user-imports"]["post"]["responses"]["422"]["content"]
    assert list(errors) == ["application/problem+json"]
    docs = await client.get("/api/v1/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert "SEATS_EXCEEDED" in docs.text and 'id="problem-seats-exceeded"' in docs.text
    assert "<script" not in docs.text and "http://" not in docs.text.replace("http://api.test", "")


async def test_retention_purges_api_drafts_and_day_old_idempotency_answers(client, engine, tmp_path):

    from bulk_upload_app.models import ApiImport, utcnow
    from bulk_upload_app.uploads import retention

    key = key_for(new_company(engine))
    started = await upload(client, key, [person(1)], headers={"Idempotency-Key": "kept a day"})
    await settled(client, key, started.headers["location"])
    result = retention.purge(
        engine, tmp_path / "uploads", now=utcnow() + timedelta(days=15), rules=retention.Rules(draft_days=14)
    )
    assert result.drafts_deleted == [started.json()["id"]]
    with session_scope(engine) as session:
        assert session.exec(select(func.count()).select_from(ApiImport)).scalar_one() == 0
        assert session.exec(select(func.count()).select_from(ApiIdempotency)).scalar_one() == 0
    assert_problem(await client.get(started.headers["location"], headers=auth(key)), 404, "UPLOAD_NOT_FOUND")


# Webhooks ---------------------------------------------------------------------------------------


class Receiver:
    """An HTTP server recording what it is sent and answering with `statuses` in turn (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/bulk-upload"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    found = Receiver([500])  # the first delivery fails: the outbox tries again
    yield found
    found.close()


async def test_a_finished_batch_is_posted_to_webhooks_signed_retried_and_sent_once(
    client, engine, receiver, monkeypatch
):
    monkeypatch.setenv("BULK_UPLOAD_WEBHOOK_ALLOW_INSECURE", "1")  # the receiver is http://127.0.0.1
    a, b = new_company(engine, seats=10, name="A"), new_company(engine, seats=10, name="B")
    key_a, key_b = key_for(a), key_for(b)
    made = await client.post("/api/v1/webhooks", headers=auth(key_a), json={"url": receiver.url})
    assert made.status_code == 201, made.text
    hook = made.json()
    assert hook["secret"].startswith("whsec_") and hook["url"] == receiver.url
    listed = (await client.get("/api/v1/webhooks", headers=auth(key_a))).json()["data"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    assert (await client.get("/api/v1/webhooks", headers=auth(key_b))).json()["data"] == []
    assert_problem(await client.delete(f"/api/v1/webhooks/{hook['id']}", headers=auth(key_b)), 404, "NOT_FOUND")

    started = await upload(client, key_a, [person(1), person(2), person(3, email="bad")], data={"create": "true"})
    done = await settled(client, key_a, started.headers["location"])
    assert done["status"] == "done"
    for _ in range(600):  # the worker that ended the batch delivers right away
        if receiver.received:
            break
        outbox.deliver_due(engine)
        await anyio.sleep(0.05)
    assert len(receiver.received) == 1
    later = utcnow() + timedelta(hours=2)
    assert outbox.deliver_due(engine, now=later) == 1  # the retry, answered 200
    assert outbox.deliver_due(engine, now=later + timedelta(hours=2)) == 0
    assert len(receiver.received) == 2

    (first_headers, first_body), (headers, body) = receiver.received
    assert first_body == body  # the same event again
    assert first_headers["bulk-upload-delivery"] == headers["bulk-upload-delivery"]  # one message, twice
    assert headers["bulk-upload-event"] == "user_import.finished"
    timestamp = headers["bulk-upload-timestamp"]
    expected = hmac.new(hook["secret"].encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["bulk-upload-signature"] == f"t={timestamp},v1={expected}"
    event = json.loads(body)
    assert event["type"] == "user_import.finished" and event["data"]["id"] == done["id"]
    assert event["data"]["status"] == "created_with_failures"
    assert event["data"]["counts"]["created"] == 2

    with session_scope(engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "webhook")).scalars().all()
        assert [(r.company_id, r.status, r.attempts) for r in rows] == [(a, "sent", 2)]

    gone = await client.delete(f"/api/v1/webhooks/{hook['id']}", headers=auth(key_a))
    assert gone.status_code == 204
    assert (await client.get("/api/v1/webhooks", headers=auth(key_a))).json()["data"] == []


async def test_webhook_urls_must_be_https_on_public_hosts_in_production(client, engine):
    key = key_for(new_company(engine))
    for url in ("http://example.com/hook", "ftp://example.com/", "https://user:pw@example.com/", "not a url"):
        refused = await client.post("/api/v1/webhooks", headers=auth(key), json={"url": url})
        assert_problem(refused, 422, "INVALID_REQUEST")
    accepted = await client.post("/api/v1/webhooks", headers=auth(key), json={"url": "https://hooks.example.com/x"})
    assert accepted.status_code == 201


def test_an_idempotency_key_in_flight_or_a_day_old(api_env, engine):
    """Two requests with one key at once: the second sees the first's claim (409 in the API); after
    24 hours the key is forgotten and can be used afresh."""
    from bulk_upload_app.models import ApiIdempotency as Stored
    from bulk_upload_app.services import api_imports

    company = new_company(engine)
    assert api_imports.claim_idempotency_key(company, "k1", "a" * 64) is None
    in_flight = api_imports.claim_idempotency_key(company, "k1", "a" * 64)
    assert in_flight is not None and in_flight.status == 0
    api_imports.store_idempotent_answer(
        company, "k1", status=202, content_type="application/json", location="/x", body="{}"
    )
    assert api_imports.claim_idempotency_key(company, "k1", "a" * 64).status == 202
    with session_scope(engine) as session:
        session.execute(Stored.__table__.update().values(created_at=utcnow() - timedelta(hours=25)))
    assert api_imports.claim_idempotency_key(company, "k1", "b" * 64) is None  # forgotten: claimed afresh
