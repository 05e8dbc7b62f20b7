"""Creating users writes less: link checks lock only rows other transactions could delete, and
app_user loses an index that another one already covers.

Profiled on PostgreSQL (EXPLAIN (ANALYZE, BUFFERS) of each statement of a 5,000-user chunk, 100,000
users with 2 groups, 2 numbers and 3 skills): the link checks of 0015 took about a third of each
link insert, mostly locking the chunk's 5,000 users FOR KEY SHARE once per link table (15,000
tuple locks a chunk, each a write to the user's page and a WAL record). Those users were inserted
by the same transaction a moment before: until it commits no other transaction sees them, so none
can delete them, and their lock guards nothing. The checks below lock FOR KEY SHARE only the rows
whose xmin is not this transaction (a user, group, number or skill that others can see, exactly
what a foreign key locks) and then count what exists in a second statement, with a snapshot taken
after the locks: a row deleted before it was locked is missing from the count and the insert fails,
as before. A row this transaction wrote and then deleted is missing from the count too.

ix_app_user_company_id is dropped on both databases: uq_app_user_company_extension begins with
company_id and answers every query by company (seats, next extension, the directory), so the
second index was written for each new user (100,000 index entries a batch) and never needed.

Revision ID: 0019_fast_create
Revises: 0018_requeue
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019_fast_create"
down_revision: str | None = "0018_requeue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# link table: the column naming the group, number or skill, and its table (besides user_id -> app_user).
LINKS = {
    "group_member": ("group_id", "user_group"),
    "user_outbound_number": ("outbound_number_id", "outbound_number"),
    "user_skill": ("skill_id", "skill"),
}


def _link_function(link: str) -> str:
    column, parent = LINKS[link]
    return f"""
CREATE OR REPLACE FUNCTION {link}_refs_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    mine xid := pg_current_xact_id()::xid;
    user_ids int[]; target_ids int[];
    users_found int; users_of_others int; user_lo int; user_hi int;
    targets_found int; target_lo int; target_hi int;
BEGIN
    SELECT array_agg(DISTINCT n.user_id), array_agg(DISTINCT n.{column}) INTO user_ids, target_ids FROM new_rows n;
    SELECT count(*), count(*) FILTER (WHERE p.xmin <> mine), min(p.company_id), max(p.company_id)
        INTO users_found, users_of_others, user_lo, user_hi FROM unnest(user_ids) AS u(id) JOIN app_user p ON p.id = u.id;
    IF users_of_others > 0 THEN
        -- Users others can see, others could delete before this transaction commits: lock them
        -- (as a foreign key does), then count again in a snapshot taken after the locks.
        PERFORM 1 FROM unnest(user_ids) AS u(id) JOIN app_user p ON p.id = u.id WHERE p.xmin <> mine FOR KEY SHARE OF p;
        SELECT count(*), min(p.company_id), max(p.company_id) INTO users_found, user_lo, user_hi
            FROM unnest(user_ids) AS u(id) JOIN app_user p ON p.id = u.id;
    END IF;
    PERFORM 1 FROM unnest(target_ids) AS t(id) JOIN {parent} p ON p.id = t.id WHERE p.xmin <> mine FOR KEY SHARE OF p;
    SELECT count(*), min(p.company_id), max(p.company_id) INTO targets_found, target_lo, target_hi
        FROM unnest(target_ids) AS t(id) JOIN {parent} p ON p.id = t.id;
    IF users_found < cardinality(user_ids) OR targets_found < cardinality(target_ids) THEN
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


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch_op:
        batch_op.drop_index("ix_app_user_company_id")
    if op.get_bind().dialect.name != "postgresql":
        return
    for link in LINKS:
        op.execute(_link_function(link))


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch_op:
        batch_op.create_index("ix_app_user_company_id", ["company_id"], unique=False)
    if op.get_bind().dialect.name != "postgresql":
        return
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("fast_links_0015", Path(__file__).with_name("0016_fast_links.py"))
    assert spec is not None and spec.loader is not None
    fast_links = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fast_links)
    for link in LINKS:
        op.execute(fast_links._link_function(link))
