"""Short transactions, and turning "the database did not answer" into ``StorageUnavailable``.

Repositories open one transaction per method through :class:`Transactions`, so the error
translation and the SQLite write-lock rule live in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
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
        read_engine: Engine | None = None,
    ) -> None:
        self._engine = engine
        # Where :meth:`fetch` reads the primary (``engine.build_read_engine``).
        self._read_engine = read_engine or engine
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
        One SELECT is atomic on its own, so no explicit transaction is needed: on
        PostgreSQL it runs on the read engine's autocommit connections, one round trip; its
        deadlines (statement timeout, busy timeout) are the connection's, as for every
        other query.

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
        return fetch_on(self._read_engine, prepared, parameters)

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
    """:meth:`Transactions.fetch` on ``engine``.

    A read that finds its pooled connection dropped by the server (a restart, a failover)
    runs once more on a new one, the pool's other connections closed as likely dropped too:
    the read engine does not ping before each read (``engine.build_read_engine``), and a
    SELECT is safe to repeat.
    """
    with translate_errors():
        try:
            rows = _fetch_once(engine, prepared, parameters)
        except _ConnectionDropped:
            engine.dispose()
            try:
                rows = _fetch_once(engine, prepared, parameters)
            except _ConnectionDropped as exc:
                raise exc.wrapped from exc.__cause__
    keys, convert = prepared.keys, prepared.converters
    return [
        {
            key: value if f is None else f(value)
            for key, f, value in zip(keys, convert, row, strict=True)
        }
        for row in rows
    ]


class _ConnectionDropped(Exception):
    def __init__(self, wrapped: sa_exc.StatementError) -> None:
        super().__init__(str(wrapped))
        self.wrapped = wrapped


def _fetch_once(
    engine: Engine, prepared: PreparedRead, parameters: dict[str, Any]
) -> Sequence[Any]:
    try:
        raw = engine.raw_connection()
    except prepared.driver_error as exc:  # the pool's connect errors come unwrapped
        raise _as_sqlalchemy_error(prepared, exc) from exc
    try:
        cursor = raw.cursor()
        try:
            cursor.execute(prepared.sql, prepared.parameters(parameters))
            return cursor.fetchall()
        finally:
            cursor.close()
    except prepared.driver_error as exc:
        wrapped = _as_sqlalchemy_error(prepared, exc)
        if engine.dialect.is_disconnect(exc, raw.dbapi_connection, None):  # type: ignore[arg-type]
            raw.invalidate(exc)
            raise _ConnectionDropped(wrapped) from exc
        raise wrapped from exc
    finally:
        raw.close()  # back to the pool (discarded after invalidate())


def _as_sqlalchemy_error(prepared: PreparedRead, error: Exception) -> sa_exc.StatementError:
    # As SQLAlchemy wraps the driver's errors, so translate_errors can tell an outage from
    # a bug.
    return sa_exc.DBAPIError.instance(
        prepared.sql, None, error, prepared.driver_error, hide_parameters=True
    )


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
