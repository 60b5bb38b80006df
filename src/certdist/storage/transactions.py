"""Short transactions, and turning "the database did not answer" into ``StorageUnavailable``.

Repositories open one transaction per method through :class:`Transactions`, so the error
translation and the SQLite write-lock rule live in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Select
from sqlalchemy import exc as sa_exc

from certdist.errors import StorageUnavailable
from certdist.storage.commit_deadline import CommitDeadline, CommitUnconfirmed
from certdist.storage.engine import WRITE_OPTION, StatementObserver

# SQLite reports a missing table as an OperationalError; that is a setup bug (not migrated),
# not an outage, so it must not be disguised as one.
_SQLITE_SCHEMA_ERRORS = ("no such table", "no such column", "no such index")


class StandbyReads(Protocol):
    """Where reads that may be a moment old go first (``storage/replica.py``)."""

    def fetch(self, prepared: PreparedRead, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        """The standby's rows, or ``[]`` when the primary must answer."""
        ...


class Transactions:
    """Opens short transactions on one engine."""

    def __init__(
        self,
        engine: Engine,
        commit_deadline: CommitDeadline | None = None,
        replica: StandbyReads | None = None,
    ) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._commit_deadline = commit_deadline
        self._replica = replica
        # Around each prepared read, which bypasses the engine's events (Database.observe).
        self.read_observer: StatementObserver | None = None

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction that only reads."""
        with translate_errors(), self._engine.begin() as connection:
            yield connection

    def prepare(self, statement: Select[Any]) -> PreparedRead:
        """``statement`` compiled once for this engine, to be run by :meth:`fetch`."""
        return PreparedRead(statement, self._engine)

    def fetch(
        self, prepared: PreparedRead, parameters: dict[str, Any], *, replica_ok: bool = False
    ) -> list[dict[str, Any]]:
        """Run a prepared single-SELECT on a pooled driver connection, rows as dicts with the
        column types' conversions applied, as ``read()`` + ``execute().mappings()`` gives.

        The hot read of every certificate download (measured on SQLite: 52 µs of CPU for a
        beneficiary's two certificates, conversions included, against 125 µs through a
        SQLAlchemy transaction, whose begin/commit events, result machinery and
        compiled-cache lookup are the difference; the 304 path went from 0.416 to 0.220 ms
        of server CPU per request with the other cuts of issue #15).
        One SELECT is atomic on its own, so no explicit transaction is needed; the pool
        rolls the driver connection back on return (PostgreSQL), and its deadlines
        (statement timeout, busy timeout) are the connection's, as for every other query.

        ``replica_ok``: the read may be a moment old, so a standby may answer it
        (``storage/replica.py``); the primary does when the standby has no rows.
        """
        observer = self.read_observer
        if observer is None:
            return self._routed(prepared, parameters, replica_ok=replica_ok)
        with observer(self._engine.dialect.name, prepared.sql):
            return self._routed(prepared, parameters, replica_ok=replica_ok)

    def _routed(
        self, prepared: PreparedRead, parameters: dict[str, Any], *, replica_ok: bool
    ) -> list[dict[str, Any]]:
        if replica_ok and self._replica is not None:
            rows = self._replica.fetch(prepared, parameters)
            if rows:
                return rows
        return fetch_on(self._engine, prepared, parameters)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that writes; committed on normal exit, rolled back on any exception.

        With a commit deadline (PostgreSQL), a COMMIT that outlives it is cancelled:
        ``storage/commit_deadline.py``.
        """
        with translate_errors(), self._writer.connect() as connection:
            transaction = connection.begin()
            try:
                yield connection
            except BaseException:
                transaction.rollback()
                raise
            if self._commit_deadline is None:
                transaction.commit()
                return
            try:
                with self._commit_deadline.bounding(connection.connection.dbapi_connection):
                    transaction.commit()
            except CommitUnconfirmed:
                # A cancel request may still be on its way to this session: the connection
                # is not handed to another transaction.
                connection.invalidate()
                raise


class PreparedRead:
    """A SELECT compiled for one engine's dialect: its SQL, parameter order and the result
    conversions of its columns (dates from SQLite text, JSON columns, UTC datetimes)."""

    def __init__(self, statement: Select[Any], engine: Engine) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self._positional = list(compiled.positiontup or []) if dialect.positional else None
        columns = list(statement.selected_columns)
        self.keys = [str(column.key) for column in columns]
        self.converters: list[Callable[[Any], Any] | None] = [
            column.type._cached_result_processor(dialect, None) for column in columns
        ]
        self.driver_error: type[Exception] = dialect.loaded_dbapi.Error

    def parameters(self, values: dict[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        if self._positional is None:
            return values
        return tuple(values[name] for name in self._positional)


def fetch_on(
    engine: Engine, prepared: PreparedRead, parameters: dict[str, Any]
) -> list[dict[str, Any]]:
    """:meth:`Transactions.fetch` on ``engine``."""

    with translate_errors():
        try:
            raw = engine.raw_connection()
            try:
                cursor = raw.cursor()
                try:
                    cursor.execute(prepared.sql, prepared.parameters(parameters))
                    rows = cursor.fetchall()
                finally:
                    cursor.close()
            finally:
                raw.close()  # back to the pool
        except prepared.driver_error as exc:
            # As SQLAlchemy wraps the driver's errors, so translate_errors can tell an
            # outage from a bug (the pool's connect errors come unwrapped from here too).
            raise sa_exc.DBAPIError.instance(
                prepared.sql, None, exc, prepared.driver_error, hide_parameters=True
            ) from exc
    keys, convert = prepared.keys, prepared.converters
    return [
        {
            key: value if f is None else f(value)
            for key, f, value in zip(keys, convert, row, strict=True)
        }
        for row in rows
    ]


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
