"""Batch membership: a bulk upload's groups, outbound numbers and skills are stored once per upload
(bulk_upload_group, bulk_upload_number, bulk_upload_skill), and the users it creates have them
through app_user.batch_membership instead of one link row per user and group, number or skill.

Profiled on PostgreSQL (100,000 users with 2 groups, 2 numbers and 3 skills), the 700,000 link
rows a create wrote were about 45% of its time, mostly their index entries; the statement-level
checks of 0010/0015/0019 had already made their integrity checks cheap. Seven rows per upload
replace them. Readers see a user's own links and its batch's together through
uploads/membership.py, the one place that joins the two.

Integrity: each batch row names its company beside its upload and its group (number, skill), and
two composite foreign keys, (bulk_upload_id, company_id) -> bulk_upload (id, company_id) and
(group_id, company_id) -> user_group (id, company_id), prove that they are of one company, on
both databases alike (ordinary foreign keys: a handful of rows per upload, so no statement-level
checks are needed). The readers join a user to its batch rows on its upload AND its company. The
unique indexes on (id, company_id) are what those foreign keys refer to.

Existing data: every link row written before stays a direct link; existing users get
batch_membership false and no upload gets batch rows, so nothing is rewritten. Downgrading first
writes each member's batch links as its own links, so no one loses a group.

Revision ID: 0022_batch_membership
Revises: 0021_row_text
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0022_batch_membership"
down_revision: str | None = "0021_row_text"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# batch table: (its column naming the group, number or skill, that table, the direct link table, extra columns)
BATCH_LINKS = {
    "bulk_upload_group": ("group_id", "user_group", "group_member", []),
    "bulk_upload_number": ("outbound_number_id", "outbound_number", "user_outbound_number", []),
    "bulk_upload_skill": ("skill_id", "skill", "user_skill", ["level"]),
}
PARENTS = ["user_group", "outbound_number", "skill", "bulk_upload"]


def upgrade() -> None:
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


def downgrade() -> None:
    for table, (column, _parent, link, extra) in BATCH_LINKS.items():
        columns = ", ".join([column, *extra])
        picked = ", ".join(f"b.{c}" for c in [column, *extra])
        op.execute(f"""
INSERT INTO {link} (user_id, {columns})
SELECT u.id, {picked} FROM app_user u
JOIN {table} b ON b.bulk_upload_id = u.bulk_upload_id AND b.company_id = u.company_id
WHERE u.batch_membership AND NOT EXISTS (SELECT 1 FROM {link} l WHERE l.user_id = u.id AND l.{column} = b.{column})
""")
        op.drop_index(f"ix_{table}_{column}", table_name=table)
        op.drop_table(table)
    for parent in PARENTS:
        op.drop_index(f"uq_{parent}_id_company", table_name=parent)
    # Not batch mode: SQLite (3.35+) drops the column in place, keeping app_user's triggers (0015).
    op.execute("ALTER TABLE app_user DROP COLUMN batch_membership")
