"""The services the tests need, and leaving them out on purpose.

A service the suite needs and cannot reach fails its tests, unless the test command was told to
leave that part out: BULK_UPLOAD_WITHOUT=postgres,redis,browser (comma-separated).

- PostgreSQL: BULK_UPLOAD_TEST_PG_URL; each user gets a fresh schema, dropped afterwards
  (`postgres_schema`).
- Redis: BULK_UPLOAD_TEST_REDIS_URL's server; each user gets an empty database 1..15, claimed
  with a marker key and flushed before and after (`redis_database`). Database 0 is never touched.
"""

from __future__ import annotations

import contextlib
import pickle
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from bulk_upload_app.settings import harness_settings

_HARNESS = harness_settings()
WITHOUT = _HARNESS.without
PG_URL = _HARNESS.pg_url
REDIS_URL = _HARNESS.redis_url
CLAIM_KEY = "bulk_upload:test-claim"  # marks a Redis database as taken by a test run


class ServiceMissing(Exception):
    """PostgreSQL or Redis does not answer (the message says which and how to leave it out)."""


def left_out(part: str) -> None:
    """Skip the running test when BULK_UPLOAD_WITHOUT names `part` (postgres, redis, browser): the
    only skip in the suite, asked for by whoever runs it (`./dev.sh test` prints what it leaves out);
    without it a service that does not answer fails the test (ServiceMissing)."""
    if part in WITHOUT:
        pytest.skip(f"{part} left out by BULK_UPLOAD_WITHOUT")


@contextlib.contextmanager
def postgres_schema(prefix: str):
    """A new schema on BULK_UPLOAD_TEST_PG_URL, dropped afterwards; yields the URL whose
    search_path is that schema (each test run gets its own tables). Raises ServiceMissing."""
    from sqlalchemy import create_engine, text

    from bulk_upload_app.db import get_engine

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        raise ServiceMissing(
            f"PostgreSQL at {PG_URL} is not reachable ({exc}). Start it, or set BULK_UPLOAD_WITHOUT=postgres."
        ) from exc
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        get_engine(url).dispose()  # this process's pooled connections to the schema
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


@contextlib.contextmanager
def redis_database(owner: str):
    """An empty Redis database 1..15 on BULK_UPLOAD_TEST_REDIS_URL's server, ours until the end.

    Claimed with a marker key (SET NX, 6 h expiry, so a crashed run frees it), flushed before use
    and after. Database 0 is never used: other things keep data there. Raises ServiceMissing.
    """
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        raise ServiceMissing(
            f"Redis at {REDIS_URL} does not answer ({exc}). Start it, or set BULK_UPLOAD_WITHOUT=redis."
        ) from exc
    for db in range(15, 0, -1):
        url = _with_db(REDIS_URL, db)
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
        if client.dbsize() == 0 and client.set(CLAIM_KEY, owner, nx=True, ex=6 * 3600):
            break
    else:
        raise ServiceMissing(f"no empty Redis database in 1..15 on {REDIS_URL}")
    client.flushdb()
    client.set(CLAIM_KEY, owner, ex=6 * 3600)  # the server's keys go next to it
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def socket_owner(redis_url: str, token: str) -> str | None:
    """The instance_id of the worker holding this tab's websocket (Reflex's RedisTokenManager record)."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        raw = client.get(f"token_manager_socket_record_{token}")
    finally:
        client.close()
    return None if raw is None else pickle.loads(raw).instance_id


@contextlib.contextmanager
def redis_jobs(db_url, monkeypatch):
    """The jobs pointed at the test Redis under a namespace of this test, against `db_url`."""
    import redis

    from bulk_upload_app import jobs

    left_out("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        pytest.fail(f"{ServiceMissing.__name__}: Redis at {REDIS_URL}: {exc}", pytrace=False)
    monkeypatch.setenv("REFLEX_DB_URL", db_url)
    monkeypatch.setenv("BULK_UPLOAD_QUEUE_URL", REDIS_URL)
    monkeypatch.setenv("BULK_UPLOAD_CREATE_LEASE_SECONDS", "2")
    broker = jobs.configure(REDIS_URL, f"bulk-upload-it-{uuid.uuid4().hex[:12]}")
    try:
        yield broker
    finally:
        for name in broker.get_declared_queues():
            broker.flush(name)
        with contextlib.suppress(Exception):
            broker.client.close()
        jobs.configure("")  # back to no queue


# A `db_url` test (tests/integration) run on PostgreSQL only.
postgres_only = pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
