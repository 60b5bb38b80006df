"""``SharedState`` in Redis (short-lived shared state, Sentinel-capable).

Keys are prefixed so one Redis can serve several deployments. Every operation is a single
atomic command (or a MULTI/EXEC pipeline), so concurrent processes never lose an update.
Expiry is Redis's own (server time): tests that move a fake clock use the SQL or memory store.
Connection failures surface as ``StorageUnavailable``, which callers that must fail open
(rate limiting) catch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from certdist.errors import ConfigurationError, StorageUnavailable


class RedisSharedState:
    def __init__(
        self, url: str, *, prefix: str = "certdist:", deadline_seconds: float = 2.0
    ) -> None:
        try:
            self._redis: Any = redis.Redis.from_url(
                url,
                socket_timeout=deadline_seconds,
                socket_connect_timeout=deadline_seconds,
                health_check_interval=30,
            )
        except ValueError as exc:
            raise ConfigurationError("the Redis URL cannot be parsed") from exc
        self._prefix = prefix

    def _key(self, key: str) -> str:
        return self._prefix + key

    def put(self, key: str, value: bytes, ttl_seconds: float) -> None:
        with _unavailable_on_error():
            self._redis.set(self._key(key), value, px=_millis(ttl_seconds))

    def get(self, key: str) -> bytes | None:
        with _unavailable_on_error():
            value = self._redis.get(self._key(key))
        return _as_value(value)

    def delete(self, key: str) -> None:
        with _unavailable_on_error():
            self._redis.delete(self._key(key))

    def pop(self, key: str) -> bytes | None:
        with _unavailable_on_error():
            value = self._redis.getdel(self._key(key))
        return _as_value(value)

    def incr(self, key: str, ttl_seconds: float) -> int:
        name = self._key(key)
        with _unavailable_on_error():
            pipe = self._redis.pipeline(transaction=True)
            pipe.incr(name)
            # NX: only a counter without an expiry (a new one) gets it: fixed windows.
            pipe.pexpire(name, _millis(ttl_seconds), nx=True)
            count, _ = pipe.execute()
        return int(count)

    def count(self, key: str) -> int:
        with _unavailable_on_error():
            value = self._redis.get(self._key(key))
        try:
            return int(value) if value is not None else 0
        except ValueError:  # a value, not a counter
            return 0

    def ttl(self, key: str) -> float | None:
        with _unavailable_on_error():
            millis = self._redis.pttl(self._key(key))
        return None if millis is None or millis < 0 else millis / 1000

    def ping(self) -> None:
        with _unavailable_on_error():
            self._redis.ping()

    def close(self) -> None:
        self._redis.close()


def _millis(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _as_value(value: Any) -> bytes | None:
    # A counter read as a value is "no value": the two uses of a key never mix.
    if value is None:
        return None
    return bytes(value)


@contextmanager
def _unavailable_on_error() -> Iterator[None]:
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise StorageUnavailable(f"Redis did not answer ({type(exc).__name__})") from exc
