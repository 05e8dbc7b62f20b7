"""A draft's rows' search text in blocks of up to 1,000 rows (uploads/search.py): a search of a
million-row draft reads about a thousand block rows instead of every staged row.

Drafts staged before this revision have no blocks; their searches read the rows as before.

Revision ID: 0021_row_text
Revises: 0020_row_user_index
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_row_text"
down_revision: str | None = "0020_row_user_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bulk_upload_row_text",
        sa.Column("upload_id", sa.String(length=32), nullable=False),
        sa.Column("first_row", sa.Integer(), nullable=False),
        sa.Column("last_row", sa.Integer(), nullable=False),
        sa.Column("row_numbers", sa.String(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["upload_id"], ["bulk_upload.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("upload_id", "first_row"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Stored as is: a search reads every block of a draft, and decompressing ~65 MB of text
        # (pglz) per search of a million rows cost more than reading it uncompressed.
        op.execute("ALTER TABLE bulk_upload_row_text ALTER COLUMN text SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("bulk_upload_row_text")
