"""API keys on a real database (SQLite and PostgreSQL): made, found, listed, revoked, audited,
scoped to their company, stored hashed only; and the CLI in a real subprocess."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request

from bulk_upload_app.access.api_keys import KEY_CREATED, KEY_REVOKED, digest
from bulk_upload_app.db import session_scope
from bulk_upload_app.http_auth import bearer_caller
from bulk_upload_app.models import ApiKey, BulkUploadAudit, Company
from bulk_upload_app.services import api_keys
from tests.support.cli import cli


@pytest.fixture
def companies(engine, db_url, monkeypatch):
    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    with session_scope(engine) as session:
        made = [Company(name=name, seats=5) for name in ("A", "B")]
        session.add_all(made)
        session.flush()
        return [c.id for c in made]


def test_a_key_authenticates_as_its_company_until_revoked(companies):
    a, _b = companies
    key_id, key = api_keys.create_key(a, "  Okta   provisioning ", created_by="admin:1")
    caller = api_keys.authenticate(key)
    assert caller == api_keys.ApiCaller(company_id=a, key_id=key_id, name="Okta provisioning")
    api_keys.revoke_key(a, key_id, revoked_by="admin:1")
    assert api_keys.authenticate(key) is None
    api_keys.revoke_key(a, key_id, revoked_by="admin:1")  # again: nothing changes, no error


@pytest.mark.parametrize("raw", ["", "bu_live_", "bu_live_" + "A" * 43, "Bearer x", "x" * 5000])
def test_unknown_keys_are_refused(companies, raw):
    api_keys.create_key(companies[0], "real", created_by="cli:test")
    assert api_keys.authenticate(raw) is None


def test_another_companys_key_cannot_be_revoked_or_seen(companies):
    a, b = companies
    key_id, key = api_keys.create_key(a, "A's key", created_by="admin:1")
    with pytest.raises(api_keys.ApiKeyNotFound):
        api_keys.revoke_key(b, key_id, revoked_by="admin:2")
    with pytest.raises(api_keys.ApiKeyNotFound):
        api_keys.revoke_key(b, "key_does_not_exist", revoked_by="admin:2")
    assert api_keys.list_keys(b) == []
    assert api_keys.authenticate(key) is not None  # still alive


def test_the_key_is_stored_as_its_sha256_only(engine, companies):
    key_id, key = api_keys.create_key(companies[0], "k", created_by="admin:1")
    with session_scope(engine, read_only=True) as session:
        row = session.get(ApiKey, key_id)
        stored = [str(v) for v in row.model_dump().values()]
        audit_rows = session.exec(select(BulkUploadAudit)).scalars().all()
        trail = [str(a.details) for a in audit_rows]
    assert row.key_sha256 == digest(key) and row.prefix == key[:12]
    assert not any(key in value or key[12:] in value for value in stored + trail)


def test_listing_shows_live_keys_first_with_use_and_revocation(companies):
    a, _ = companies
    old_id, _old = api_keys.create_key(a, "old", created_by="admin:1")
    new_id, new = api_keys.create_key(a, "new", created_by="admin:1")
    api_keys.revoke_key(a, old_id, revoked_by="admin:1")
    api_keys.authenticate(new)
    listed = api_keys.list_keys(a)
    assert [k.id for k in listed] == [new_id, old_id]
    assert listed[0].last_used_at is not None and listed[0].revoked_at is None
    assert listed[1].revoked_at is not None and listed[1].prefix.startswith("bu_live_")


def test_create_and_revoke_are_audited(engine, companies):
    a, _ = companies
    key_id, _ = api_keys.create_key(a, "audited", created_by="admin:7")
    api_keys.revoke_key(a, key_id, revoked_by="admin:8")
    with session_scope(engine, read_only=True) as session:
        rows = session.exec(select(BulkUploadAudit).order_by(BulkUploadAudit.id)).scalars().all()
    assert [(r.event, r.company_id, r.actor, r.details["key_id"]) for r in rows] == [
        (KEY_CREATED, a, "admin:7", key_id),
        (KEY_REVOKED, a, "admin:8", key_id),
    ]


def test_bad_names_and_companies_are_refused(companies):
    with pytest.raises(api_keys.ApiKeyProblem):
        api_keys.create_key(companies[0], "   ", created_by="x")
    with pytest.raises(api_keys.ApiKeyProblem):
        api_keys.create_key(999_999, "k", created_by="x")


def _request(authorization: str) -> Request:
    return Request({"type": "http", "headers": [(b"authorization", authorization.encode())], "method": "GET"})


def test_bearer_caller_answers_401_for_missing_unknown_and_revoked_keys(companies):
    a, _ = companies
    key_id, key = api_keys.create_key(a, "k", created_by="x")
    assert bearer_caller(_request(f"Bearer {key}")).company_id == a
    api_keys.revoke_key(a, key_id)
    for header in ("", "Bearer nope", f"Bearer {key}"):
        with pytest.raises(HTTPException) as refused:
            bearer_caller(_request(header))
        assert refused.value.status_code == 401
        assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_cli_creates_lists_and_revokes_keys(db_url, companies):
    a, b = companies
    code, made, err = cli(db_url, "api-key", "create", "--company", str(a), "--name", "Entra", "--json")
    assert code == 0 and set(made) == {"id", "key"} and "cannot be shown again" in err
    assert api_keys.authenticate(made["key"]).company_id == a
    code, listed, _ = cli(db_url, "api-key", "list", "--company", str(a), "--json")
    assert [(k["id"], k["name"], k["revoked_at"]) for k in listed] == [(made["id"], "Entra", None)]
    assert made["key"] not in str(listed)
    code, refused, _ = cli(db_url, "api-key", "revoke", made["id"], "--company", str(b), "--json")
    assert code != 0 and refused["error"]["code"] == "API_KEY_NOT_FOUND"
    assert api_keys.authenticate(made["key"]) is not None
    code, _, _ = cli(db_url, "api-key", "revoke", made["id"], "--company", str(a), "--json")
    assert code == 0 and api_keys.authenticate(made["key"]) is None


def test_cli_shows_and_sets_the_scim_defaults(db_url, companies):
    a, _ = companies
    code, shown, _ = cli(db_url, "scim-settings", "--company", str(a), "--json")
    assert code == 0 and (shown["user_type"], shown["country_prefix"]) == ("agent", "+1")
    code, shown, _ = cli(
        db_url, "scim-settings", "--company", str(a), "--user-type", "supervisor", "--country-prefix", "0044",
        "--skill", "Spanish:4", "--json",
    )  # fmt: skip
    assert code == 0 and (shown["user_type"], shown["country_prefix"]) == ("supervisor", "+44")
    assert shown["batch"]["skills"] == [{"level": 4, "skill_id": None, "new_name": "Spanish"}]
    code, refused, _ = cli(db_url, "scim-settings", "--company", str(a), "--country-prefix", "+999", "--json")
    assert code == 4 and "not a country calling code" in refused["error"]["message"]
    code, refused, _ = cli(db_url, "scim-settings", "--company", str(a), "--group", "Nope", "--json")
    assert code == 4 and 'no group "Nope"' in refused["error"]["message"]
    assert cli(db_url, "scim-settings", "--company", str(a), "--json")[1]["user_type"] == "supervisor"
