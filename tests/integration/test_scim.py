"""SCIM 2.0 over real HTTP (a Granian server of the SCIM app behind http_guard, httpx as the
client), on SQLite and PostgreSQL: discovery, keys, Users (filters, paging, POST/PUT/PATCH/DELETE),
the file import's validation and seats, Bulk with bulkId and failOnErrors, history and undo,
and company A's key against company B's users."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select

from bulk_upload_app import audit
from bulk_upload_app.access import api_keys
from bulk_upload_app.db import session_scope
from bulk_upload_app.models import BulkUpload, BulkUploadAudit, BulkUploadRow, Group, GroupMember, ScimIdentity, User
from bulk_upload_app.provisioning.scim_users import save_defaults
from bulk_upload_app.request_size import SCIM_BODY_BYTES
from bulk_upload_app.scim.resources import MAX_OPERATIONS
from bulk_upload_app.services import history
from bulk_upload_app.uploads.batch import batch_from_names
from tests.support.factories import new_company
from tests.support.scim_server import scim_server

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass
class Scim:
    base: str
    a: httpx.Client  # company A's key
    b: httpx.Client  # company B's key
    company_a: int
    company_b: int
    engine: object


def key_for(engine, company_id: int) -> str:
    with session_scope(engine) as session:
        return api_keys.create(session, company_id, "idp", created_by="test")[1]


@pytest.fixture
def scim(engine, db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    company_a = new_company(engine, seats=3, name="A")
    company_b = new_company(engine, seats=5, name="B")
    with scim_server(db_url, tmp_path) as base:
        clients = [
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key_for(engine, c)}"}, timeout=60)
            for c in (company_a, company_b)
        ]
        try:
            yield Scim(base, clients[0], clients[1], company_a, company_b, engine)
        finally:
            for client in clients:
                client.close()


def user(n: int, **extra) -> dict:
    return {
        "schemas": [USER],
        "userName": f"user{n}",
        "name": {"givenName": f"First{n}", "familyName": f"Last{n}"},
        "emails": [{"value": f"user{n}@example.com", "primary": True}],
        **extra,
    }


def created(client: httpx.Client, n: int, **extra) -> dict:
    answer = client.post("/Users", json=user(n, **extra))
    assert answer.status_code == 201, answer.text
    return answer.json()


def error_of(answer: httpx.Response, status: int, scim_type: str | None = None) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/scim+json")
    body = answer.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status)
    assert body.get("scimType") == scim_type
    return body["detail"]


def patch(*operations: dict) -> dict:
    return {"schemas": [PATCH], "Operations": list(operations)}


# ---------------------------------------------------------------- discovery and keys


def test_discovery_advertises_bulk_filter_and_patch(scim):
    config = scim.a.get("/ServiceProviderConfig").json()
    assert config["bulk"] == {"supported": True, "maxOperations": MAX_OPERATIONS, "maxPayloadSize": SCIM_BODY_BYTES}
    assert config["filter"]["supported"] is True and config["patch"]["supported"] is True
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    types = scim.a.get("/ResourceTypes").json()
    assert [t["id"] for t in types["Resources"]] == ["User"] and types["totalResults"] == 1
    schema = scim.a.get(f"/Schemas/{USER}").json()
    names = {a["name"]: a for a in schema["attributes"]}
    assert {"userName", "name", "emails", "phoneNumbers", "active", "userType", "displayName"} <= set(names)
    assert names["userType"]["mutability"] == "readOnly" and names["userName"]["uniqueness"] == "server"
    assert scim.a.get("/Groups").status_code == 404
    error_of(scim.a.delete("/Schemas"), 405)


@pytest.mark.parametrize("header", [None, "Basic dXNlcjpwYXNz", "Bearer bu_live_nope"])
def test_missing_or_unknown_keys_get_401(scim, header):
    headers = {} if header is None else {"Authorization": header}
    answer = httpx.get(f"{scim.base}/Users", headers=headers)
    error_of(answer, 401)
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.headers["x-content-type-options"] == "nosniff"  # http_guard wraps SCIM too


def test_a_revoked_key_gets_401_at_once(scim):
    with session_scope(scim.engine) as session:
        key_id, key = api_keys.create(session, scim.company_a, "soon revoked", created_by="test")
    assert httpx.get(f"{scim.base}/Users", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    with session_scope(scim.engine) as session:
        api_keys.revoke(session, scim.company_a, key_id, revoked_by="test")
    error_of(httpx.get(f"{scim.base}/Users", headers={"Authorization": f"Bearer {key}"}), 401)


# ---------------------------------------------------------------- Users


def test_create_get_and_find_by_user_name_and_email(scim):
    made = created(scim.a, 1, phoneNumbers=[{"value": "+44 20 7183 8750"}], externalId="okta-1")
    assert made["userName"] == "user1" and made["externalId"] == "okta-1"
    assert made["phoneNumbers"] == [{"value": "+442071838750", "primary": True}]
    assert made["userType"] == "agent" and made["active"] is True
    assert made["meta"]["location"] == f"{scim.base}/Users/{made['id']}"
    assert scim.a.get(f"/Users/{made['id']}").json()["emails"] == [{"value": "user1@example.com", "primary": True}]
    created(scim.a, 2)
    for text in ('userName eq "USER1"', 'emails.value eq "User1@Example.com"', 'externalId eq "okta-1"'):
        found = scim.a.get("/Users", params={"filter": text}).json()
        assert (found["totalResults"], [u["id"] for u in found["Resources"]]) == (1, [made["id"]]), text
    # Filters with no SQL form here are matched user by user, with the same answer.
    found = scim.a.get("/Users", params={"filter": 'name.familyName sw "last" and not (userName eq "user2")'}).json()
    assert [u["userName"] for u in found["Resources"]] == ["user1"]
    error_of(scim.a.get("/Users", params={"filter": 'userName eq "x" and'}), 400, "invalidFilter")
    with session_scope(scim.engine, read_only=True) as session:
        row = session.get(User, int(made["id"]))
        assert (row.email, row.country_prefix, row.phone, row.company_id) == (
            "user1@example.com",
            "+44",
            "+442071838750",
            scim.company_a,
        )


def test_paging_with_start_index_and_count(scim):
    ids = [created(scim.a, n)["id"] for n in range(3)]
    page = scim.a.get("/Users", params={"startIndex": 2, "count": 1}).json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (3, 2, 1)
    assert [u["id"] for u in page["Resources"]] == [ids[1]]
    assert scim.a.get("/Users", params={"count": 0}).json()["Resources"] == []
    searched = scim.a.post(
        "/Users/.search",
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "startIndex": 3, "count": 5},
    ).json()
    assert [u["id"] for u in searched["Resources"]] == [ids[2]]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"emails": [{"value": "not-an-email"}]}, "emails.value:"),
        ({"phoneNumbers": [{"value": "+44 12"}]}, "phoneNumbers.value:"),
        ({"name": {"givenName": "", "familyName": "X"}}, "name.givenName:"),
        ({"name": {"givenName": "A\x07b", "familyName": "X"}}, "name.givenName:"),
    ],
)
def test_the_file_imports_validation_answers_invalid_value(scim, change, where):
    detail = error_of(scim.a.post("/Users", json={**user(1), **change}), 400, "invalidValue")
    assert detail.startswith(where)
    assert scim.a.get("/Users").json()["totalResults"] == 0
    with session_scope(scim.engine, read_only=True) as session:  # refused before staging: no draft
        assert session.exec(select(func.count()).select_from(BulkUpload)).scalar_one() == 0


def test_emails_and_user_names_are_unique(scim):
    created(scim.a, 1)
    error_of(scim.a.post("/Users", json=user(2, userName="USER1")), 409, "uniqueness")
    taken_here = error_of(scim.a.post("/Users", json=user(1, userName="other")), 409, "uniqueness")
    created(scim.b, 5)
    taken_elsewhere = error_of(scim.a.post("/Users", json=user(5, userName="x5")), 409, "uniqueness")
    # The same words whether the email is this company's or another's.
    assert taken_here.replace("user1", "user5") == taken_elsewhere


def test_put_patch_and_delete(scim):
    made = created(scim.a, 1)
    path = f"/Users/{made['id']}"
    replaced = scim.a.put(path, json=user(1, name={"givenName": "Ada", "familyName": "Lovelace"}, userName="ada"))
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["displayName"] == "Ada Lovelace" and replaced.json()["userName"] == "ada"
    patched = scim.a.patch(
        path,
        json=patch(
            {"op": "replace", "path": "name.givenName", "value": "Augusta"},
            {"op": "add", "path": "phoneNumbers", "value": [{"value": "+14155552671"}]},
        ),
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"]["givenName"] == "Augusta"
    assert patched.json()["phoneNumbers"][0]["value"] == "+14155552671"
    error_of(
        scim.a.patch(path, json=patch({"op": "replace", "path": "emails", "value": [{"value": "bad"}]})),
        400,
        "invalidValue",
    )
    with session_scope(scim.engine, read_only=True) as session:
        events = (
            session.exec(select(BulkUploadAudit.event).where(BulkUploadAudit.company_id == scim.company_a))
            .scalars()
            .all()
        )
    assert events.count("scim.user_updated") == 2
    assert scim.a.delete(path).status_code == 204
    error_of(scim.a.get(path), 404)
    error_of(scim.a.delete(path), 404)
    with session_scope(scim.engine, read_only=True) as session:
        assert session.get(ScimIdentity, int(made["id"])) is None


# ---------------------------------------------------------------- seats


def test_seats_are_enforced_and_delete_or_deactivate_frees_one(scim):
    ids = [created(scim.a, n)["id"] for n in range(3)]  # company A has 3 seats
    detail = error_of(scim.a.post("/Users", json=user(9)), 403)
    assert "need 1 seats but only 0 are free" in detail and "dashboard.example.com" in detail
    assert scim.a.delete(f"/Users/{ids[0]}").status_code == 204
    created(scim.a, 9)
    off = scim.a.patch(f"/Users/{ids[1]}", json=patch({"op": "replace", "path": "active", "value": False}))
    assert off.json()["active"] is False
    created(scim.a, 10)
    error_of(scim.a.patch(f"/Users/{ids[1]}", json=patch({"op": "replace", "path": "active", "value": True})), 403)


# ---------------------------------------------------------------- tenancy


def test_company_a_cannot_reach_company_b_users(scim):
    theirs = created(scim.b, 1)
    path = f"/Users/{theirs['id']}"
    error_of(scim.a.get(path), 404)
    error_of(scim.a.put(path, json=user(1)), 404)
    error_of(scim.a.patch(path, json=patch({"op": "replace", "path": "active", "value": False})), 404)
    error_of(scim.a.delete(path), 404)
    assert scim.a.get("/Users").json()["totalResults"] == 0
    assert scim.a.get("/Users", params={"filter": 'emails.value eq "user1@example.com"'}).json()["totalResults"] == 0
    assert scim.a.get("/Users", params={"filter": "userName pr"}).json()["totalResults"] == 0  # the Python path too
    answer = scim.a.post(
        "/Bulk",
        json={
            "schemas": [BULK],
            "Operations": [{"method": "DELETE", "path": path}, {"method": "PUT", "path": path, "data": user(1)}],
        },
    ).json()
    assert [op["status"] for op in answer["Operations"]] == ["404", "404"]
    assert scim.b.get(path).json()["active"] is True


# ---------------------------------------------------------------- Bulk


def test_bulk_with_bulk_ids_and_fail_on_errors(scim):
    operations = [
        {"method": "POST", "path": "/Users", "bulkId": "b1", "data": user(1)},
        {
            "method": "PATCH",
            "path": "/Users/bulkId:b1",
            "data": patch({"op": "replace", "path": "name.givenName", "value": "Bee"}),
        },
        {"method": "POST", "path": "/Users", "bulkId": "b2", "data": user(2, emails=[{"value": "nope"}])},
        {"method": "DELETE", "path": "/Users/bulkId:never"},
        {"method": "POST", "path": "/Users", "bulkId": "b4", "data": user(4)},
        {"method": "DELETE", "path": "/Users/bulkId:b1"},
    ]
    answer = scim.a.post("/Bulk", json={"schemas": [BULK], "failOnErrors": 2, "Operations": operations})
    assert answer.status_code == 200, answer.text
    results = answer.json()["Operations"]
    assert [(r["method"], r.get("bulkId"), r["status"]) for r in results] == [
        ("POST", "b1", "201"),
        ("PATCH", None, "200"),
        ("POST", "b2", "400"),
        ("DELETE", None, "409"),
    ]  # the second error stopped it: b4 not created, b1 not deleted, neither reported
    assert results[1]["response"]["name"]["givenName"] == "Bee"
    assert results[2]["response"]["scimType"] == "invalidValue"
    listed = scim.a.get("/Users").json()
    assert [u["userName"] for u in listed["Resources"]] == ["user1"]

    # One history entry for the request, from SCIM, with every POST as a row.
    lines = history.history_all(scim.company_a)
    assert len(lines) == 1 and lines[0].source == "scim" and (lines[0].rows, lines[0].created) == (3, 1)
    with session_scope(scim.engine, read_only=True) as session:
        rows = session.exec(
            select(BulkUploadRow.row_number, BulkUploadRow.outcome, BulkUploadRow.outcome_code).order_by(
                BulkUploadRow.row_number
            )
        ).all()
        story = audit.story(session, lines[0].id)
    assert [tuple(r) for r in rows] == [(1, "created", None), (2, "pending", None), (3, "failed", "BULK_STOPPED")]
    assert any("staged 'SCIM Bulk request (6 operations)'" in line for line in story)


def test_bulk_without_fail_on_errors_does_everything_it_can(scim):
    keep = created(scim.a, 7)
    operations = [
        {"method": "POST", "path": "/Users", "bulkId": "x", "data": user(1)},
        {"method": "POST", "path": "/Users", "bulkId": "y", "data": user(1, userName="again")},  # same email
        {"method": "PUT", "path": f"/Users/{keep['id']}", "data": user(7, userName="seven")},
        {"method": "POST", "path": "/Users", "bulkId": "x", "data": user(3)},  # bulkId used twice
    ]
    results = scim.a.post("/Bulk", json={"schemas": [BULK], "Operations": operations}).json()["Operations"]
    assert [r["status"] for r in results] == ["201", "409", "200", "409"]
    assert scim.a.get(f"/Users/{keep['id']}").json()["userName"] == "seven"


def test_bulk_posts_beyond_the_seats_are_refused_whole(scim):
    created(scim.a, 0)
    created(scim.a, 1)  # one of three seats left
    operations = [{"method": "POST", "path": "/Users", "bulkId": f"p{n}", "data": user(10 + n)} for n in range(2)]
    results = scim.a.post("/Bulk", json={"schemas": [BULK], "Operations": operations}).json()["Operations"]
    assert [r["status"] for r in results] == ["403", "403"]
    assert "need 2 seats but only 1 are free" in results[0]["response"]["detail"]
    assert scim.a.get("/Users").json()["totalResults"] == 2
    assert [line.status for line in history.history_all(scim.company_a)].count("cancelled") == 1


def test_bulk_past_its_limits_is_413(scim):
    too_many = [{"method": "DELETE", "path": "/Users/1"}] * (MAX_OPERATIONS + 1)
    error_of(scim.a.post("/Bulk", json={"schemas": [BULK], "Operations": too_many}), 413)
    padding = "x" * SCIM_BODY_BYTES
    big = json.dumps({"schemas": [BULK], "Operations": [], "padding": padding})
    error_of(scim.a.post("/Bulk", content=big, headers={"content-type": "application/scim+json"}), 413)


# ---------------------------------------------------------------- defaults, undo


def test_company_defaults_give_scim_users_their_type_and_groups_and_undo_removes_them(scim):
    with session_scope(scim.engine) as session:
        group = Group(company_id=scim.company_a, name="Night shift")
        session.add(group)
        session.flush()
        spec = batch_from_names(session, scim.company_a, user_type="supervisor", group_names=["Night shift"])
        save_defaults(session, scim.company_a, user_type="supervisor", country_prefix="+33", spec=spec, actor="test")
        group_id = group.id
    made = created(scim.a, 1)
    assert made["userType"] == "supervisor"
    with session_scope(scim.engine, read_only=True) as session:
        assert session.get(User, int(made["id"])).country_prefix == "+33"
        assert session.get(GroupMember, (int(made["id"]), group_id)) is not None
    upload_id = history.history_all(scim.company_a)[0].id
    plan = history.undo_upload(scim.company_a, upload_id, actor="test")
    assert plan.removed == 1
    error_of(scim.a.get(f"/Users/{made['id']}"), 404)
    with session_scope(scim.engine, read_only=True) as session:
        assert session.get(ScimIdentity, int(made["id"])) is None


def test_a_user_name_taken_meanwhile_leaves_the_user_its_email(scim, monkeypatch):
    """attach_identities after a concurrent request took the userName: no error, email as userName."""
    from bulk_upload_app.provisioning import scim_users
    from bulk_upload_app.provisioning.scim_users import Person, attach_identities

    # The race: the other request's identity commits after this one's check said "free".
    monkeypatch.setattr(scim_users, "taken_user_names", lambda *a, **k: set())

    theirs = created(scim.a, 1)  # userName "user1"
    with session_scope(scim.engine) as session:
        me = User(company_id=scim.company_a, firstname="A", lastname="B", email="me@example.com",
                  country_prefix="+44", extension=2000, user_type="agent")  # fmt: skip
        session.add(me)
        session.flush()
        upload = BulkUpload(company_id=scim.company_a, source="scim")
        session.add(upload)
        session.flush()
        session.add(BulkUploadRow(upload_id=upload.id, row_number=1, outcome="created", user_id=me.id, is_valid=True))
        session.flush()
        attach_identities(session, scim.company_a, upload.id, [Person(user_name="USER1", email="me@example.com")])
        me_id = me.id
    assert scim.a.get(f"/Users/{me_id}").json()["userName"] == "me@example.com"
    assert scim.a.get(f"/Users/{theirs['id']}").json()["userName"] == "user1"
