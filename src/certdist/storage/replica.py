"""Reads a standby may answer (``database_replica_url``), with the primary behind it.

Only reads that may be a moment old are routed here, named by their repository (today the
live certificates of a beneficiary: every download, HEAD and QR). A standby replays the
primary's changes a little later, so the primary answers instead when:

* the standby has no rows (a certificate issued a moment ago, or an unknown id: the 404 is
  the primary's to give);
* the standby does not answer within the deadline; then it is left alone for
  :data:`PAUSE_SECONDS`, so an outage of the standby costs one deadline, not one per request.

Each time counts in ``certdist_replica_fallbacks``. What a standby can still show: a
certificate revoked or superseded a moment ago, until it replays that change. With
``synchronous_commit = remote_apply`` on the primary it has replayed every acknowledged
write (docs/deployment.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from certdist.errors import StorageUnavailable
from certdist.storage import transactions
from certdist.storage.transactions import PreparedRead

log = logging.getLogger(__name__)

#: How long a standby that did not answer is left alone.
PAUSE_SECONDS = 5.0


class ReplicaReads:
    """Runs prepared reads on the standby's engine; an empty answer sends the caller to the
    primary."""

    def __init__(
        self,
        engine: Engine,
        *,
        on_fallback: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._on_fallback = on_fallback
        self._clock = clock
        self._paused_until = 0.0

    @property
    def engine(self) -> Engine:
        return self._engine

    def fetch(self, prepared: PreparedRead, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        """The standby's rows, or ``[]`` when the primary must answer."""
        if self._clock() < self._paused_until:
            self._on_fallback()
            return []
        try:
            rows = transactions.fetch_on(self._engine, prepared, parameters)
        except StorageUnavailable as exc:
            log.warning("replica not answering; reading from the primary: %s", exc)
            self._paused_until = self._clock() + PAUSE_SECONDS
            rows = []
        if not rows:
            self._on_fallback()
        return rows
