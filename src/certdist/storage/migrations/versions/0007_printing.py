"""Batch print jobs, and an index to find the certificates of a facility-day.

Revision ID: 0007_printing
Revises: 0006_integrations

The facility name and the vaccination date exist only inside the signed credential, so the
index is on two expressions over its JSON text. It is created on the parent table, which on
PostgreSQL builds it on every hash partition (a plain, non-unique index needs no partition
key). The expressions are spelled exactly as ``schema.py`` compiles them for queries.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_printing"
down_revision: str | None = "0006_integrations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EXPRESSIONS = {
    "sqlite": (
        "json_extract(certificate, '$.evidence[0].facility.name')",
        "substr(json_extract(certificate, '$.evidence[0].date'), 1, 10)",
    ),
    "postgresql": (
        "(certificate::jsonb #>> '{evidence,0,facility,name}'::text[])",
        "\"left\"(certificate::jsonb #>> '{evidence,0,date}'::text[], 10)",
    ),
}


def upgrade() -> None:
    facility, day = _EXPRESSIONS[op.get_bind().dialect.name]
    op.create_index(
        "ix_certificates_facility_day",
        "certificates",
        [sa.text(facility), sa.text(day), "pre_enrollment_code", "id"],
    )
    op.create_table(
        "print_jobs",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("owner_issuer", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("format", sa.Text(), nullable=False),
        sa.Column("selection", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("unknown", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("output_file", sa.Text(), nullable=True),
        sa.Column("output_bytes", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_print_jobs"),
    )
    op.create_index("ix_print_jobs_status_created_at", "print_jobs", ["status", "created_at"])
    op.create_index("ix_print_jobs_owner_created_at", "print_jobs", ["owner", "created_at"])


def downgrade() -> None:
    op.drop_table("print_jobs")
    op.drop_index("ix_certificates_facility_day", table_name="certificates")
