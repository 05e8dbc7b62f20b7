"""Shared fixtures: a migrated database on SQLite and on the real PostgreSQL.

A service the suite needs and cannot reach fails its tests, unless the test command was
told to leave that part out (BULK_UPLOAD_WITHOUT=postgres,redis,browser).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.migrations import upgrade

from .helpers import ServiceMissing, postgres_schema

# The engine, the CLI and their worker processes run as in production (no demo mode), where the
# seat shop's address is a required setting; the tests' own, never visited.
os.environ.setdefault("BULK_UPLOAD_LEGACY_DASHBOARD_URL", "https://dashboard.example.com/billing/seats")

WITHOUT = {part.strip() for part in os.environ.get("BULK_UPLOAD_WITHOUT", "").split(",") if part.strip()}
CORPUS = Path(os.environ.get("BULK_UPLOAD_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))


def left_out(part: str) -> None:
    if part in WITHOUT:
        pytest.skip(f"{part} left out by BULK_UPLOAD_WITHOUT")


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


_TABLES = ("user_skill", "user_outbound_number", "group_member", "bulk_upload_row", "app_user", "bulk_upload",
           "skill", "outbound_number", "user_group", "file_processing_slot", "company", "bulk_upload_audit",
           "used_token")


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
