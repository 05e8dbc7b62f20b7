"""The migrations build exactly the tables the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from alembic import command
from bulk_upload_app.db import get_engine, session_scope
from bulk_upload_app.importer import membership
from bulk_upload_app.migrations import schema_drift
from bulk_upload_app.models import User
from bulk_upload_app.settings import PROJECT_ROOT
from tests.support.services import left_out, postgres_schema


def test_migrated_schema_matches_the_models(db_url):
    with get_engine(db_url).connect() as connection:
        assert schema_drift(connection) == []


# ---------------------------------------------------------------- step by step


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def bare_url(request, tmp_path):
    """An empty database to migrate step by step: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'steps.db'}"
        return
    left_out("postgres")
    with postgres_schema("bu_steps") as url:
        yield url


def _migrate(url: str, revision: str, *, down: bool = False) -> None:
    config = _alembic_config()
    config.attributes["url"] = url
    (command.downgrade if down else command.upgrade)(config, revision)


def _alembic_config() -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    return config


def _current(url: str) -> set[str]:
    engine = get_engine(url)
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


# The head when the migration files were renumbered by their place in the chain: a database
# already there stores this revision id, which must still be found (ids never change with names).
HEAD_AT_RENUMBERING = "0022_batch_membership"


def test_a_database_made_at_the_head_of_the_renumbering_upgrades_to_head(bare_url):
    _migrate(bare_url, HEAD_AT_RENUMBERING)
    assert _current(bare_url) == {HEAD_AT_RENUMBERING}
    _migrate(bare_url, "head")
    assert _current(bare_url) == set(ScriptDirectory.from_config(_alembic_config()).get_heads())
    with get_engine(bare_url).connect() as connection:
        assert schema_drift(connection) == []
    get_engine(bare_url).dispose()


# ---------------------------------------------------------------- 0021_batch_membership


def _links(connection) -> list[tuple]:
    return [
        tuple(r)
        for r in connection.execute(
            text(
                "SELECT 'g', user_id, group_id, 0 FROM group_member UNION ALL SELECT 's', user_id, skill_id, level FROM user_skill"
            )
        ).all()
    ]


def test_0022_keeps_the_links_written_before_it_as_each_users_own_and_downgrading_keeps_the_batchs(bare_url):
    _migrate(bare_url, "0019_fast_create")
    engine = get_engine(bare_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO company (id, name, seats, default_settings, created_at, is_demo) VALUES (1, 'A', 10, '{}', CURRENT_TIMESTAMP, false)"
            )
        )
        connection.execute(
            text("INSERT INTO user_group (id, company_id, name) VALUES (1, 1, 'Sales'), (2, 1, 'Support')")
        )
        connection.execute(
            text("INSERT INTO skill (id, company_id, name, name_key) VALUES (1, 1, 'English', 'english')")
        )
        connection.execute(
            text(
                "INSERT INTO bulk_upload (id, company_id, file_name, file_sha256, file_format, user_type, source, batch,"
                " notices, status, total_rows, valid_rows, invalid_rows, created_count, failed_count, version,"
                " wizard_step, created_at, updated_at, create_attempts, seats_reserved, undone_by, undone_count,"
                " column_mapping, notify_emails, file_rows, create_done, create_total, cancel_requested, problem,"
                " ask_columns) VALUES ('u1', 1, 'f.csv', '', 'csv', 'agent', 'wizard', '{}', '[]', 'done', 1, 1, 0,"
                " 1, 0, 1, 'done', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, 0, '', 0, '{}', '[]', 1, 1, 1, false, '',"
                " false)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO app_user (id, company_id, firstname, lastname, email, country_prefix, extension,"
                " user_type, is_active, bulk_upload_id, created_at, updated_at) VALUES (1, 1, 'A', 'B',"
                " 'a@example.com', '+44', 1000, 'agent', true, 'u1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(text("INSERT INTO group_member (user_id, group_id) VALUES (1, 1)"))
        connection.execute(text("INSERT INTO user_skill (user_id, skill_id, level) VALUES (1, 1, 3)"))
    _migrate(bare_url, "head")
    with session_scope(engine, read_only=True) as session:
        user = session.get(User, 1)
        assert (user.batch_membership, user.bulk_upload_id) == (False, "u1")
        groups, skills = membership.group_links([1]), membership.skill_links([1])
        assert session.execute(select(groups.c.group_id)).scalars().all() == [1]
        assert [tuple(r) for r in session.execute(select(skills.c.skill_id, skills.c.level)).all()] == [(1, 3)]
    with engine.begin() as connection:  # after 0021_batch_membership: a user of a batch that gives Support
        connection.execute(
            text("INSERT INTO bulk_upload_group (bulk_upload_id, group_id, company_id) VALUES ('u1', 2, 1)")
        )
        connection.execute(text("UPDATE app_user SET batch_membership = true WHERE id = 1"))
        assert schema_drift(connection) == []
    _migrate(bare_url, "0021_row_text", down=True)
    with engine.connect() as connection:
        assert sorted(_links(connection)) == [("g", 1, 1, 0), ("g", 1, 2, 0), ("s", 1, 1, 3)]
    _migrate(bare_url, "head")
    engine.dispose()
