from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certdist.domain.roles import Principal
from certdist.errors import PermissionDenied
from certdist.services.common.clock import FixedClock
from certdist.services.common.hashing import KeyedHasher
from certdist.services.facility.staff_sessions import FOUND_KEPT, IDLE_SECONDS, StaffSessions
from certdist.storage.state import MemorySharedState

STAFF = Principal("sub-1", "nurse", frozenset({"facility-print"}), issuer="https://idp")


def _sessions(absolute_hours: int = 8) -> tuple[StaffSessions, FixedClock, MemorySharedState]:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    state = MemorySharedState(clock.now)
    sessions = StaffSessions(
        state, KeyedHasher(b"k" * 32), clock, absolute_seconds=absolute_hours * 3600
    )
    return sessions, clock, state


def test_session_round_trips_the_principal_and_stores_no_raw_id() -> None:
    sessions, _, state = _sessions()
    session = sessions.start(STAFF)
    assert sessions.get(session.id) == session
    assert all(session.id not in key for key in state._items)


def test_idle_timeout_restarts_with_use() -> None:
    sessions, clock, _ = _sessions()
    session = sessions.start(STAFF)
    clock.advance(timedelta(seconds=IDLE_SECONDS - 1))
    assert sessions.get(session.id) is not None
    clock.advance(timedelta(seconds=IDLE_SECONDS - 1))
    assert sessions.get(session.id) is not None
    clock.advance(timedelta(seconds=IDLE_SECONDS))
    assert sessions.get(session.id) is None


def test_absolute_timeout_holds_even_when_active() -> None:
    sessions, clock, _ = _sessions(absolute_hours=1)
    session = sessions.start(STAFF)
    for _ in range(3):
        clock.advance(timedelta(minutes=19))
        assert sessions.get(session.id) is not None
    clock.advance(timedelta(minutes=3))
    assert sessions.get(session.id) is None


def test_sign_in_replaces_the_old_id_and_logout_ends_it() -> None:
    sessions, _, _ = _sessions()
    first = sessions.start(STAFF)
    second = sessions.start(STAFF, replacing=first.id)
    assert second.id != first.id
    assert sessions.get(first.id) is None
    sessions.end(second.id)
    assert sessions.get(second.id) is None
    assert sessions.get("") is None
    assert sessions.get("x" * 200) is None


def test_csrf() -> None:
    sessions, _, _ = _sessions()
    session = sessions.start(STAFF)
    StaffSessions.check_csrf(session, session.csrf_token)
    for wrong in (None, "", "nope", "é"):  # a form field may hold any text: no 500
        with pytest.raises(PermissionDenied):
            StaffSessions.check_csrf(session, wrong)


def test_a_session_remembers_what_its_searches_found_and_no_more() -> None:
    sessions, _, state = _sessions()
    session = sessions.start(STAFF)
    other = sessions.start(STAFF)
    sessions.remember_found(session, ["BEN1", "BEN2"])
    sessions.remember_found(session, [])
    assert sessions.was_found(session, "BEN1")
    assert sessions.was_found(session, "BEN2")
    assert not sessions.was_found(session, "BEN3")
    assert not sessions.was_found(other, "BEN1")  # another staff member's search
    sessions.end(session.id)
    assert not sessions.was_found(session, "BEN1")
    assert all(
        b"BEN1" not in value for value, _ in state._items.values() if isinstance(value, bytes)
    )


def test_the_found_list_keeps_the_newest_and_dies_with_the_session() -> None:
    sessions, clock, _ = _sessions(absolute_hours=1)
    session = sessions.start(STAFF)
    sessions.remember_found(session, [f"OLD{n}" for n in range(FOUND_KEPT)])
    sessions.remember_found(session, ["NEW"])
    assert sessions.was_found(session, "NEW")
    assert sessions.was_found(session, "OLD0")
    assert not sessions.was_found(session, f"OLD{FOUND_KEPT - 1}")  # the oldest went
    clock.advance(timedelta(hours=1, seconds=1))
    assert not sessions.was_found(session, "NEW")
