"""The demo company is marked, so the demo sign-in can enter it and no other; file-processing slots.

Revision ID: 0005
Revises: 0004
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: Union[str, None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("company") as batch:
        batch.add_column(sa.Column("is_demo", sa.Boolean(), nullable=False, server_default=sa.false()))
    # Databases seeded before this revision: the seed's company was found by its name.
    op.execute("UPDATE company SET is_demo = true WHERE id = (SELECT min(id) FROM company WHERE name = 'Demo Company')")
    op.create_table(
        "file_processing_slot",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("company_id", sa.Integer(), sa.ForeignKey("company.id"), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_file_processing_slot_company_id", "file_processing_slot", ["company_id"])
    op.create_index("ix_file_processing_slot_expires_at", "file_processing_slot", ["expires_at"])


def downgrade() -> None:
    op.drop_table("file_processing_slot")
    with op.batch_alter_table("company") as batch:
        batch.drop_column("is_demo")
