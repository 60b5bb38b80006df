"""SMART Health Links ride on share links: their flags and label, and who received them.

Revision ID: 0010_health_links
Revises: 0009_upload_heartbeat
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_health_links"
down_revision: str | None = "0009_upload_heartbeat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns: existing links are the portal's own, with no flags or label.
    op.add_column("share_links", sa.Column("flags", sa.Text(), nullable=True))
    op.add_column("share_links", sa.Column("label", sa.Text(), nullable=True))
    op.add_column("share_link_access", sa.Column("recipient", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("share_link_access") as batch:
        batch.drop_column("recipient")
    with op.batch_alter_table("share_links") as batch:
        batch.drop_column("label")
        batch.drop_column("flags")
