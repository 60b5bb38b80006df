"""The durable outbox of messages (mail, SMS notifications) and share links.

Revision ID: 0005_outbox
Revises: 0004_portal
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005_outbox"
down_revision: str | None = "0004_portal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _instant(name: str, *, nullable: bool) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("attachment", sa.LargeBinary(), nullable=True),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _instant("next_attempt_at", nullable=False),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        _instant("claimed_at", nullable=True),
        _instant("lease_until", nullable=True),
        _instant("sent_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _instant("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_messages"),
    )
    op.create_index(
        "uq_outbox_messages_idempotency_key", "outbox_messages", ["idempotency_key"], unique=True
    )
    op.create_index(
        "ix_outbox_messages_status_next_attempt_at",
        "outbox_messages",
        ["status", "next_attempt_at"],
    )
    op.create_table(
        "share_links",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("owner_hash", sa.Text(), nullable=False),
        sa.Column("certificate_id", sa.Text(), nullable=False),
        sa.Column("pre_enrollment_code", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("passcode_hash", sa.Text(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        _instant("created_at", nullable=False),
        _instant("expires_at", nullable=False),
        _instant("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_share_links"),
    )
    op.create_index("uq_share_links_token_hash", "share_links", ["token_hash"], unique=True)
    op.create_index(
        "ix_share_links_owner_hash_created_at", "share_links", ["owner_hash", "created_at"]
    )
    op.create_table(
        "share_link_access",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("link_id", sa.Text(), nullable=False),
        _instant("at", nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_share_link_access"),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["share_links.id"],
            name="fk_share_link_access_link_id_share_links",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_share_link_access_link_id_at", "share_link_access", ["link_id", "at"])


def downgrade() -> None:
    op.drop_table("share_link_access")
    op.drop_table("share_links")
    op.drop_table("outbox_messages")
