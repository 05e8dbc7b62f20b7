"""Small builders the tests share."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import uuid

from bulk_upload_app.importer.schema import COLUMN_NAMES


def users_csv(rows: list[dict] | list[tuple], header: list[str] | None = None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header or COLUMN_NAMES)
    for row in rows:
        writer.writerow([row.get(c, "") for c in COLUMN_NAMES] if isinstance(row, dict) else row)
    return buffer.getvalue().encode()


def person(i: int, domain: str = "example.com", **overrides) -> dict:
    return {"firstname": f"First{i}", "lastname": f"Last{i}", "email": f"person{i}@{domain}",
            "countryprefix": "+44", "phone": f"0740012{i:04d}", **overrides}


PG_URL = os.environ.get("BULK_UPLOAD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class ServiceMissing(Exception):
    """PostgreSQL or Redis does not answer (the message says which and how to leave it out)."""


@contextlib.contextmanager
def postgres_schema(prefix: str):
    """A new schema on BULK_UPLOAD_TEST_PG_URL, dropped afterwards; yields the URL whose
    search_path is that schema (each test run gets its own tables)."""
    from sqlalchemy import create_engine, text

    from bulk_upload_app.db import get_engine

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        raise ServiceMissing(f"PostgreSQL at {PG_URL} is not reachable ({exc}). Start it, or set "
                             "BULK_UPLOAD_WITHOUT=postgres.") from exc
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        get_engine(url).dispose()  # this process's pooled connections to the schema
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
