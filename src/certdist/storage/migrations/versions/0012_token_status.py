"""Token Status Lists: the (list, index) each issued SD-JWT VC copy was given.

Revision ID: 0012_token_status
Revises: 0011_status_list
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_token_status"
down_revision: str | None = "0011_status_list"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "token_status_entries",
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("list_index", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("list_id", "list_index", name="pk_token_status_entries"),
    )
    op.create_index(
        "ix_token_status_entries_certificate_id", "token_status_entries", ["certificate_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_token_status_entries_certificate_id", table_name="token_status_entries")
    op.drop_table("token_status_entries")
