"""Apply the Alembic migrations to the configured database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from alembic import command
from bulk_upload_app.settings import PROJECT_ROOT, get_settings


def upgrade(url: str | None = None) -> None:
    alembic_config = Config(str(PROJECT_ROOT / "alembic.ini"))
    alembic_config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    alembic_config.attributes["url"] = url or get_settings().db_url
    command.upgrade(alembic_config, "head")


# On PostgreSQL these foreign keys are statement-level checks (migrations 0009_link_checks and 0016_fast_links); the
# models keep declaring them, which is what SQLite builds.
CHECKED_BY_TRIGGERS = frozenset(
    {
        ("group_member", "user_id"),
        ("group_member", "group_id"),
        ("user_outbound_number", "user_id"),
        ("user_outbound_number", "outbound_number_id"),
        ("user_skill", "user_id"),
        ("user_skill", "skill_id"),
        ("app_user", "company_id"),
        ("app_user", "bulk_upload_id"),
    }
)


def schema_drift(connection: Connection) -> list:
    """How the database's schema differs from the models (empty: the migrations built them)."""
    import sqlmodel

    from bulk_upload_app import models  # noqa: F401 - every table registered in the metadata

    drift = compare_metadata(MigrationContext.configure(connection), sqlmodel.SQLModel.metadata)
    if connection.dialect.name != "postgresql":
        return drift
    return [
        d
        for d in drift
        if not (
            d[0] == "add_fk"
            and len(d[1].column_keys) == 1
            and (d[1].parent.name, d[1].column_keys[0]) in CHECKED_BY_TRIGGERS
        )
    ]
