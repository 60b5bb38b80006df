"""Fixed-window rate limits; failing open when the store is away (DESIGN §5), except for
the limits on guessing, which fail closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certdist.errors import RateLimited, StorageUnavailable
from certdist.services.common.clock import FixedClock
from certdist.services.common.ratelimit import RateLimiter
from certdist.storage.state import MemorySharedState


def _limiter() -> tuple[RateLimiter, FixedClock]:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    return RateLimiter(MemorySharedState(clock.now)), clock


def test_allows_up_to_the_limit_then_refuses_with_retry_after() -> None:
    limiter, clock = _limiter()
    for _ in range(3):
        limiter.hit("otp-send", "phone-hash", limit=3, window_seconds=600)
    clock.advance(timedelta(seconds=100))
    with pytest.raises(RateLimited) as refused:
        limiter.hit("otp-send", "phone-hash", limit=3, window_seconds=600)
    assert refused.value.retry_after == 501
    # Other keys and scopes have their own windows.
    limiter.hit("otp-send", "other", limit=3, window_seconds=600)
    limiter.hit("otp-guess", "phone-hash", limit=3, window_seconds=600)


def test_window_ends_and_counting_starts_again() -> None:
    limiter, clock = _limiter()
    for _ in range(2):
        limiter.hit("s", "k", limit=2, window_seconds=60)
    with pytest.raises(RateLimited):
        limiter.hit("s", "k", limit=2, window_seconds=60)
    clock.advance(timedelta(seconds=60))
    limiter.hit("s", "k", limit=2, window_seconds=60)


def test_peek_does_not_count() -> None:
    limiter, _ = _limiter()
    for _ in range(5):
        limiter.peek("s", "k", limit=1, window_seconds=60)
    limiter.hit("s", "k", limit=1, window_seconds=60)
    with pytest.raises(RateLimited):
        limiter.peek("s", "k", limit=1, window_seconds=60)


class _DownState(MemorySharedState):
    def incr(self, key: str, ttl_seconds: float) -> int:
        raise StorageUnavailable("down")

    def count(self, key: str) -> int:
        raise StorageUnavailable("down")


def test_fails_open_when_the_store_is_unavailable() -> None:
    limiter = RateLimiter(_DownState(lambda: datetime(2026, 1, 1, tzinfo=UTC)))
    for _ in range(10):
        limiter.hit("s", "k", limit=1, window_seconds=60)
        limiter.peek("s", "k", limit=1, window_seconds=60)


def test_a_guessing_limit_fails_closed_when_the_store_is_unavailable() -> None:
    limiter = RateLimiter(_DownState(lambda: datetime(2026, 1, 1, tzinfo=UTC)))
    with pytest.raises(StorageUnavailable, match="cannot be checked"):
        limiter.hit("otp-guess-phone", "k", limit=10, window_seconds=60, fail_closed=True)
