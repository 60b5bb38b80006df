"""SharedState: the same contract from the database (SQLite, PostgreSQL), Redis and memory."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from certdist.errors import StorageUnavailable
from certdist.services.common.clock import FixedClock, SystemClock
from certdist.storage.database import Database
from certdist.storage.redis_state import RedisSharedState
from certdist.storage.state import MemorySharedState, SharedState, SqlSharedState
from tests.support.environment import REDIS_URL, redis_reachable, require
from tests.support.loopback import free_port


@pytest.fixture
def redis_state() -> Iterator[RedisSharedState]:
    require(redis_reachable(), "Redis is not running on 127.0.0.1:6379")
    # A prefix per test keeps parallel test processes apart on one Redis.
    state = RedisSharedState(REDIS_URL, prefix=f"certdist-test:{uuid.uuid4().hex}:")
    yield state
    state.close()


@pytest.fixture(params=["sql", "redis", "memory"])
def state(request: pytest.FixtureRequest, database: Database) -> SharedState:
    # ``database`` is itself parametrised (SQLite, PostgreSQL); the other stores ignore it.
    if request.param == "sql":
        return SqlSharedState(database.transactions, SystemClock().now)
    if request.param == "redis":
        return request.getfixturevalue("redis_state")  # type: ignore[no-any-return]
    return MemorySharedState(SystemClock().now)


def test_put_get_delete(state: SharedState) -> None:
    assert state.get("a") is None
    state.put("a", b"one", 60)
    assert state.get("a") == b"one"
    state.put("a", b"two", 60)
    assert state.get("a") == b"two"
    ttl = state.ttl("a")
    assert ttl is not None
    assert 55 < ttl <= 60
    state.delete("a")
    assert state.get("a") is None
    assert state.ttl("a") is None
    state.delete("a")  # absent: no error


def test_pop_is_one_time(state: SharedState) -> None:
    state.put("once", b"secret", 60)
    assert state.pop("once") == b"secret"
    assert state.pop("once") is None
    assert state.get("once") is None


def test_counters_count_in_a_fixed_window(state: SharedState) -> None:
    assert state.count("c") == 0
    assert [state.incr("c", 60) for _ in range(3)] == [1, 2, 3]
    assert state.count("c") == 3
    first_ttl = state.ttl("c")
    assert first_ttl is not None
    assert first_ttl <= 60
    # Later increments do not extend the window.
    state.incr("c", 3600)
    later_ttl = state.ttl("c")
    assert later_ttl is not None
    assert later_ttl <= 60


def test_concurrent_increments_lose_nothing(state: SharedState) -> None:
    def work() -> None:
        for _ in range(25):
            state.incr("shared", 60)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert state.count("shared") == 100


def test_concurrent_pops_give_the_value_once(state: SharedState) -> None:
    state.put("ticket", b"x", 60)
    results: list[bytes | None] = []
    lock = threading.Lock()

    def work() -> None:
        value = state.pop("ticket")
        with lock:
            results.append(value)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(b"x") == 1


@pytest.fixture(params=["sql", "memory"])
def clocked(request: pytest.FixtureRequest, database: Database) -> tuple[SharedState, FixedClock]:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    if request.param == "sql":
        return SqlSharedState(database.transactions, clock.now), clock
    return MemorySharedState(clock.now), clock


def test_entries_expire(clocked: tuple[SharedState, FixedClock]) -> None:
    state, clock = clocked
    state.put("v", b"1", 10)
    state.incr("n", 10)
    clock.advance(timedelta(seconds=9))
    assert state.get("v") == b"1"
    assert state.count("n") == 1
    clock.advance(timedelta(seconds=1))
    assert state.get("v") is None
    assert state.pop("v") is None
    assert state.count("n") == 0
    assert state.ttl("n") is None
    # An expired counter starts again at 1 with a new window.
    assert state.incr("n", 10) == 1
    assert state.ttl("n") == 10


def test_sql_purge_deletes_only_expired_rows(database: Database) -> None:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    state = SqlSharedState(database.transactions, clock.now)
    state.put("short", b"1", 5)
    state.put("long", b"2", 50)
    clock.advance(timedelta(seconds=10))
    assert state.purge_expired() == 1
    assert state.get("long") == b"2"


def test_unreachable_redis_is_storage_unavailable() -> None:
    state = RedisSharedState(f"redis://127.0.0.1:{free_port()}/0", deadline_seconds=0.5)
    with pytest.raises(StorageUnavailable):
        state.incr("x", 10)
    with pytest.raises(StorageUnavailable):
        state.get("x")
