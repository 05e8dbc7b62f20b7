"""The dashboard's sign-in tokens: what is accepted and what is refused (decoding; that each is
used once, which needs a database, is tests/integration/test_token_use.py)."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest

from bulk_upload_app.access import tokens
from tests.support.factories import TOKEN_ISSUER as ISSUER
from tests.support.factories import TOKEN_SECRET as SECRET


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("BULK_UPLOAD_JWT_SECRET", SECRET)
    monkeypatch.setenv("BULK_UPLOAD_JWT_ISSUER", ISSUER)
    monkeypatch.delenv("BULK_UPLOAD_JWT_MAX_AGE", raising=False)
    monkeypatch.delenv("REFLEX_REDIS_URL", raising=False)


def code_of(token, **kwargs) -> str:
    with pytest.raises(tokens.TokenRefused) as refused:
        tokens.decode_token(token, **kwargs)
    assert str(refused.value) == tokens.MESSAGES[refused.value.code]
    return refused.value.code


def test_a_good_token_gives_its_claims():
    claims = tokens.decode_token(tokens.make_token(7, 42, "admin", jti="abcdefgh12"))
    assert (claims.company_id, claims.user_id, claims.role, claims.jti) == (7, 42, "admin", "abcdefgh12")
    assert claims.admin().is_admin
    assert not tokens.decode_token(tokens.make_token(7, 42, "agent")).admin().is_admin


def test_the_optional_email_claim_is_carried_to_the_signed_in_admin_when_it_is_an_address():
    claims = tokens.decode_token(tokens.make_token(7, 42, "admin", email="Ada@Example.com"))
    assert claims.email == "ada@example.com" and claims.admin().email == "ada@example.com"
    assert tokens.decode_token(tokens.make_token(7, 42, "admin")).email is None
    # A bad address does not lock the admin out: it only means no notification email.
    assert tokens.decode_token(tokens.make_token(7, 42, "admin", email="ada at example")).admin().email is None


def test_missing_and_unconfigured():
    assert code_of(None) == "missing"
    assert code_of("  ") == "missing"
    assert code_of(tokens.make_token(1, 1), secret="") == "not_configured"


def test_expired():
    old = time.time() - 3600
    assert code_of(tokens.make_token(1, 1, now=old, lifetime=60)) == "expired"


def test_tampered_tokens_are_invalid():
    token = tokens.make_token(1, 1, "agent")
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert code_of(f"{head}.{forged}.{sig}") == "invalid"
    assert code_of(tokens.make_token(1, 1, secret="another-secret-" + "y" * 40)) == "invalid"
    assert code_of("not.a.jwt") == "invalid"
    assert code_of("garbage") == "invalid"
    # alg=none and other algorithms are never accepted
    none_token = jwt.encode(
        {
            "company_id": 1,
            "user_id": 1,
            "role": "admin",
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
            "jti": uuid.uuid4().hex,
        },
        None,
        algorithm="none",
    )
    assert code_of(none_token) == "invalid"


@pytest.mark.parametrize("claim", tokens.REQUIRED_CLAIMS)
def test_every_claim_is_required(claim):
    now = int(time.time())
    payload = {
        "company_id": 1,
        "user_id": 1,
        "role": "admin",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        "aud": "bulk-upload",
        "iss": ISSUER,
    }
    del payload[claim]
    assert code_of(jwt.encode(payload, SECRET, algorithm="HS256")) == "invalid"


@pytest.mark.parametrize(
    "bad",
    [
        {"company_id": 0},
        {"company_id": "1; drop"},
        {"company_id": True},
        {"user_id": -3},
        {"role": ""},
        {"role": 5},
        {"jti": "short"},
    ],
)
def test_malformed_claims_are_invalid(bad):
    assert (
        code_of(
            tokens.make_token(1, 1, **bad)
            if "company_id" not in bad and "user_id" not in bad and "role" not in bad and "jti" not in bad
            else _token_with(bad)
        )
        == "invalid"
    )


def _token_with(changes: dict) -> str:
    now = int(time.time())
    payload = {
        "company_id": 1,
        "user_id": 1,
        "role": "admin",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        **changes,
    }
    return jwt.encode(payload, SECRET, algorithm="HS256")


def test_long_lived_or_future_tokens_are_invalid(monkeypatch):
    assert code_of(tokens.make_token(1, 1, lifetime=3600)) == "invalid"
    assert code_of(tokens.make_token(1, 1, now=time.time() + 600)) == "invalid"
    monkeypatch.setenv("BULK_UPLOAD_JWT_MAX_AGE", "7200")
    assert tokens.decode_token(tokens.make_token(1, 1, lifetime=3600)).company_id == 1


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "another-app"},
        {"aud": ["another-app"]},
        {"iss": "https://evil.example.com"},
        {"iss": ""},
    ],
)
def test_a_token_for_another_audience_or_from_another_issuer_is_refused(claims):
    token = tokens.make_token(
        7,
        42,
        **({"issuer": claims["iss"]} if "iss" in claims else {}),
        **({"aud": claims["aud"]} if "aud" in claims else {}),
    )
    assert code_of(token) == "invalid"


def test_no_issuer_configured_means_no_token_sign_in(monkeypatch):
    monkeypatch.delenv("BULK_UPLOAD_JWT_ISSUER")
    monkeypatch.delenv("BULK_UPLOAD_DEMO", raising=False)
    assert code_of(tokens.make_token(7, 42, issuer=ISSUER)) == "not_configured"


@pytest.mark.parametrize("claim", ["aud", "iss"])
def test_a_token_without_audience_or_issuer_is_refused(claim):
    payload = jwt.decode(tokens.make_token(7, 42), options={"verify_signature": False})
    del payload[claim]
    assert code_of(jwt.encode(payload, SECRET, algorithm="HS256")) == "invalid"
