"""The migrations build exactly the tables the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from bulk_upload_app import auth, models  # noqa: F401  (every table registered)
from bulk_upload_app.db import get_engine


def test_migrated_schema_matches_the_models(db_url):
    with get_engine(db_url).connect() as connection:
        drift = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert drift == []
