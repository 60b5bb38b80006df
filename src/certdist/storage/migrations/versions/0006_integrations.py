"""DigiLocker pull transactions and audit; partner API audit.

Revision ID: 0006_integrations
Revises: 0005_outbox
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_integrations"
down_revision: str | None = "0005_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSAL = "integration_audit is append-only"
_PG_FUNCTION = "certdist_refuse_integration_audit_change"


def upgrade() -> None:
    op.create_table(
        "digilocker_transactions",
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("txn", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("operation", "txn", name="pk_digilocker_transactions"),
    )
    op.create_index(
        "ix_digilocker_transactions_expires_at", "digilocker_transactions", ["expires_at"]
    )
    op.create_table(
        "digilocker_issued",
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("certificate_id", sa.Text(), nullable=False),
        sa.Column("pre_enrollment_code", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account", "uri", name="pk_digilocker_issued"),
    )
    op.create_table(
        "integration_audit",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("txn", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("certificate_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_integration_audit"),
    )
    op.create_index("ix_integration_audit_at", "integration_audit", ["at"])
    op.create_index("ix_integration_audit_actor_at", "integration_audit", ["actor", "at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {_PG_FUNCTION}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER integration_audit_append_only BEFORE UPDATE OR DELETE "
            f"ON integration_audit FOR EACH ROW EXECUTE FUNCTION {_PG_FUNCTION}()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER integration_audit_no_{action.lower()} BEFORE {action} "
                f"ON integration_audit BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"
            )


def downgrade() -> None:
    op.drop_table("integration_audit")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {_PG_FUNCTION}()")
    op.drop_table("digilocker_issued")
    op.drop_index("ix_digilocker_transactions_expires_at", table_name="digilocker_transactions")
    op.drop_table("digilocker_transactions")
