"""Bitstring Status Lists: the (list, index) each DIVOC credential was given.

Revision ID: 0011_status_list
Revises: 0010_health_links
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_status_list"
down_revision: str | None = "0010_health_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_list_entries",
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("list_index", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Text(), nullable=False),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("list_id", "list_index", name="pk_status_list_entries"),
    )
    op.create_index(
        "ix_status_list_entries_certificate_id", "status_list_entries", ["certificate_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_status_list_entries_certificate_id", table_name="status_list_entries")
    op.drop_table("status_list_entries")
