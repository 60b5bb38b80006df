"""Short-lived state shared by every server process: sessions, OTP challenges, counters.

No state may live only in one process's memory. :class:`SharedState` is the one
interface; :class:`SqlSharedState` keeps entries in the database (the embedded default, and
what runs when no Redis is configured), ``redis_state.RedisSharedState`` in Redis, and
:class:`MemorySharedState` is the test implementation.

Every entry expires. A key holds either a value (``put``/``get``/``pop``) or a counter
(``incr``); counters count in fixed windows: the expiry is set when a counter is created and
not moved by later increments, so a caller who keeps trying cannot keep a window open.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from certdist.storage.schema import shared_state
from certdist.storage.transactions import Transactions

Now = Callable[[], datetime]

_s = shared_state.c


class SharedState(Protocol):
    def put(self, key: str, value: bytes, ttl_seconds: float) -> None:
        """Store ``value`` under ``key`` for ``ttl_seconds``, replacing what was there."""

    def get(self, key: str) -> bytes | None:
        """The live value under ``key``, or None."""

    def delete(self, key: str) -> None:
        """Forget ``key`` (no error if absent)."""

    def pop(self, key: str) -> bytes | None:
        """Atomically read and delete: of concurrent callers at most one gets the value."""

    def incr(self, key: str, ttl_seconds: float) -> int:
        """Add one to the counter under ``key`` and return it; a new (or expired) counter
        starts at 1 and lives ``ttl_seconds`` from now."""

    def count(self, key: str) -> int:
        """The live counter under ``key``; 0 when absent or expired."""

    def ttl(self, key: str) -> float | None:
        """Seconds until ``key`` expires, or None when it is absent."""


class SqlSharedState:
    """Entries in the ``shared_state`` table; each call is one short transaction.

    Expired rows read as absent and are overwritten in place; :meth:`purge_expired` deletes
    them in bulk (called now and then by writers, so the table stays small without a job).
    """

    #: Every this many writes, a writer also deletes expired rows.
    PURGE_EVERY = 500

    def __init__(self, transactions: Transactions, now: Now) -> None:
        self._tx = transactions
        self._now = now
        self._writes = 0
        self._lock = threading.Lock()
        self._insert: Any = (
            postgresql.insert if transactions.dialect == "postgresql" else sqlite.insert
        )

    def put(self, key: str, value: bytes, ttl_seconds: float) -> None:
        expires = self._now() + timedelta(seconds=ttl_seconds)
        statement = self._insert(shared_state).values(
            key=key, value=value, counter=None, expires_at=expires
        )
        statement = statement.on_conflict_do_update(
            index_elements=[_s.key],
            set_={"value": value, "counter": None, "expires_at": expires},
        )
        with self._tx.write() as connection:
            connection.execute(statement)
        self._maybe_purge()

    def get(self, key: str) -> bytes | None:
        with self._tx.read() as connection:
            row = connection.execute(
                select(_s.value).where(_s.key == key, _s.expires_at > self._now())
            ).first()
        return None if row is None or row.value is None else bytes(row.value)

    def delete(self, key: str) -> None:
        with self._tx.write() as connection:
            connection.execute(delete(shared_state).where(_s.key == key))

    def pop(self, key: str) -> bytes | None:
        with self._tx.write() as connection:
            row = connection.execute(
                delete(shared_state)
                .where(_s.key == key, _s.expires_at > self._now())
                .returning(_s.value)
            ).first()
        return None if row is None or row.value is None else bytes(row.value)

    def incr(self, key: str, ttl_seconds: float) -> int:
        now = self._now()
        expires = now + timedelta(seconds=ttl_seconds)
        expired = _s.expires_at <= now
        # One statement, so concurrent increments from several processes never lose a count.
        statement = self._insert(shared_state).values(
            key=key, value=None, counter=1, expires_at=expires
        )
        statement = statement.on_conflict_do_update(
            index_elements=[_s.key],
            set_={
                "value": None,
                "counter": case((expired, 1), else_=func.coalesce(_s.counter, 0) + 1),
                "expires_at": case((expired, expires), else_=_s.expires_at),
            },
        ).returning(_s.counter)
        with self._tx.write() as connection:
            count = connection.execute(statement).scalar_one()
        self._maybe_purge()
        return int(count)

    def count(self, key: str) -> int:
        with self._tx.read() as connection:
            value = connection.execute(
                select(_s.counter).where(_s.key == key, _s.expires_at > self._now())
            ).scalar_one_or_none()
        return int(value or 0)

    def ttl(self, key: str) -> float | None:
        now = self._now()
        with self._tx.read() as connection:
            expires = connection.execute(
                select(_s.expires_at).where(_s.key == key, _s.expires_at > now)
            ).scalar_one_or_none()
        return None if expires is None else (expires - now).total_seconds()

    def purge_expired(self) -> int:
        with self._tx.write() as connection:
            result = connection.execute(delete(shared_state).where(_s.expires_at <= self._now()))
        return result.rowcount or 0

    def _maybe_purge(self) -> None:
        with self._lock:
            self._writes += 1
            due = self._writes % self.PURGE_EVERY == 0
        if due:
            self.purge_expired()


class MemorySharedState:
    """The test implementation: a dict with expiry, following an injected clock."""

    def __init__(self, now: Now) -> None:
        self._now = now
        self._items: dict[str, tuple[bytes | int, datetime]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str) -> tuple[bytes | int, datetime] | None:
        item = self._items.get(key)
        if item is None or item[1] <= self._now():
            self._items.pop(key, None)
            return None
        return item

    def put(self, key: str, value: bytes, ttl_seconds: float) -> None:
        with self._lock:
            self._items[key] = (value, self._now() + timedelta(seconds=ttl_seconds))

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._live(key)
        return item[0] if item is not None and isinstance(item[0], bytes) else None

    def delete(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def pop(self, key: str) -> bytes | None:
        with self._lock:
            item = self._live(key)
            self._items.pop(key, None)
        return item[0] if item is not None and isinstance(item[0], bytes) else None

    def incr(self, key: str, ttl_seconds: float) -> int:
        with self._lock:
            item = self._live(key)
            if item is None or not isinstance(item[0], int):
                count, expires = 1, self._now() + timedelta(seconds=ttl_seconds)
            else:
                count, expires = item[0] + 1, item[1]
            self._items[key] = (count, expires)
            return count

    def count(self, key: str) -> int:
        with self._lock:
            item = self._live(key)
        return item[0] if item is not None and isinstance(item[0], int) else 0

    def ttl(self, key: str) -> float | None:
        with self._lock:
            item = self._live(key)
        return None if item is None else (item[1] - self._now()).total_seconds()
