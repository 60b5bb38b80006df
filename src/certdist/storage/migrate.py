"""Running the Alembic migrations that ship inside the package.

No ``alembic.ini`` is needed: the configuration is built here and points at the
``migrations`` folder next to this module, so an installed wheel can migrate its database.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from certdist.storage.transactions import Transactions

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Arbitrary constant shared by every certdist process: the advisory lock that lets only one
# of many starting processes migrate a PostgreSQL database at a time.
_MIGRATION_LOCK_KEY = 0x63657274646973


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the packaged migrations, bound to ``connection``.

    Also what a developer passes to ``alembic.command.revision`` to write the next migration.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of certdist."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def upgrade_to_head(transactions: Transactions, deadline_ms: int) -> None:
    """Apply every missing migration in one transaction; a no-op when already at head.

    Safe to call from several processes at once: PostgreSQL serialises them on an advisory
    lock, SQLite on its write lock. Schema changes may run longer than a request's deadline,
    so the statement timeout is lifted for this transaction, while a lock timeout stops a
    migration from queueing behind live traffic and blocking everything behind it.
    """
    with transactions.write() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
            connection.execute(text(f"SET LOCAL lock_timeout = {int(deadline_ms)}"))
        command.upgrade(alembic_config(connection), "head")


def current_revision(transactions: Transactions) -> str | None:
    """The revision the database is at, or None before the first migration."""
    with transactions.read() as connection:
        return MigrationContext.configure(connection).get_current_revision()
