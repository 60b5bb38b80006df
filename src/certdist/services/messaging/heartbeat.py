"""The outbox worker's sign of life: a timestamp it writes to the shared state every loop,
which ``GET /readyz`` reads (docs/operations.md, "Readiness")."""

from __future__ import annotations

from datetime import datetime

from certdist.services.common import Clock
from certdist.storage.state import SharedState

_KEY = "outbox-worker-heartbeat"
# The entry outlives any sensible maximum age, so a stale heartbeat reads as stale (with its
# age) rather than absent; a worker gone for a week reads as never started.
_TTL_SECONDS = 7 * 24 * 3600.0


class WorkerHeartbeat:
    """Shared by every worker of a deployment: readiness needs one of them alive."""

    def __init__(self, state: SharedState, clock: Clock) -> None:
        self._state = state
        self._clock = clock

    def beat(self) -> None:
        self._state.put(_KEY, self._clock.now().isoformat().encode(), _TTL_SECONDS)

    def age_seconds(self) -> float | None:
        """Seconds since a worker last went round its loop; None when none ever did."""
        raw = self._state.get(_KEY)
        if raw is None:
            return None
        try:
            at = datetime.fromisoformat(raw.decode())
        except ValueError:
            return None
        return max(0.0, (self._clock.now() - at).total_seconds())
