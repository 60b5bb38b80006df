"""Fixed-window rate limits on the shared state store.

A limit is (scope, key, limit, window): ``hit`` counts an attempt and refuses it with
``RateLimited`` once more than ``limit`` attempts fell into the current window. Keys should
already be keyed hashes when they carry personal data (phone numbers, IPs).

A limiter that cannot reach its store fails open by default — an outage of Redis must not
lock every citizen out — and says so in the log. A limit that bounds the guessing of a
secret (one-time codes, a year of birth) is asked with ``fail_closed=True``: then an
unreachable store refuses the attempt with ``StorageUnavailable`` (503), since letting
unlimited guesses through while the store is away would undo the limit. (docs/fleet.md,
"Redis down", says what each part of the service does meanwhile.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from certdist.errors import RateLimited, StorageUnavailable
from certdist.storage.state import SharedState

log = logging.getLogger(__name__)


class RateLimiter:
    def __init__(self, state: SharedState) -> None:
        self._state = state

    @staticmethod
    def _key(scope: str, key: str, window_seconds: int) -> str:
        return f"rl:{scope}:{window_seconds}:{key}"

    def hit(
        self, scope: str, key: str, *, limit: int, window_seconds: int, fail_closed: bool = False
    ) -> None:
        """Count one attempt; raise ``RateLimited`` when it is over ``limit`` in the window.
        ``fail_closed``: refuse (``StorageUnavailable``) rather than allow when the store
        cannot be reached."""
        self._check(
            scope,
            key,
            window_seconds,
            lambda name: self._state.incr(name, window_seconds) <= limit,
            fail_closed=fail_closed,
        )

    def peek(self, scope: str, key: str, *, limit: int, window_seconds: int) -> None:
        """Raise ``RateLimited`` when the window already holds ``limit`` attempts, without
        counting one (for checks before work whose failure alone should count)."""
        self._check(scope, key, window_seconds, lambda name: self._state.count(name) < limit)

    def wait(self, scope: str, key: str, *, limit: int, window_seconds: int) -> float:
        """Seconds until ``scope``/``key`` may be attempted again: 0 while the window still
        has room (or the store cannot be reached, as in :meth:`hit`)."""
        name = self._key(scope, key, window_seconds)
        try:
            if self._state.count(name) < limit:
                return 0.0
            return self._state.ttl(name) or 0.0
        except StorageUnavailable:
            return 0.0

    def _check(
        self,
        scope: str,
        key: str,
        window_seconds: int,
        allowed: Callable[[str], bool],
        *,
        fail_closed: bool = False,
    ) -> None:
        name = self._key(scope, key, window_seconds)
        try:
            if allowed(name):
                return
            retry_after = self._state.ttl(name) or window_seconds
        except StorageUnavailable as exc:
            if fail_closed:
                log.warning("rate limit store unavailable; refusing", extra={"scope": scope})
                raise StorageUnavailable(
                    "the limit on attempts cannot be checked now (its store does not answer); "
                    "try again in a few minutes"
                ) from exc
            log.warning("rate limit store unavailable; allowing", extra={"scope": scope})
            return
        raise RateLimited(_message(retry_after), int(retry_after) + 1)


def _message(retry_after: float) -> str:
    return f"too many attempts; try again in {int(retry_after) + 1} s"
