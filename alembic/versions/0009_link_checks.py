"""PostgreSQL: the link tables' foreign keys become set-wise checks, one per statement.

A batch of 100,000 users with 2 groups, 2 numbers and 3 skills writes 700,000 link rows; their
six per-row foreign keys ran 1.4 million referential checks, most of the create's time. These
statement-level constraint triggers give the same guarantee set-wise: an insert or update of
links locks the rows it refers to FOR KEY SHARE (as each foreign key did, row by row) and fails
if one is missing; a delete (or id change) of a user, group, number or skill fails while links
still refer to it, as the foreign keys (no cascade) did. SQLite keeps its foreign keys: it checks
them cheaply and has no statement triggers with transition tables.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# link table: [(its column, the table it refers to)]; every reference is to that table's "id".
LINKS = {
    "group_member": [("user_id", "app_user"), ("group_id", "user_group")],
    "user_outbound_number": [("user_id", "app_user"), ("outbound_number_id", "outbound_number")],
    "user_skill": [("user_id", "app_user"), ("skill_id", "skill")],
}


def _child_function(link: str) -> str:
    checks = []
    for column, parent in LINKS[link]:
        checks.append(f"""
    PERFORM 1 FROM {parent} p WHERE p.id IN (SELECT DISTINCT n.{column} FROM new_rows n) FOR KEY SHARE;
    IF EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = n.{column})) THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = '{link}.{column} refers to a {parent} row that does not exist';
    END IF;""")
    return f"""
CREATE FUNCTION {link}_refs_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{"".join(checks)}
    RETURN NULL;
END $$;
CREATE TRIGGER {link}_refs_on_insert AFTER INSERT ON {link}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {link}_refs_exist();
CREATE TRIGGER {link}_refs_on_update AFTER UPDATE ON {link}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {link}_refs_exist();
"""


def _parents() -> dict[str, list[tuple[str, str]]]:
    referring: dict[str, list[tuple[str, str]]] = {}
    for link, references in LINKS.items():
        for column, parent in references:
            referring.setdefault(parent, []).append((link, column))
    return referring


def _parent_function(parent: str, referring: list[tuple[str, str]]) -> str:
    checks = "".join(
        f"""
    IF EXISTS (SELECT 1 FROM {link} l JOIN old_rows o ON l.{column} = o.id
               WHERE NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = o.id)) THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = '{parent} rows are still referred to by {link}.{column}';
    END IF;"""
        for link, column in referring
    )
    return f"""
CREATE FUNCTION {parent}_still_referred() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{checks}
    RETURN NULL;
END $$;
CREATE TRIGGER {parent}_refs_on_delete AFTER DELETE ON {parent}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {parent}_still_referred();
CREATE TRIGGER {parent}_refs_on_update AFTER UPDATE ON {parent}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {parent}_still_referred();
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for link, references in LINKS.items():
        for column, _parent in references:
            op.drop_constraint(f"{link}_{column}_fkey", link, type_="foreignkey")
        op.execute(_child_function(link))
    for parent, referring in _parents().items():
        op.execute(_parent_function(parent, referring))
    # Room in each page, so that marking a staged row created is a HOT update (no index writes).
    op.execute("ALTER TABLE bulk_upload_row SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE bulk_upload_row RESET (fillfactor)")
    for parent in _parents():
        op.execute(f"DROP TRIGGER {parent}_refs_on_delete ON {parent}")
        op.execute(f"DROP TRIGGER {parent}_refs_on_update ON {parent}")
        op.execute(f"DROP FUNCTION {parent}_still_referred()")
    for link, references in LINKS.items():
        op.execute(f"DROP TRIGGER {link}_refs_on_insert ON {link}")
        op.execute(f"DROP TRIGGER {link}_refs_on_update ON {link}")
        op.execute(f"DROP FUNCTION {link}_refs_exist()")
        for column, parent in references:
            op.create_foreign_key(f"{link}_{column}_fkey", link, parent, [column], ["id"])
