"""Shared fixtures: a migrated database on SQLite and on the real PostgreSQL.

A service the suite needs and cannot reach fails its tests, unless the test command was
told to leave that part out (BULK_UPLOAD_WITHOUT=postgres,redis,browser).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.migrations import upgrade

WITHOUT = {part.strip() for part in os.environ.get("BULK_UPLOAD_WITHOUT", "").split(",") if part.strip()}
PG_URL = os.environ.get("BULK_UPLOAD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
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
    schema = f"bu_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PostgreSQL at {PG_URL} is not reachable ({exc}). Start it, or set BULK_UPLOAD_WITHOUT=postgres.")
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    upgrade(url)
    yield url
    get_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


_TABLES = ("user_skill", "user_outbound_number", "group_member", "bulk_upload_row", "app_user", "bulk_upload",
           "skill", "outbound_number", "user_group", "company", "bulk_upload_audit", "used_token")


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
