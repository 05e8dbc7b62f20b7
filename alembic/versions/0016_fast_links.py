"""Links join a user and a group, number or skill of the SAME company; on PostgreSQL the users'
own foreign keys become set-wise checks, one per statement, like the links' in 0010.

Profiled on PostgreSQL (EXPLAIN ANALYZE of a 100,000-user create), the per-row foreign-key checks
of app_user.company_id and app_user.bulk_upload_id took about 9% of the create's statement time
(200,000 referential queries, each a trigger event, although a create's users all have one
company and one upload); inserting 20,000 users alone ran 2-3x faster without them. Their statement-level checks below read the distinct values of the statement's rows
once, lock them FOR KEY SHARE (as the foreign keys did) and fail if one is missing; deleting a
company or upload (or changing its id) still fails while users refer to it.

The link checks of 0010 also prove each link's user and its group, number or skill belong to one
company, which no constraint said before; set-wise too: when all the statement's users and all
its groups (numbers, skills) are of one company, every pair is, and only a mixed statement pays
the pairwise join. A user, group, number or skill cannot move to another company (nothing in the
app does it; forbidding it keeps the check true after the insert without locking rows harder).

bulk_upload_row.user_id keeps its foreign key: a per-row check that PostgreSQL skips on every
update not touching the column, while a statement trigger with a transition table would copy
every updated row of every draft edit.

SQLite keeps its foreign keys and gets per-row triggers for the same-company rule.

Revision ID: 0015_fast_links
Revises: 0011_scim
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0015_fast_links"
down_revision: str | None = "0011_scim"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# link table: the column naming the group, number or skill, and its table (besides user_id -> app_user).
LINKS = {
    "group_member": ("group_id", "user_group"),
    "user_outbound_number": ("outbound_number_id", "outbound_number"),
    "user_skill": ("skill_id", "skill"),
}
# Foreign keys of app_user that become statement-level checks on PostgreSQL: (column, parent table).
USER_REFS = [("company_id", "company"), ("bulk_upload_id", "bulk_upload")]
# Tables whose rows belong to one company for good.
OWNED = ["app_user", "user_group", "outbound_number", "skill"]


def _link_function(link: str) -> str:
    column, parent = LINKS[link]
    return f"""
CREATE OR REPLACE FUNCTION {link}_refs_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    users int; users_found int; user_lo int; user_hi int;
    targets int; targets_found int; target_lo int; target_hi int;
BEGIN
    SELECT count(DISTINCT n.user_id), count(DISTINCT n.{column}) INTO users, targets FROM new_rows n;
    SELECT count(*), min(c), max(c) INTO users_found, user_lo, user_hi FROM (
        SELECT p.company_id AS c FROM app_user p WHERE p.id IN (SELECT n.user_id FROM new_rows n) FOR KEY SHARE
    ) AS found;
    SELECT count(*), min(c), max(c) INTO targets_found, target_lo, target_hi FROM (
        SELECT p.company_id AS c FROM {parent} p WHERE p.id IN (SELECT n.{column} FROM new_rows n) FOR KEY SHARE
    ) AS found;
    IF users_found < users OR targets_found < targets THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = '{link} refers to an app_user or {parent} row that does not exist';
    END IF;
    IF user_lo = user_hi AND target_lo = target_hi AND user_lo = target_lo THEN
        RETURN NULL;  -- one company on both sides: every pair is of that company
    END IF;
    IF EXISTS (SELECT 1 FROM new_rows n JOIN app_user u ON u.id = n.user_id JOIN {parent} p ON p.id = n.{column}
               WHERE u.company_id <> p.company_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = '{link} links an app_user and a {parent} row of two different companies';
    END IF;
    RETURN NULL;
END $$;
"""


def _user_refs_function() -> str:
    checks = "".join(
        f"""
    PERFORM 1 FROM {parent} p WHERE p.id IN (SELECT n.{column} FROM new_rows n) FOR KEY SHARE;
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT n.{column} AS v FROM new_rows n WHERE n.{column} IS NOT NULL) AS d
               WHERE NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = d.v)) THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = 'app_user.{column} refers to a {parent} row that does not exist';
    END IF;"""
        for column, parent in USER_REFS
    )
    return f"""
CREATE FUNCTION app_user_owners_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{checks}
    RETURN NULL;
