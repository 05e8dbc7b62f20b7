"""Remember the wizard step of a draft, so the admin comes back where they left it.

Revision ID: 0002
Revises: 0001
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_upload") as batch_op:
        batch_op.add_column(sa.Column("wizard_step", sa.String(length=20), nullable=False, server_default="review"))


def downgrade() -> None:
    with op.batch_alter_table("bulk_upload") as batch_op:
        batch_op.drop_column("wizard_step")
