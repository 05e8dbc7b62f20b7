"""Database fixtures: a migrated database on SQLite and on the real PostgreSQL.

`db_url` (and `engine` over it) runs each test twice: on a fresh copy of a migrated SQLite file,
and on one migrated PostgreSQL schema per session (BULK_UPLOAD_TEST_PG_URL), truncated before
each test. PostgreSQL is left out (skipped) when BULK_UPLOAD_WITHOUT names it, and fails the
tests when it does not answer. `seeded`: the demo company made by the CLI; `queue`: a dramatiq
worker in this process on the test Redis (tests.support.services.redis_jobs).
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import dramatiq
import pytest
from sqlalchemy import text

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.migrations import upgrade
from tests.support.cli import cli
from tests.support.services import ServiceMissing, left_out, postgres_schema, redis_jobs


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite:///{path}")
    get_engine(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(scope="session")
def pg_schema_url():
    left_out("postgres")
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_schema("bu_test"))
        except ServiceMissing as exc:
            pytest.fail(str(exc), pytrace=False)
        upgrade(url)
        yield url


_TABLES = (
    "user_skill",
    "user_outbound_number",
    "group_member",
    "bulk_upload_row_text",
    "bulk_upload_row",
    "api_import",
    "api_idempotency",
    "webhook_endpoint",
    "app_user",
    "bulk_upload",
    "skill",
    "outbound_number",
    "user_group",
    "file_processing_slot",
    "company",
    "bulk_upload_audit",
    "used_token",
    "api_key",
    "column_mapping",
    "notification_outbox",
    "admin_history_seen",
    "scim_identity",
    "scim_settings",
)


# For a test of what only PostgreSQL has (writers that meet mid-transaction: SQLite's take turns
# from BEGIN on): generated for the postgres database only, never for SQLite and skipped.
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_schema_url")
    with get_engine(url).begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(_TABLES)} RESTART IDENTITY CASCADE"))
    return url


@pytest.fixture
def engine(db_url):
    return get_engine(db_url)


@pytest.fixture
def demo_company(engine) -> int:
    from bulk_upload_app.seed import seed_demo

    with session_scope(engine) as session:
        return seed_demo(session)


@pytest.fixture
def seeded(db_url):
    code, doc, err = cli(db_url, "demo-seed", "--json")
    assert code == 0, err
    return db_url, doc["id"]


@pytest.fixture
def queue(db_url, monkeypatch):
    """A worker (2 threads, every queue) in this process consuming the jobs."""
    with redis_jobs(db_url, monkeypatch) as broker:
        worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
        worker.start()
        try:
            yield broker
        finally:
            worker.stop()
