"""Upload history and undo: where an upload came from, its undo, and when a user last changed.

Revision ID: 0009
Revises: 0007
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: Union[str, None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_upload") as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=10), nullable=False, server_default="wizard")
        )
        batch_op.add_column(sa.Column("undone_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("undone_by", sa.String(length=120), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("undone_count", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("app_user") as batch_op:
        batch_op.add_column(sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    # Existing users count as unchanged since their creation.
    op.execute("UPDATE app_user SET updated_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("app_user") as batch_op:
        batch_op.drop_column("updated_at")
    with op.batch_alter_table("bulk_upload") as batch_op:
        batch_op.drop_column("undone_count")
        batch_op.drop_column("undone_by")
        batch_op.drop_column("undone_at")
        batch_op.drop_column("source")
