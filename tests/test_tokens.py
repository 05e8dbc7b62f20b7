"""The dashboard's sign-in tokens: what is accepted, what is refused, and that each is used once."""

from __future__ import annotations

import base64
import json
import os
import time
import uuid

import jwt
import pytest

from bulk_upload_app import auth
from bulk_upload_app.db import session_scope

SECRET = "test-secret-" + "x" * 40
ISSUER = "https://dashboard.example.com"


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("BULK_UPLOAD_JWT_SECRET", SECRET)
    monkeypatch.setenv("BULK_UPLOAD_JWT_ISSUER", ISSUER)
    monkeypatch.delenv("BULK_UPLOAD_JWT_MAX_AGE", raising=False)
    monkeypatch.delenv("REFLEX_REDIS_URL", raising=False)


def code_of(token, **kwargs) -> str:
    with pytest.raises(auth.TokenRefused) as refused:
        auth.decode_token(token, **kwargs)
    assert str(refused.value) == auth.MESSAGES[refused.value.code]
    return refused.value.code


def test_a_good_token_gives_its_claims():
    claims = auth.decode_token(auth.make_token(7, 42, "admin", jti="abcdefgh12"))
    assert (claims.company_id, claims.user_id, claims.role, claims.jti) == (7, 42, "admin", "abcdefgh12")
    assert claims.admin().is_admin
    assert not auth.decode_token(auth.make_token(7, 42, "agent")).admin().is_admin


def test_missing_and_unconfigured():
    assert code_of(None) == "missing"
    assert code_of("  ") == "missing"
    assert code_of(auth.make_token(1, 1), secret="") == "not_configured"


def test_expired():
    old = time.time() - 3600
    assert code_of(auth.make_token(1, 1, now=old, lifetime=60)) == "expired"


def test_tampered_tokens_are_invalid():
    token = auth.make_token(1, 1, "agent")
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert code_of(f"{head}.{forged}.{sig}") == "invalid"
    assert code_of(auth.make_token(1, 1, secret="another-secret-" + "y" * 40)) == "invalid"
    assert code_of("not.a.jwt") == "invalid"
    assert code_of("garbage") == "invalid"
    # alg=none and other algorithms are never accepted
    none_token = jwt.encode({"company_id": 1, "user_id": 1, "role": "admin", "iat": int(time.time()),
                             "exp": int(time.time()) + 60, "jti": uuid.uuid4().hex}, None, algorithm="none")
    assert code_of(none_token) == "invalid"


@pytest.mark.parametrize("claim", auth.REQUIRED_CLAIMS)
def test_every_claim_is_required(claim):
    now = int(time.time())
    payload = {"company_id": 1, "user_id": 1, "role": "admin", "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex,
               "aud": "bulk-upload", "iss": ISSUER}
    del payload[claim]
    assert code_of(jwt.encode(payload, SECRET, algorithm="HS256")) == "invalid"


@pytest.mark.parametrize("bad", [{"company_id": 0}, {"company_id": "1; drop"}, {"company_id": True},
                                 {"user_id": -3}, {"role": ""}, {"role": 5}, {"jti": "short"}])
def test_malformed_claims_are_invalid(bad):
    assert code_of(auth.make_token(1, 1, **bad) if "company_id" not in bad and "user_id" not in bad
                   and "role" not in bad and "jti" not in bad else _token_with(bad)) == "invalid"


def _token_with(changes: dict) -> str:
    now = int(time.time())
    payload = {"company_id": 1, "user_id": 1, "role": "admin", "iat": now, "exp": now + 60,
               "jti": uuid.uuid4().hex, **changes}
    return jwt.encode(payload, SECRET, algorithm="HS256")


def test_long_lived_or_future_tokens_are_invalid(monkeypatch):
    assert code_of(auth.make_token(1, 1, lifetime=3600)) == "invalid"
    assert code_of(auth.make_token(1, 1, now=time.time() + 600)) == "invalid"
    monkeypatch.setenv("BULK_UPLOAD_JWT_MAX_AGE", "7200")
    assert auth.decode_token(auth.make_token(1, 1, lifetime=3600)).company_id == 1


def test_a_token_is_accepted_once(engine, demo_company):
    token = auth.make_token(demo_company, 1)
    with session_scope(engine) as session:
        assert auth.accept_token(session, token).company_id == demo_company
    with session_scope(engine) as session, pytest.raises(auth.TokenRefused) as refused:
        auth.accept_token(session, token)
    assert refused.value.code == "replayed"
    # another token for the same admin is fine
    with session_scope(engine) as session:
        assert auth.accept_token(session, auth.make_token(demo_company, 1)).company_id == demo_company


