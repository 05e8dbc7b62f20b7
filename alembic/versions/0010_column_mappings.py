"""Matching a file's columns: the table kept while the admin matches, the mapping used, and each
company's remembered mappings.

Revision ID: 0008
Revises: 0010
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: Union[str, None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_upload") as batch_op:
        batch_op.add_column(sa.Column("pending_table", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("column_mapping", sa.JSON(), nullable=False, server_default="{}"))
    op.create_table(
        "column_mapping",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("titles_key", sa.String(length=64), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("company_id", "titles_key", name="uq_column_mapping_titles"),
    )
    op.create_index(op.f("ix_column_mapping_company_id"), "column_mapping", ["company_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_column_mapping_company_id"), table_name="column_mapping")
    op.drop_table("column_mapping")
    with op.batch_alter_table("bulk_upload") as batch_op:
        batch_op.drop_column("column_mapping")
        batch_op.drop_column("pending_table")
