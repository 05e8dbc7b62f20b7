"""The admin's "Let me match the columns" kept on a received upload, so a job queued again after
its message was lost processes the file as the admin asked.

Revision ID: 0018_requeue
Revises: 0015_fast_links
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0018_requeue"
down_revision: Union[str, None] = "0015_fast_links"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_upload") as batch_op:
        batch_op.add_column(sa.Column("ask_columns", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("bulk_upload") as batch_op:
        batch_op.drop_column("ask_columns")
