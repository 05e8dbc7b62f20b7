"""Notification of finished batches: the outbox of messages to deliver, the addresses an upload
notifies, and when each admin last looked at the history.

Revision ID: 0012
Revises: 0008
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: Union[str, None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_upload") as batch_op:
        batch_op.add_column(sa.Column("notify_emails", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("upload_id", sa.String(length=32), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=500), nullable=False),
        sa.Column("finish_number", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("lease_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=80), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("sent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "upload_id", "kind", "target", "event", "finish_number", name="uq_notification_outbox_once"
        ),
    )
    op.create_index("ix_notification_outbox_due", "notification_outbox", ["status", "next_attempt_at"])
    op.create_index(op.f("ix_notification_outbox_upload_id"), "notification_outbox", ["upload_id"])
    op.create_index(op.f("ix_notification_outbox_company_id"), "notification_outbox", ["company_id"])
    op.create_index(op.f("ix_notification_outbox_created_at"), "notification_outbox", ["created_at"])
    op.create_table(
        "admin_history_seen",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("admin_user_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"]),
        sa.PrimaryKeyConstraint("company_id", "admin_user_id"),
    )


def downgrade() -> None:
    op.drop_table("admin_history_seen")
    op.drop_index(op.f("ix_notification_outbox_created_at"), table_name="notification_outbox")
    op.drop_index(op.f("ix_notification_outbox_company_id"), table_name="notification_outbox")
    op.drop_index(op.f("ix_notification_outbox_upload_id"), table_name="notification_outbox")
    op.drop_index("ix_notification_outbox_due", table_name="notification_outbox")
    op.drop_table("notification_outbox")
    with op.batch_alter_table("bulk_upload") as batch_op:
        batch_op.drop_column("notify_emails")
