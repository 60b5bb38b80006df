"""A COMMIT that outlives the deadline is cancelled (storage/commit_deadline.py): with a fake
connection for the watcher's rules, then on PostgreSQL with a commit kept busy by a deferred
trigger. The real case, a synchronous standby away, is in tests/fleet/test_faults.py."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from certdist.errors import StorageUnavailable
from certdist.storage import Database
from certdist.storage.commit_deadline import CommitDeadline, CommitUnconfirmed

DEADLINE = 0.3


class FakeConnection:
    """A psycopg connection's cancel: counts the requests and wakes the waiting commit."""

    def __init__(self, *, fails: bool = False) -> None:
        self.cancels = 0
        self.cancelled = threading.Event()
        self._fails = fails

    def cancel_safe(self, timeout: float) -> None:
        assert timeout == DEADLINE
        self.cancels += 1
        self.cancelled.set()
        if self._fails:
            raise OSError("the server did not take the cancel request")


def _commit_waiting_for_cancel(deadline: CommitDeadline, connection: FakeConnection) -> None:
    with deadline.bounding(connection):
        assert connection.cancelled.wait(5), "the commit was never cancelled"


def test_a_commit_within_the_deadline_is_left_alone() -> None:
    deadline = CommitDeadline(DEADLINE)
    connection = FakeConnection()
    with deadline.bounding(connection):
        pass
    time.sleep(DEADLINE * 2)  # the watcher would have acted by now
    assert connection.cancels == 0


def test_a_commit_past_the_deadline_is_cancelled_once_and_reported_unconfirmed() -> None:
    deadline = CommitDeadline(DEADLINE)
    connection = FakeConnection()
    began = time.monotonic()
    with pytest.raises(CommitUnconfirmed, match="retry, and take a conflict as done"):
        _commit_waiting_for_cancel(deadline, connection)
    assert DEADLINE <= time.monotonic() - began < DEADLINE + 2
    time.sleep(DEADLINE)
    assert connection.cancels == 1
    assert issubclass(CommitUnconfirmed, StorageUnavailable)  # a 503 with Retry-After


def test_only_the_slow_commit_of_many_is_cancelled() -> None:
    deadline = CommitDeadline(DEADLINE)
    slow = FakeConnection()
    outcome: list[BaseException] = []

    def slow_commit() -> None:
        try:
            _commit_waiting_for_cancel(deadline, slow)
        except CommitUnconfirmed as exc:
            outcome.append(exc)

    thread = threading.Thread(target=slow_commit)
    thread.start()
    quick = [FakeConnection() for _ in range(50)]
    for connection in quick:
        with deadline.bounding(connection):
            time.sleep(0.01)
    thread.join(10)
    assert [type(exc) for exc in outcome] == [CommitUnconfirmed]
    assert [connection.cancels for connection in quick] == [0] * 50


def test_a_failed_cancel_is_logged_and_the_commit_still_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deadline = CommitDeadline(DEADLINE)
    connection = FakeConnection(fails=True)
    with pytest.raises(CommitUnconfirmed):
        _commit_waiting_for_cancel(deadline, connection)
    assert "could not cancel a commit past its deadline: OSError" in caplog.text


# A deferred constraint trigger runs inside COMMIT: a commit that takes as long as we like.
_SLOW_COMMIT = """
CREATE TABLE probe (id int PRIMARY KEY);
CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON probe
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();
"""


def _probe_rows(database: Database) -> int:
    with database.transactions.read() as connection:
        return int(connection.execute(text("SELECT count(*) FROM probe")).scalar_one())


def _insert_without_statement_timeout(database: Database) -> None:
    with database.transactions.write() as connection:
        # No statement timeout for this transaction: only the commit deadline can end it.
        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        connection.execute(text("INSERT INTO probe VALUES (1)"))


@pytest.mark.postgres
def test_postgresql_cancels_a_commit_past_the_deadline(postgresql_database_url: str) -> None:
    with Database(postgresql_database_url, deadline_seconds=1.0) as database:
        with database.engine.begin() as connection:
            connection.exec_driver_sql(_SLOW_COMMIT)
        began = time.monotonic()
        with pytest.raises(StorageUnavailable):
            _insert_without_statement_timeout(database)
        assert time.monotonic() - began < 5
        # Cancelled before the commit point: nothing stored, and the pool still serves.
        assert _probe_rows(database) == 0
        with database.transactions.write() as connection:
            connection.execute(text("ALTER TABLE probe DISABLE TRIGGER slow_commit"))
        with database.transactions.write() as connection:
            connection.execute(text("INSERT INTO probe VALUES (2)"))
        assert _probe_rows(database) == 1
