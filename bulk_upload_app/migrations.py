"""Apply the Alembic migrations to the configured database."""

from __future__ import annotations

from alembic.config import Config

from alembic import command

from .settings import PROJECT_ROOT, get_settings


def upgrade(url: str | None = None) -> None:
    alembic_config = Config(str(PROJECT_ROOT / "alembic.ini"))
    alembic_config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    alembic_config.attributes["url"] = url or get_settings().db_url
    command.upgrade(alembic_config, "head")
