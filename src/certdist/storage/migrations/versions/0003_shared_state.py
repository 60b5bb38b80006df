"""Shared short-lived state: key-value entries with expiry and windowed counters.

Revision ID: 0003_shared_state
Revises: 0002_download_audit
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_shared_state"
down_revision: str | None = "0002_download_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shared_state",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=True),
        sa.Column("counter", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_shared_state"),
    )
    op.create_index("ix_shared_state_expires_at", "shared_state", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_shared_state_expires_at", table_name="shared_state")
    op.drop_table("shared_state")
