"""A lease on "creating" (owner, heartbeat, attempts) and the bulk upload audit trail.

Revision ID: 0003
Revises: 0002
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: Union[str, None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_upload") as batch_op:
        batch_op.add_column(sa.Column("creating_owner", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("creating_heartbeat", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("create_attempts", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "bulk_upload_audit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("upload_id", sa.String(length=32), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("admin_user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("worker", sa.String(length=80), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=True),
        sa.Column("valid_rows", sa.Integer(), nullable=True),
        sa.Column("invalid_rows", sa.Integer(), nullable=True),
        sa.Column("created", sa.Integer(), nullable=True),
        sa.Column("failed", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
    )
    op.create_index("ix_bulk_upload_audit_at", "bulk_upload_audit", ["at"])
    op.create_index("ix_bulk_upload_audit_upload_id", "bulk_upload_audit", ["upload_id"])
    op.create_index("ix_bulk_upload_audit_company_id", "bulk_upload_audit", ["company_id"])


def downgrade() -> None:
    op.drop_index("ix_bulk_upload_audit_company_id", table_name="bulk_upload_audit")
    op.drop_index("ix_bulk_upload_audit_upload_id", table_name="bulk_upload_audit")
    op.drop_index("ix_bulk_upload_audit_at", table_name="bulk_upload_audit")
    op.drop_table("bulk_upload_audit")
    with op.batch_alter_table("bulk_upload") as batch_op:
        batch_op.drop_column("create_attempts")
        batch_op.drop_column("creating_heartbeat")
        batch_op.drop_column("creating_owner")
