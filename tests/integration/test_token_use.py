"""The dashboard's sign-in tokens against a database: each is used once; the demo sign-in."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from bulk_upload_app import models
from bulk_upload_app.access import tokens
from bulk_upload_app.db import session_scope
from tests.support.factories import TOKEN_ISSUER as ISSUER
from tests.support.factories import TOKEN_SECRET as SECRET
from tests.support.services import left_out


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("BULK_UPLOAD_JWT_SECRET", SECRET)
    monkeypatch.setenv("BULK_UPLOAD_JWT_ISSUER", ISSUER)
    monkeypatch.delenv("BULK_UPLOAD_JWT_MAX_AGE", raising=False)
    monkeypatch.delenv("REFLEX_REDIS_URL", raising=False)


def test_a_token_is_accepted_once(engine, demo_company):
    token = tokens.make_token(demo_company, 1)
    with session_scope(engine) as session:
        assert tokens.accept_token(session, token).company_id == demo_company
    with session_scope(engine) as session, pytest.raises(tokens.TokenRefused) as refused:
        tokens.accept_token(session, token)
    assert refused.value.code == "replayed"
    # another token for the same admin is fine
    with session_scope(engine) as session:
        assert tokens.accept_token(session, tokens.make_token(demo_company, 1)).company_id == demo_company


def test_an_unknown_company_is_refused_and_does_not_spend_the_token(engine, demo_company):
    with session_scope(engine) as session, pytest.raises(tokens.TokenRefused) as refused:
        tokens.accept_token(session, tokens.make_token(demo_company + 999, 1))
    assert refused.value.code == "unknown_company"


def test_expired_jtis_are_forgotten(engine, demo_company):
    old_jti, new_jti = f"old-{uuid.uuid4().hex}", f"new-{uuid.uuid4().hex}"
    with session_scope(engine) as session:
        assert tokens.remember_jti(session, old_jti, int(time.time() - 3600))
    with session_scope(engine) as session:
        assert tokens.remember_jti(session, new_jti, int(time.time()) + 60)
        assert session.get(models.UsedToken, old_jti) is None
        assert session.get(models.UsedToken, new_jti) is not None


@pytest.mark.redis
def test_a_spent_token_stays_spent_when_redis_is_restarted(monkeypatch, engine, demo_company):
    """The replay record is in the database, not in Redis: a Redis restart (or FLUSHALL) cannot
    make a used token new again."""
    left_out("redis")
    import redis

    from tests.support.services import redis_database

    # A database of our own (other tests run beside this one); flushing it stands for a restart
    # of a Redis without persistence.
    with redis_database("token-replay") as url:
        monkeypatch.setenv("REFLEX_REDIS_URL", url)
        token = tokens.make_token(demo_company, 1)
        with session_scope(engine) as session:
            tokens.accept_token(session, token)
        redis.Redis.from_url(url).flushdb()
        with session_scope(engine) as session, pytest.raises(tokens.TokenRefused) as refused:
            tokens.accept_token(session, token)
    assert refused.value.code == "replayed"
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    with session_scope(engine) as session:
        assert session.get(models.UsedToken, jti) is not None


def test_dev_signin_is_on_in_demo_mode_only(monkeypatch, engine, demo_company):
    monkeypatch.delenv("BULK_UPLOAD_DEMO", raising=False)
    monkeypatch.setenv("BULK_UPLOAD_DEV_SIGNIN", "1")  # the old switch alone does nothing
    with session_scope(engine) as session:
        assert tokens.dev_signin(session) is None
    monkeypatch.setenv("BULK_UPLOAD_DEMO", "1")
    with session_scope(engine) as session:
        assert tokens.dev_signin(session).company_id == demo_company


def test_dev_signin_never_signs_in_as_that_email_in_another_company(monkeypatch, engine, demo_company):
    from sqlalchemy import delete, update

    from bulk_upload_app.models import Company, User
    from bulk_upload_app.seed import DEMO_ADMIN_EMAIL

    monkeypatch.setenv("BULK_UPLOAD_DEMO", "1")
    parked = "parked.demo.admin@example.com"
    with session_scope(engine) as session:
        other = Company(name="Demo Company", seats=5)  # even one with the demo company's name
        session.add(other)
        session.flush()
        # Users never move between companies (migration 0016_fast_links): the demo company's admin steps
        # aside and the other company gets a user with that email.
        session.execute(update(User).where(User.email == DEMO_ADMIN_EMAIL).values(email=parked))
        session.add(
            User(
                company_id=other.id,
                firstname="Other",
                lastname="Admin",
                email=DEMO_ADMIN_EMAIL,
                country_prefix="+44",
                extension=1000,
                user_type="admin",
            )
        )
    try:
        with session_scope(engine) as session:
            assert tokens.dev_signin(session) is None
    finally:
        with session_scope(engine) as session:
            session.execute(delete(User).where(User.email == DEMO_ADMIN_EMAIL, User.company_id == other.id))
            session.execute(update(User).where(User.email == parked).values(email=DEMO_ADMIN_EMAIL))
