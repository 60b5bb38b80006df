"""``DownloadAudit`` on SQLAlchemy Core, written in batches by a background thread.

A download must not wait for its own audit row: under load, one INSERT transaction per
download serialises on the database's write lock (SQLite) and set the p99 of PDF downloads
past a second (measured). Entries are queued and written every ``flush_seconds`` in one
transaction.

What is guaranteed: an entry is queued (or written) before ``record`` returns, and every
delivery calls ``record`` before its response is sent. Queued entries survive a database
outage (written when it comes back) and a graceful shutdown (``close`` writes them; the
server's shutdown calls it after the last response). Nothing is ever dropped: when the queue
is full (the database away for long), ``record`` writes its entry itself and raises
``StorageUnavailable`` if it cannot, so that document is not delivered (503) rather than
delivered unaudited. What is not: a hard crash (SIGKILL, power) loses the entries queued in
the last ``flush_seconds`` (50 ms); a shutdown while the database stays away loses what it
could not write, and logs how many.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from sqlalchemy import insert, select

from certdist.domain.models import Download
from certdist.errors import StorageUnavailable
from certdist.storage.commit_deadline import CommitUnconfirmed
from certdist.storage.schema import download_audit
from certdist.storage.transactions import Transactions

log = logging.getLogger(__name__)

_a = download_audit.c
MAX_QUEUED = 200_000
FLUSH_SECONDS = 0.05  # how long the writer gathers a batch


class SqlDownloadAudit:
    def __init__(
        self,
        transactions: Transactions,
        *,
        flush_seconds: float | None = None,
        max_batch: int = 1000,
    ) -> None:
        self._tx = transactions
        self._flush_seconds = FLUSH_SECONDS if flush_seconds is None else flush_seconds
        self._max_batch = max_batch
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = threading.Condition()
        self._idle = threading.Event()
        self._idle.set()
        self._urgent = threading.Event()  # flush() or close(): stop gathering, write now
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="download-audit", daemon=True)
        self._thread.start()

    def record(self, download: Download) -> None:
        row = {
            "id": download.id,
            "at": download.at,
            "actor": download.actor,
            "issuer": download.issuer,
            "permission": download.permission,
            "certificate_id": download.certificate_id,
            "pre_enrollment_code": download.pre_enrollment_code,
            "format": download.format,
        }
        with self._wake:
            if len(self._queue) < MAX_QUEUED:
                self._queue.append(row)
                self._idle.clear()
                self._wake.notify()
                return
        # The rare path: the database has been away long enough to fill the queue. Write this
        # entry now, or raise StorageUnavailable so the document is not sent unaudited.
        with self._tx.write() as connection:
            connection.execute(insert(download_audit), [row])

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything recorded so far is written; False on timeout."""
        self._urgent.set()
        with self._wake:
            self._wake.notify()
        return self._idle.wait(timeout)

    def close(self) -> None:
        self.flush()
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=5)
        with self._wake:
            lost = len(self._queue)
        if lost:
            log.error("download audit entries not written at shutdown", extra={"lost": lost})

    def for_beneficiary(self, pre_enrollment_code: str, *, limit: int = 100) -> list[Download]:
        self.flush()  # read your own writes
        query = (
            select(download_audit)
            .where(_a.pre_enrollment_code == pre_enrollment_code)
            .order_by(_a.at.desc(), _a.id)
            .limit(limit)
        )
        with self._tx.read() as connection:
            rows = connection.execute(query).mappings().all()
        return [Download(**dict(row)) for row in rows]

    def _run(self) -> None:
        backoff = self._flush_seconds
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._urgent.clear()
                    self._idle.set()
                    self._wake.wait()
                if self._closed and not self._queue:
                    self._idle.set()
                    return
            self._urgent.wait(self._flush_seconds)  # gather a batch, unless flushed
            with self._wake:
                batch = [
                    self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))
                ]
            try:
                with self._tx.write() as connection:
                    connection.execute(insert(download_audit), batch)
                backoff = self._flush_seconds
            except CommitUnconfirmed:
                # Stored on the primary; writing the batch again would repeat its rows.
                log.warning("download audit written, its standby has not confirmed it yet")
            except StorageUnavailable:
                log.warning("download audit waiting for the database", extra={"queued": len(batch)})
                with self._wake:
                    self._queue.extendleft(reversed(batch))
                if self._closed:
                    return
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
