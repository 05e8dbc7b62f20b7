"""The migrations build exactly the tables the models describe, on both databases."""

from __future__ import annotations

import pytest
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from alembic import command
from bulk_upload_app.db import get_engine
from bulk_upload_app.migrations import schema_drift
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


# ---------------------------------------------------------------- 0021_batch_membership and 0022_per_user_links (revision ids 0022_batch_membership, 0023_per_user_links)


def _links(connection) -> list[tuple]:
    """Every per-user link: (kind, user, group/number/skill, level or 0)."""
    return sorted(
        tuple(r)
        for r in connection.execute(
            text(
                "SELECT 'g', user_id, group_id, 0 FROM group_member"
                " UNION ALL SELECT 'n', user_id, outbound_number_id, 0 FROM user_outbound_number"
                " UNION ALL SELECT 's', user_id, skill_id, level FROM user_skill"
            )
        ).all()
    )


def _company_with_uploads(connection, uploads: tuple[str, ...] = ("u1",)) -> None:
    """Company 1 with groups Sales (1) and Support (2), number 1, skills English (1) and Klingon
    (2), and these uploads; company 2 with group 3."""
    connection.execute(
        text(
            "INSERT INTO company (id, name, seats, default_settings, created_at, is_demo) VALUES"
            " (1, 'A', 10, '{}', CURRENT_TIMESTAMP, false), (2, 'B', 10, '{}', CURRENT_TIMESTAMP, false)"
        )
    )
    connection.execute(
        text("INSERT INTO user_group (id, company_id, name) VALUES (1, 1, 'Sales'), (2, 1, 'Support'), (3, 2, 'B')")
    )
    connection.execute(text("INSERT INTO outbound_number (id, company_id, number, label) VALUES (1, 1, '+441', '')"))
    connection.execute(
        text(
            "INSERT INTO skill (id, company_id, name, name_key) VALUES (1, 1, 'English', 'english'),"
            " (2, 1, 'Klingon', 'klingon')"
        )
    )
    for upload in uploads:
        connection.execute(
            text(
                "INSERT INTO bulk_upload (id, company_id, file_name, file_sha256, file_format, user_type, source,"
                " batch, notices, status, total_rows, valid_rows, invalid_rows, created_count, failed_count,"
                " version, wizard_step, created_at, updated_at, create_attempts, seats_reserved, undone_by,"
                " undone_count, column_mapping, notify_emails, file_rows, create_done, create_total,"
                " cancel_requested, problem, ask_columns) VALUES (:u, 1, 'f.csv', '', 'csv', 'agent', 'wizard',"
                " '{}', '[]', 'done', 1, 1, 0, 1, 0, 1, 'done', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, 0, '', 0,"
                " '{}', '[]', 1, 1, 1, false, '', false)"
            ),
            {"u": upload},
        )


