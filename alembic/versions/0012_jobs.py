"""Durable jobs: the received file kept for the workers, the processing lease, progress, cancel.

Revision ID: 0013
Revises: 0012
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: Union[str, None] = "0012"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_upload") as batch_op:
        batch_op.add_column(sa.Column("file_rows", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("processing_owner", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.add_column(sa.Column("processing_heartbeat", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("queued_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("create_done", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("create_total", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(
            sa.Column("problem", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False, server_default="")
        )
    op.create_table(
        "upload_file",
        sa.Column("upload_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["upload_id"], ["bulk_upload.id"]),
        sa.PrimaryKeyConstraint("upload_id"),
    )


def downgrade() -> None:
    op.drop_table("upload_file")
    with op.batch_alter_table("bulk_upload") as batch_op:
        for column in (
            "problem",
            "cancel_requested",
            "create_total",
            "create_done",
            "queued_at",
            "processing_heartbeat",
            "processing_owner",
            "file_rows",
        ):
            batch_op.drop_column(column)
