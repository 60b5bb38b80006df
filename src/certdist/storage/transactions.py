"""Short transactions, and turning "the database did not answer" into ``StorageUnavailable``.

Repositories open one transaction per method through :class:`Transactions`, so the error
translation and the SQLite write-lock rule live in one place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sa_exc

from certdist.errors import StorageUnavailable
from certdist.storage.engine import WRITE_OPTION

# SQLite reports a missing table as an OperationalError; that is a setup bug (not migrated),
# not an outage, so it must not be disguised as one.
_SQLITE_SCHEMA_ERRORS = ("no such table", "no such column", "no such index")


class Transactions:
    """Opens short transactions on one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction that only reads."""
        with translate_errors(), self._engine.begin() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that writes; committed on normal exit, rolled back on any exception."""
        with translate_errors(), self._writer.begin() as connection:
            yield connection


@contextmanager
def translate_errors() -> Iterator[None]:
    """Re-raise connection failures, timeouts and lock waits as ``StorageUnavailable``.

    Integrity and programming errors pass through unchanged: they are answers from a working
    database, and callers map them to domain errors. A value our column types refuse (a naive
    datetime) comes out as the plain ``ValueError`` or ``TypeError`` it was. The message names
    only the error class; driver messages can quote stored values.
    """
    try:
        yield
    except sa_exc.IntegrityError:
        raise
    except (sa_exc.TimeoutError, sa_exc.DisconnectionError) as exc:
        raise _unavailable(type(exc).__name__) from exc
    except sa_exc.DBAPIError as exc:
        if exc.connection_invalidated or _is_outage(exc):
            raise _unavailable(type(exc.orig).__name__) from exc
        raise
    except sa_exc.StatementError as exc:
        # Raised before reaching the driver, by a column type refusing a value.
        if isinstance(exc.orig, ValueError | TypeError):
            raise exc.orig from None
        raise


def _is_outage(exc: sa_exc.DBAPIError) -> bool:
    if not isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return False
    return not any(marker in str(exc.orig) for marker in _SQLITE_SCHEMA_ERRORS)


def _unavailable(reason: str) -> StorageUnavailable:
    return StorageUnavailable(f"the database did not answer within its deadline ({reason})")
