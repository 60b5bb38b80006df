"""Bulk uploads as leased jobs: the CSV kept until the upload ends, a cursor, a lease.

Revision ID: 0013_upload_jobs
Revises: 0012_token_status
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_upload_jobs"
down_revision: str | None = "0012_token_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upload_jobs",
        sa.Column("upload_id", sa.Text(), nullable=False),
        sa.Column("program_id", sa.Text(), nullable=False),
        sa.Column("csv", sa.LargeBinary(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("next_record", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["uploads.id"],
            name="fk_upload_jobs_upload_id_uploads",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("upload_id", name="pk_upload_jobs"),
    )
    op.create_index("ix_upload_jobs_lease_expires_at", "upload_jobs", ["lease_expires_at"])


def downgrade() -> None:
    op.drop_index("ix_upload_jobs_lease_expires_at", table_name="upload_jobs")
    op.drop_table("upload_jobs")
