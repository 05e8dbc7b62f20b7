"""Sign-in tokens already used (replay guard for the dashboard's signed tokens).

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: Union[str, None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "used_token",
        sa.Column("jti", sa.String(length=128), primary_key=True),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    )
    op.create_index("ix_used_token_expires_at", "used_token", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_used_token_expires_at", table_name="used_token")
    op.drop_table("used_token")
