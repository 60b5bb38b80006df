"""The append-only download audit.

Revision ID: 0002_download_audit
Revises: 0001_initial
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_download_audit"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSAL = "download_audit is append-only"


def upgrade() -> None:
    op.create_table(
        "download_audit",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("permission", sa.Text(), nullable=False),
        sa.Column("certificate_id", sa.Text(), nullable=False),
        sa.Column("pre_enrollment_code", sa.Text(), nullable=False),
        sa.Column("format", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_download_audit"),
    )
    op.create_index(
        "ix_download_audit_pre_enrollment_code_at",
        "download_audit",
        ["pre_enrollment_code", "at"],
    )
    op.create_index("ix_download_audit_at", "download_audit", ["at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION certdist_refuse_audit_change() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER download_audit_append_only BEFORE UPDATE OR DELETE "
            "ON download_audit FOR EACH ROW EXECUTE FUNCTION certdist_refuse_audit_change()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER download_audit_no_{action.lower()} BEFORE {action} "
                f"ON download_audit BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"
            )


def downgrade() -> None:
    op.drop_table("download_audit")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS certdist_refuse_audit_change()")