def test_an_unknown_company_is_refused_and_does_not_spend_the_token(engine, demo_company):
    with session_scope(engine) as session, pytest.raises(auth.TokenRefused) as refused:
        auth.accept_token(session, auth.make_token(demo_company + 999, 1))
    assert refused.value.code == "unknown_company"


def test_expired_jtis_are_forgotten(engine, demo_company):
    old_jti, new_jti = f"old-{uuid.uuid4().hex}", f"new-{uuid.uuid4().hex}"
    with session_scope(engine) as session:
        assert auth.remember_jti(session, old_jti, int(time.time() - 3600))
    with session_scope(engine) as session:
        assert auth.remember_jti(session, new_jti, int(time.time()) + 60)
        assert session.get(auth.UsedToken, old_jti) is None
        assert session.get(auth.UsedToken, new_jti) is not None


@pytest.mark.redis
def test_a_spent_token_stays_spent_when_redis_is_restarted(monkeypatch, engine, demo_company):
    """The replay record is in the database, not in Redis: a Redis restart (or FLUSHALL) cannot
    make a used token new again."""
    from tests.conftest import left_out

    left_out("redis")
    import redis

    url = os.environ.get("BULK_UPLOAD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    db = 14  # flushing it stands for a restart of a Redis without persistence
    monkeypatch.setenv("REFLEX_REDIS_URL", url.rsplit("/", 1)[0] + f"/{db}")
    token = auth.make_token(demo_company, 1)
    with session_scope(engine) as session:
        auth.accept_token(session, token)
    redis.Redis.from_url(url.rsplit("/", 1)[0] + f"/{db}").flushdb()
    with session_scope(engine) as session, pytest.raises(auth.TokenRefused) as refused:
        auth.accept_token(session, token)
    assert refused.value.code == "replayed"
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    with session_scope(engine) as session:
        assert session.get(auth.UsedToken, jti) is not None


@pytest.mark.parametrize("claims", [
    {"aud": "another-app"}, {"aud": ["another-app"]}, {"iss": "https://evil.example.com"}, {"iss": ""},
])
def test_a_token_for_another_audience_or_from_another_issuer_is_refused(claims):
    token = auth.make_token(7, 42, **({"issuer": claims["iss"]} if "iss" in claims else {}),
                            **({"aud": claims["aud"]} if "aud" in claims else {}))
    assert code_of(token) == "invalid"


def test_no_issuer_configured_means_no_token_sign_in(monkeypatch):
    monkeypatch.delenv("BULK_UPLOAD_JWT_ISSUER")
    monkeypatch.delenv("BULK_UPLOAD_DEMO", raising=False)
    assert code_of(auth.make_token(7, 42, issuer=ISSUER)) == "not_configured"


def test_dev_signin_is_on_in_demo_mode_only(monkeypatch, engine, demo_company):
    monkeypatch.delenv("BULK_UPLOAD_DEMO", raising=False)
    monkeypatch.setenv("BULK_UPLOAD_DEV_SIGNIN", "1")  # the old switch alone does nothing
    with session_scope(engine) as session:
        assert auth.dev_signin(session) is None
    monkeypatch.setenv("BULK_UPLOAD_DEMO", "1")
    with session_scope(engine) as session:
        assert auth.dev_signin(session).company_id == demo_company


def test_dev_signin_never_signs_in_as_that_email_in_another_company(monkeypatch, engine, demo_company):
    from sqlalchemy import update

    from bulk_upload_app.models import Company, User
    from bulk_upload_app.seed import DEMO_ADMIN_EMAIL

    monkeypatch.setenv("BULK_UPLOAD_DEMO", "1")
    with session_scope(engine) as session:
        other = Company(name="Demo Company", seats=5)  # even one with the demo company's name
        session.add(other)
        session.flush()
        session.execute(update(User).where(User.email == DEMO_ADMIN_EMAIL).values(company_id=other.id))
    try:
        with session_scope(engine) as session:
            assert auth.dev_signin(session) is None
    finally:
        with session_scope(engine) as session:
            session.execute(update(User).where(User.email == DEMO_ADMIN_EMAIL).values(company_id=demo_company))




@pytest.mark.parametrize("claim", ["aud", "iss"])
def test_a_token_without_audience_or_issuer_is_refused(claim):
    payload = jwt.decode(auth.make_token(7, 42), options={"verify_signature": False})
    del payload[claim]
    assert code_of(jwt.encode(payload, SECRET, algorithm="HS256")) == "invalid"
