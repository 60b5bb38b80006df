"""Citizen portal: the development SMS inbox (table ``sms_outbox``).

Revision ID: 0004_portal
Revises: 0003_shared_state
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_portal"
down_revision: str | None = "0003_shared_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sms_outbox"),
    )
    op.create_index("ix_sms_outbox_created_at", "sms_outbox", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_sms_outbox_created_at", table_name="sms_outbox")
    op.drop_table("sms_outbox")
