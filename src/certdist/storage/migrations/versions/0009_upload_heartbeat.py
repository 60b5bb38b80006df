"""A heartbeat on bulk uploads, so one whose process died is not "processing" for ever.

Revision ID: 0009_upload_heartbeat
Revises: 0008_withdrawn_index
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_upload_heartbeat"
down_revision: str | None = "0008_withdrawn_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("uploads", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("uploads", "heartbeat_at")