def _user(connection, user_id: int, upload: str) -> None:
    connection.execute(
        text(
            "INSERT INTO app_user (id, company_id, firstname, lastname, email, country_prefix, extension,"
            " user_type, is_active, bulk_upload_id, created_at, updated_at) VALUES (:i, 1, 'A', 'B', :e, '+44',"
            " :x, 'agent', true, :u, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ),
        {"i": user_id, "e": f"u{user_id}@example.com", "x": 1000 + user_id, "u": upload},
    )


def test_0022_keeps_the_links_written_before_it_as_each_users_own_and_downgrading_keeps_the_batchs(bare_url):
    _migrate(bare_url, "0019_fast_create")
    engine = get_engine(bare_url)
    with engine.begin() as connection:
        _company_with_uploads(connection)
        _user(connection, 1, "u1")
        connection.execute(text("INSERT INTO group_member (user_id, group_id) VALUES (1, 1)"))
        connection.execute(text("INSERT INTO user_skill (user_id, skill_id, level) VALUES (1, 1, 3)"))
    _migrate(bare_url, "0022_batch_membership")
    with engine.begin() as connection:
        assert connection.execute(text("SELECT batch_membership, bulk_upload_id FROM app_user")).one() == (False, "u1")
        assert _links(connection) == [("g", 1, 1, 0), ("s", 1, 1, 3)]
        # after 0022: a user of a batch that gives Support
        connection.execute(
            text("INSERT INTO bulk_upload_group (bulk_upload_id, group_id, company_id) VALUES ('u1', 2, 1)")
        )
        connection.execute(text("UPDATE app_user SET batch_membership = true WHERE id = 1"))
    _migrate(bare_url, "0021_row_text", down=True)
    with engine.connect() as connection:
        assert _links(connection) == [("g", 1, 1, 0), ("g", 1, 2, 0), ("s", 1, 1, 3)]
    _migrate(bare_url, "head")
    engine.dispose()


_BATCH_TABLES = ("bulk_upload_group", "bulk_upload_number", "bulk_upload_skill")


def _batch_schema(connection) -> dict:
    """What 0022 added, as the database describes it (empty once 0023 ran)."""
    found = inspect(connection)
    tables = set(found.get_table_names())

    def fks(table: str) -> list:
        return sorted(
            (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
            for fk in found.get_foreign_keys(table)
        )

    return {
        "tables": {
            table: {
                "columns": sorted((c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)),
                "primary_key": found.get_pk_constraint(table)["constrained_columns"],
                "foreign_keys": fks(table),
                "indexes": sorted((i["name"], tuple(i["column_names"]), i["unique"]) for i in found.get_indexes(table)),
            }
            for table in _BATCH_TABLES
            if table in tables
        },
        "parent_indexes": sorted(
            (parent, i["name"], tuple(i["column_names"]))
            for parent in ("user_group", "outbound_number", "skill", "bulk_upload")
            for i in found.get_indexes(parent)
            if i["name"] == f"uq_{parent}_id_company"
        ),
        "batch_membership": [c["name"] for c in found.get_columns("app_user") if c["name"] == "batch_membership"],
    }


def test_0023_writes_every_batch_link_as_the_members_own_rows_and_downgrading_brings_the_tables_back_empty(
    bare_url,
):
    _migrate(bare_url, "0022_batch_membership")
    engine = get_engine(bare_url)
    with engine.begin() as connection:
        made_by_0022 = _batch_schema(connection)
        assert set(made_by_0022["tables"]) == set(_BATCH_TABLES) and made_by_0022["batch_membership"]
        _company_with_uploads(connection, ("u1", "u2"))
        for user_id, upload in ((1, "u1"), (2, "u1"), (3, "u1"), (4, "u2")):
            _user(connection, user_id, upload)
        # u1 gives Sales, Support, number 1, English at 3 and Klingon at 2; u2 gives nothing.
        connection.execute(
            text(
                "INSERT INTO bulk_upload_group (bulk_upload_id, group_id, company_id) VALUES ('u1', 1, 1), ('u1', 2, 1)"
            )
        )
        connection.execute(
            text("INSERT INTO bulk_upload_number (bulk_upload_id, outbound_number_id, company_id) VALUES ('u1', 1, 1)")
        )
        connection.execute(
            text(
                "INSERT INTO bulk_upload_skill (bulk_upload_id, skill_id, company_id, level) VALUES"
                " ('u1', 1, 1, 3), ('u1', 2, 1, 2)"
            )
        )
        # 1 and 2 are members of their batch; 1 also has Sales and English at 5 of its own. 3's links
        # were made its own (own_links) and it left Support since; 4's batch gives nothing.
        connection.execute(text("UPDATE app_user SET batch_membership = true WHERE id IN (1, 2, 4)"))
        connection.execute(text("INSERT INTO group_member (user_id, group_id) VALUES (1, 1), (3, 1)"))
        connection.execute(text("INSERT INTO user_skill (user_id, skill_id, level) VALUES (1, 1, 5)"))
    expected = sorted(
        [
            *[("g", u, g, 0) for u in (1, 2) for g in (1, 2)],
            ("n", 1, 1, 0),
            ("n", 2, 1, 0),
            ("s", 1, 1, 5),  # its own level, as 0022's readers showed it
            ("s", 1, 2, 2),
            ("s", 2, 1, 3),
            ("s", 2, 2, 2),
            ("g", 3, 1, 0),
        ]
    )
    _migrate(bare_url, "0023_per_user_links")
    with engine.begin() as connection:
        assert _links(connection) == expected
        assert _batch_schema(connection) == {"tables": {}, "parent_indexes": [], "batch_membership": []}
        assert schema_drift(connection) == []
    _migrate(bare_url, "0022_batch_membership", down=True)
    with engine.begin() as connection:
        assert _batch_schema(connection) == made_by_0022
        assert [connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() for table in _BATCH_TABLES] == [
            0,
            0,
            0,
        ]
        assert set(connection.execute(text("SELECT batch_membership FROM app_user")).scalars()) == {False}
        assert _links(connection) == expected  # 0022's readers take these as each user's own
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"), engine.begin() as connection:
        # As 0022 made them: a batch row naming company 1 and company 2's group is refused.
        connection.execute(
            text("INSERT INTO bulk_upload_group (bulk_upload_id, group_id, company_id) VALUES ('u1', 3, 1)")
        )
    _migrate(bare_url, "head")
    with engine.connect() as connection:
        assert _links(connection) == expected
    engine.dispose()
