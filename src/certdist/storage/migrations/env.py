"""Alembic environment for certdist.

certdist runs its migrations itself (``Database.migrate()``), handing Alembic a connection
that is already inside a transaction, so there is no ``alembic.ini``, no URL in this file and
no logging setup that would overwrite the application's.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from certdist.storage.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "certdist migrations run through certdist.storage.Database.migrate(), "
        "which passes the connection in Config.attributes['connection']"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
