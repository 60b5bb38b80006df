"""An index of withdrawn (revoked or superseded) certificates, for revocation lists.

Revision ID: 0008_withdrawn_index
Revises: 0007_printing
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_withdrawn_index"
down_revision: str | None = "0007_printing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WITHDRAWN = "NOT (superseded_by IS NULL AND revoked_at IS NULL)"


def upgrade() -> None:
    # On PostgreSQL an index on the partitioned parent is built on every partition.
    op.create_index(
        "ix_certificates_withdrawn",
        "certificates",
        ["entity_type", "updated_at"],
        sqlite_where=sa.text(_WITHDRAWN),
        postgresql_where=sa.text(_WITHDRAWN),
    )


def downgrade() -> None:
    op.drop_index("ix_certificates_withdrawn", table_name="certificates")