END $$;
CREATE TRIGGER app_user_owners_on_insert AFTER INSERT ON app_user
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_user_owners_exist();
CREATE TRIGGER app_user_owners_on_update AFTER UPDATE ON app_user
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_user_owners_exist();
"""


def _referrers() -> dict[str, list[tuple[str, str]]]:
    """parent table: [(child table, its column)] checked by statement triggers on PostgreSQL."""
    referring: dict[str, list[tuple[str, str]]] = {"app_user": []}
    for link, (column, parent) in LINKS.items():
        referring["app_user"].append((link, "user_id"))
        referring.setdefault(parent, []).append((link, column))
    for column, parent in USER_REFS:
        referring.setdefault(parent, []).append(("app_user", column))
    return referring


def _parent_function(parent: str, referring: list[tuple[str, str]]) -> str:
    # Only the old rows that are gone (deleted, or their id changed) are looked up in the children:
    # an update of a company or an upload (seats, a heartbeat) must not read all its users.
    checks = "".join(
        f"""
    IF EXISTS (SELECT 1 FROM old_rows o JOIN {link} l ON l.{column} = o.id
               WHERE NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = o.id)) THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = '{parent} rows are still referred to by {link}.{column}';
    END IF;"""
        for link, column in referring
    )
    return f"""
CREATE OR REPLACE FUNCTION {parent}_still_referred() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM old_rows o WHERE NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = o.id)) THEN
        RETURN NULL;  -- nothing gone
    END IF;{checks}
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _sqlite_upgrade()
        return
    for column, _parent in USER_REFS:
        op.drop_constraint(f"app_user_{column}_fkey", "app_user", type_="foreignkey")
    op.execute(_user_refs_function())
    for link in LINKS:
        op.execute(_link_function(link))
    for parent, referring in _referrers().items():
        op.execute(_parent_function(parent, referring))
        if parent in ("company", "bulk_upload"):  # 0010 made the others' triggers
            op.execute(f"""
CREATE TRIGGER {parent}_refs_on_delete AFTER DELETE ON {parent}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {parent}_still_referred();
CREATE TRIGGER {parent}_refs_on_update AFTER UPDATE ON {parent}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {parent}_still_referred();
""")
    for table in OWNED:
        op.execute(f"""
CREATE FUNCTION {table}_company_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.company_id IS DISTINCT FROM OLD.company_id THEN
        RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation',
            MESSAGE = '{table} rows cannot move to another company';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER {table}_company_kept BEFORE UPDATE OF company_id ON {table}
    FOR EACH ROW EXECUTE FUNCTION {table}_company_kept();
""")


def _sqlite_upgrade() -> None:
    for link, (column, parent) in LINKS.items():
        for event in ("INSERT", f"UPDATE OF user_id, {column}"):
            name = f"{link}_same_company_on_{event.split()[0].lower()}"
            op.execute(f"""
CREATE TRIGGER {name} BEFORE {event} ON {link}
WHEN (SELECT company_id FROM app_user WHERE id = NEW.user_id)
     <> (SELECT company_id FROM {parent} WHERE id = NEW.{column})
BEGIN
    SELECT RAISE(ABORT, '{link} links an app_user and a {parent} row of two different companies');
END""")
    for table in OWNED:
        op.execute(f"""
CREATE TRIGGER {table}_company_kept BEFORE UPDATE OF company_id ON {table}
WHEN NEW.company_id IS NOT OLD.company_id
BEGIN
    SELECT RAISE(ABORT, '{table} rows cannot move to another company');
END""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for link in LINKS:
            op.execute(f"DROP TRIGGER {link}_same_company_on_insert")
            op.execute(f"DROP TRIGGER {link}_same_company_on_update")
        for table in OWNED:
            op.execute(f"DROP TRIGGER {table}_company_kept")
        return
    link_checks = _migration_0010()
    for table in OWNED:
        op.execute(f"DROP FUNCTION {table}_company_kept() CASCADE")
    for parent in ("company", "bulk_upload"):
        op.execute(f"DROP FUNCTION {parent}_still_referred() CASCADE")
    op.execute("DROP FUNCTION app_user_owners_exist() CASCADE")
    for column, parent in USER_REFS:
        op.create_foreign_key(f"app_user_{column}_fkey", "app_user", parent, [column], ["id"])
    for link in LINKS:
        op.execute(f"DROP FUNCTION {link}_refs_exist() CASCADE")
        op.execute(link_checks._child_function(link))
    for parent, referring in link_checks._parents().items():
        op.execute(f"DROP FUNCTION {parent}_still_referred() CASCADE")
        op.execute(link_checks._parent_function(parent, referring))


def _migration_0010():
    """0010's functions, to put its checks back."""
    spec = importlib.util.spec_from_file_location("link_checks_0010", Path(__file__).with_name("0009_link_checks.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
