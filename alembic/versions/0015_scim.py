"""SCIM 2.0: each provisioned user's userName and externalId, and each company's SCIM defaults.

Revision ID: 0011_scim
Revises: 0014
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011_scim"
down_revision: Union[str, None] = "0014"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "scim_identity",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("user_name", sa.String(length=254), nullable=False),
        sa.Column("user_name_key", sa.String(length=254), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
        sa.UniqueConstraint("company_id", "user_name_key", name="uq_scim_identity_user_name"),
    )
    op.create_index(op.f("ix_scim_identity_company_id"), "scim_identity", ["company_id"], unique=False)
    op.create_table(
        "scim_settings",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("user_type", sa.String(length=20), nullable=False),
        sa.Column("country_prefix", sa.String(length=6), nullable=False),
        sa.Column("batch", sa.JSON(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"]),
        sa.PrimaryKeyConstraint("company_id"),
    )


def downgrade() -> None:
    op.drop_table("scim_settings")
    op.drop_index(op.f("ix_scim_identity_company_id"), table_name="scim_identity")
    op.drop_table("scim_identity")
