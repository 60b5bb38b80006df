"""Initial schema: certificates, the certificate-id lookup, uploads and their row errors.

Revision ID: 0001_initial
Revises:

Written by hand, not imported from ``schema.py``: a migration is a frozen record of one step,
and must not change when the current schema does. On PostgreSQL ``certificates`` is
hash-partitioned on ``pre_enrollment_code`` into 16 partitions (docs/architecture.md,
“Running many processes”); changing that
count later means rewriting the table, so it is fixed here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTITIONS = 16
LIVE = "superseded_by IS NULL AND revoked_at IS NULL"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _create_certificates(postgres)
    op.create_table(
        "certificate_ids",
        sa.Column("certificate_id", sa.Text(), nullable=False),
        sa.Column("pre_enrollment_code", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("certificate_id", name="pk_certificate_ids"),
    )
    _create_uploads()


def _create_certificates(postgres: bool) -> None:
    op.create_table(
        "certificates",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("pre_enrollment_code", sa.Text(), nullable=False),
        sa.Column("certificate_id", sa.Text(), nullable=False),
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("program_id", sa.Text(), nullable=False),
        sa.Column("dose", sa.Integer(), nullable=True),
        sa.Column("total_doses", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("dob", sa.Date(), nullable=True),
        sa.Column("gender", sa.Text(), nullable=False),
        sa.Column("mobile", sa.Text(), nullable=True),
        sa.Column("contacts", sa.Text(), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("meta", sa.Text(), nullable=False),
        sa.Column("upload_id", sa.Text(), nullable=True),
        sa.Column("previous_certificate_id", sa.Text(), nullable=True),
        sa.Column("superseded_by", sa.Text(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pre_enrollment_code", "id", name="pk_certificates"),
        postgresql_partition_by="HASH (pre_enrollment_code)",
    )
    if postgres:
        for remainder in range(PARTITIONS):
            op.execute(
                f"CREATE TABLE certificates_p{remainder:02d} PARTITION OF certificates "
                f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {remainder})"
            )
    # Created on the parent, so PostgreSQL builds them on every partition.
    op.create_index("ix_certificates_pre_enrollment_code", "certificates", ["pre_enrollment_code"])
    op.create_index("ix_certificates_mobile", "certificates", ["mobile"])
    op.create_index(
        "uq_certificates_live_dose",
        "certificates",
        ["pre_enrollment_code", "entity_type", "program_id", "dose"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )


def _create_uploads() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("uploaded_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_uploads"),
    )
    op.create_index("ix_uploads_created_at", "uploads", ["created_at"])
    op.create_index("ix_uploads_uploaded_by_created_at", "uploads", ["uploaded_by", "created_at"])
    op.create_table(
        "upload_errors",
        sa.Column("upload_id", sa.Text(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("pre_enrollment_code", sa.Text(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["uploads.id"],
            name="fk_upload_errors_upload_id_uploads",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("upload_id", "row", name="pk_upload_errors"),
    )


def downgrade() -> None:
    op.drop_table("upload_errors")
    op.drop_table("uploads")
    op.drop_table("certificate_ids")
    op.drop_table("certificates")
