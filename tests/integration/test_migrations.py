"""The migrations build exactly the tables the models describe, on both databases."""

from __future__ import annotations

from bulk_upload_app.db import get_engine
from bulk_upload_app.migrations import schema_drift


def test_migrated_schema_matches_the_models(db_url):
    with get_engine(db_url).connect() as connection:
        assert schema_drift(connection) == []
