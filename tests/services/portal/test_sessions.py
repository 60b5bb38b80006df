"""Portal sessions: opaque ids, rotation, idle and absolute timeouts, logout, CSRF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certdist.errors import PermissionDenied
from certdist.services.common.clock import FixedClock
from certdist.services.common.hashing import KeyedHasher
from certdist.services.portal.sessions import SessionService
from certdist.storage import Database
from certdist.storage.state import MemorySharedState, SqlSharedState

MOBILE = "+919000000001"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def state(clock: FixedClock) -> MemorySharedState:
    return MemorySharedState(clock.now)


@pytest.fixture
def sessions(state: MemorySharedState, clock: FixedClock) -> SessionService:
    return SessionService(
        state, KeyedHasher(b"k" * 32), clock, idle_seconds=1800, absolute_seconds=12 * 3600
    )


def test_a_session_id_is_long_random_and_stored_only_hashed(
    database: Database, clock: FixedClock
) -> None:
    state = SqlSharedState(database.transactions, clock.now)
    sessions = SessionService(
        state, KeyedHasher(b"k" * 32), clock, idle_seconds=1800, absolute_seconds=43200
    )
    first, second = sessions.start(MOBILE), sessions.start(MOBILE)
    assert len(first.id) >= 43
    assert first.id != second.id
    assert state.get(f"session:{first.id}") is None
    found = sessions.get(first.id)
    assert found is not None
    assert found.mobile == MOBILE
    with database.transactions.read() as connection:
        stored = str(connection.exec_driver_sql("SELECT key, value FROM shared_state").all())
    assert first.id not in stored
    assert first.csrf_token in stored


def test_login_rotates_the_id_and_forgets_the_old_one(sessions: SessionService) -> None:
    planted = sessions.start(MOBILE)
    fresh = sessions.start(MOBILE, replacing=planted.id)
    assert fresh.id != planted.id
    assert sessions.get(planted.id) is None
    assert sessions.get(fresh.id) is not None


def test_the_idle_timeout_ends_a_quiet_session(sessions: SessionService, clock: FixedClock) -> None:
    session = sessions.start(MOBILE)
    clock.advance(timedelta(minutes=29))
    assert sessions.get(session.id) is not None  # and this request counts as activity
    clock.advance(timedelta(minutes=29))
    assert sessions.get(session.id) is not None
    clock.advance(timedelta(minutes=30, seconds=1))
    assert sessions.get(session.id) is None


def test_the_absolute_timeout_ends_even_an_active_session(
    sessions: SessionService, clock: FixedClock
) -> None:
    session = sessions.start(MOBILE)
    for _ in range(12 * 3 - 1):
        clock.advance(timedelta(minutes=20))
        assert sessions.get(session.id) is not None
    clock.advance(timedelta(minutes=20))
    assert sessions.get(session.id) is None


def test_logout_deletes_the_session_on_the_server(sessions: SessionService) -> None:
    session = sessions.start(MOBILE)
    sessions.end(session.id)
    assert sessions.get(session.id) is None


def test_unknown_or_absurd_ids_find_nothing(sessions: SessionService) -> None:
    sessions.start(MOBILE)
    for cookie in (None, "", "x", "a" * 5000):
        assert sessions.get(cookie) is None


def test_the_csrf_token_belongs_to_its_session(sessions: SessionService) -> None:
    mine, other = sessions.start(MOBILE), sessions.start("+919000000002")
    sessions.check_csrf(mine, mine.csrf_token)
    for wrong in (None, "", other.csrf_token, mine.csrf_token[:-1], "é" * 43):
        with pytest.raises(PermissionDenied):
            sessions.check_csrf(mine, wrong)


def test_the_pre_session_token_is_a_signed_double_submit(sessions: SessionService) -> None:
    pre = sessions.new_pre_session()
    token = sessions.pre_session_csrf(pre)
    assert token != pre
    sessions.check_pre_session_csrf(pre, token)
    other = sessions.new_pre_session()
    for cookie, submitted in ((pre, pre), (other, token), (None, token), (pre, None), (pre, "é")):
        with pytest.raises(PermissionDenied):
            sessions.check_pre_session_csrf(cookie, submitted)


def test_a_pending_login_is_remembered_per_pre_session(
    sessions: SessionService, clock: FixedClock
) -> None:
    pre, other = sessions.new_pre_session(), sessions.new_pre_session()
    sessions.remember_login(pre, MOBILE)
    assert sessions.pending_login(pre) == MOBILE
    assert sessions.pending_login(other) is None
    sessions.forget_login(pre)
    assert sessions.pending_login(pre) is None
    sessions.remember_login(pre, MOBILE)
    clock.advance(timedelta(minutes=16))
    assert sessions.pending_login(pre) is None


def test_a_confirmed_beneficiary_is_kept_in_the_session(sessions: SessionService) -> None:
    session = sessions.start(MOBILE)
    sessions.confirm_beneficiary(session, "DEMO0001")
    found = sessions.get(session.id)
    assert found is not None
    assert found.confirmed == frozenset({"DEMO0001"})
