"""One truthful membership: the per-user link tables (group_member, user_outbound_number,
user_skill) are again the only record of a user's groups, outbound numbers and skills.

Its file is the 22nd of the chain; its revision id says 0023, the number it was written with
(file names were renumbered by their place in the chain while it was written, ids never change).

0022_batch_membership stored a bulk upload's links once per upload (bulk_upload_group,
bulk_upload_number, bulk_upload_skill) and gave them to its users through
app_user.batch_membership; only uploads/membership.py joined the two, so every other reader of
group_member (the company dashboard, call routing, reports) missed bulk-created users. A create
writes the link rows again, set-wise: one INSERT ... SELECT a link table and chunk
(uploads/membership.link_users).

Upgrade: every member's batch links become its own rows, one INSERT ... SELECT per table (a link
the user already has wins, as it did in 0022_batch_membership's readers: a skill keeps its own
level); then the batch tables, the column and the (id, company_id) indexes their foreign keys
referred to go.

Downgrade: the batch tables, column and indexes come back as 0022_batch_membership made them,
empty; every user keeps its per-user rows, which that revision's readers took as its own links,
so nobody loses a group.

Revision ID: 0023_per_user_links
Revises: 0022_batch_membership
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0023_per_user_links"
down_revision: str | None = "0022_batch_membership"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# batch table: (its column naming the group, number or skill, that table, the per-user link table, extra columns)
BATCH_LINKS = {
    "bulk_upload_group": ("group_id", "user_group", "group_member", []),
    "bulk_upload_number": ("outbound_number_id", "outbound_number", "user_outbound_number", []),
    "bulk_upload_skill": ("skill_id", "skill", "user_skill", ["level"]),
}
# The tables whose (id, company_id) unique index 0022 made for the batch tables' foreign keys.
PARENTS = ["user_group", "outbound_number", "skill", "bulk_upload"]


def upgrade() -> None:
    for table, (column, _parent, link, extra) in BATCH_LINKS.items():
        columns = ", ".join([column, *extra])
        picked = ", ".join(f"b.{c}" for c in [column, *extra])
        op.execute(f"""
INSERT INTO {link} (user_id, {columns})
SELECT u.id, {picked} FROM app_user u
JOIN {table} b ON b.bulk_upload_id = u.bulk_upload_id AND b.company_id = u.company_id
WHERE u.batch_membership AND NOT EXISTS (SELECT 1 FROM {link} l WHERE l.user_id = u.id AND l.{column} = b.{column})
ORDER BY u.id, b.{column}
""")
        op.drop_index(f"ix_{table}_{column}", table_name=table)
        op.drop_table(table)
    for parent in PARENTS:
        op.drop_index(f"uq_{parent}_id_company", table_name=parent)
    # Not batch mode: SQLite (3.35+) drops the column in place, keeping app_user's triggers (0015).
    op.execute("ALTER TABLE app_user DROP COLUMN batch_membership")


def downgrade() -> None:
    op.add_column(
        "app_user", sa.Column("batch_membership", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    for parent in PARENTS:
        op.create_index(f"uq_{parent}_id_company", parent, ["id", "company_id"], unique=True)
    for table, (column, parent, _link, extra) in BATCH_LINKS.items():
        op.create_table(
            table,
            sa.Column("bulk_upload_id", sa.String(length=32), nullable=False),
            sa.Column(column, sa.Integer(), nullable=False),
            sa.Column("company_id", sa.Integer(), nullable=False),
            *(sa.Column(name, sa.Integer(), nullable=False) for name in extra),
            sa.ForeignKeyConstraint(["bulk_upload_id", "company_id"], ["bulk_upload.id", "bulk_upload.company_id"]),
            sa.ForeignKeyConstraint([column, "company_id"], [f"{parent}.id", f"{parent}.company_id"]),
            sa.PrimaryKeyConstraint("bulk_upload_id", column),
        )
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)
