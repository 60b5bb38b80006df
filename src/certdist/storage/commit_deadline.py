"""A deadline on PostgreSQL's COMMIT, the one wait the session's deadlines do not bound.

With a synchronous standby (the fleet's configuration, docs/fleet.md), the primary's COMMIT
waits until the standby confirms it, for as long as the standby stays away. PostgreSQL turns
``statement_timeout`` off before it commits, and the TCP deadlines see a healthy connection,
so without this a certify hung for as long as the standby was down.

:class:`CommitDeadline` cancels a COMMIT that outlives the deadline (a cancel request, as
``psql``'s Ctrl-C sends). Two outcomes, both a 503 for the client:

* cancelled before the commit was written: the COMMIT fails, nothing is stored
  (``StorageUnavailable`` from the driver's error);
* cancelled while waiting for the standby: PostgreSQL ends the wait with a warning and the
  transaction stays committed on the primary, not confirmed by the standby. The caller gets
  :class:`CommitUnconfirmed`: the row may exist, so a client that retries a certify gets 409
  for it ("already issued"), and until the standby has it a loss of the primary could still
  lose it.

One watcher thread per engine sleeps until the earliest open commit's deadline; a commit
costs two dictionary updates under a lock, not a timer thread of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from certdist.errors import StorageUnavailable

log = logging.getLogger(__name__)


class CommitUnconfirmed(StorageUnavailable):
    """The commit outlived its deadline and was cancelled: it may be stored on the primary,
    without the standby's confirmation."""


class _OpenCommit:
    def __init__(self, connection: Any, due: float) -> None:
        self.connection = connection
        self.due = due
        self.cancelled = False
        self.seen_due = False  # the watcher's: it acts on a commit once
        self._finished = False
        # Held while the cancel request is sent, so the commit cannot return and its
        # connection run another statement that the cancel would hit.
        self._lock = threading.Lock()

    def cancel(self, timeout: float) -> None:
        with self._lock:
            if self._finished:
                return
            self.cancelled = True
            try:
                self.connection.cancel_safe(timeout=timeout)
            except Exception as exc:  # the commit keeps waiting; say so in the log
                log.warning("could not cancel a commit past its deadline: %s", type(exc).__name__)

    def finish(self) -> None:
        with self._lock:
            self._finished = True


class CommitDeadline:
    """Cancels each COMMIT run under :meth:`bounding` that takes longer than ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._changed = threading.Condition()
        self._open: set[_OpenCommit] = set()
        self._watcher: threading.Thread | None = None

    @contextmanager
    def bounding(self, dbapi_connection: Any) -> Iterator[None]:
        """Run the COMMIT of ``dbapi_connection`` (a psycopg connection) inside this block.

        Raises :class:`CommitUnconfirmed` after a commit that returned but was cancelled.
        """
        commit = _OpenCommit(dbapi_connection, time.monotonic() + self._seconds)
        with self._changed:
            self._open.add(commit)
            if self._watcher is None:
                self._watcher = threading.Thread(
                    target=self._watch, name="certdist-commit-deadline", daemon=True
                )
                self._watcher.start()
            self._changed.notify()
        try:
            yield
        finally:
            commit.finish()
            with self._changed:
                self._open.discard(commit)
        if commit.cancelled:
            raise CommitUnconfirmed(
                f"the database did not confirm the write within {self._seconds:g} s (its "
                "standby did not answer); it may be stored: retry, and take a conflict as done"
            )

    def _watch(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                waiting = [commit for commit in self._open if not commit.seen_due]
                due = [commit for commit in waiting if commit.due <= now]
                if not due:
                    nearest = min((commit.due for commit in waiting), default=None)
                    self._changed.wait(None if nearest is None else nearest - now)
                    continue
                for commit in due:
                    commit.seen_due = True
            for commit in due:  # outside the condition: a cancel is a network round trip
                commit.cancel(self._seconds)
