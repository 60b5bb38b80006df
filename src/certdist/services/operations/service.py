"""What ``GET /readyz`` and ``GET /metrics`` report, and who may read the metrics."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass

from certdist.config import MetricsSettings, ReadinessSettings
from certdist.errors import CertdistError
from certdist.services.common import Infrastructure, Reading
from certdist.services.messaging import Messaging


@dataclass(frozen=True)
class Operations:
    metrics_settings: MetricsSettings
    readiness_settings: ReadinessSettings
    infrastructure: Infrastructure
    messaging: Messaging

    @property
    def metrics_exposed(self) -> bool:
        return self.metrics_settings.token is not None

    def may_scrape(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header carries the operator's metrics token."""
        token = self.metrics_settings.token
        if token is None or not authorization or authorization[:7].lower() != "bearer ":
            return False
        # Bytes: compare_digest refuses non-ASCII str, and the header may hold any text.
        presented = authorization[7:].strip().encode("utf-8", "surrogateescape")
        return hmac.compare_digest(presented, token.get_secret_value().encode())

    def not_ready(self) -> dict[str, str]:
        """What keeps this process from taking traffic, by component; empty when ready."""
        checks: dict[str, Callable[[], str | None]] = {"database": self._database}
        # Only the Redis state answers a ping: the database state is the database, checked.
        if hasattr(self.infrastructure.state, "ping"):
            checks["redis"] = self._redis
        if self.readiness_settings.require_worker:
            checks["outbox_worker"] = self._worker
        problems = {}
        for name, check in checks.items():
            try:
                problem = check()
            except CertdistError as exc:
                problem = str(exc) or type(exc).__name__
            if problem is not None:
                problems[name] = problem
        return problems

    def _database(self) -> None:
        self.infrastructure.database.certificates().ping()  # StorageUnavailable when away

    def _redis(self) -> None:
        self.infrastructure.state.ping()  # type: ignore[attr-defined]

    def _worker(self) -> str | None:
        age = self.messaging.heartbeat.age_seconds()
        limit = self.readiness_settings.worker_heartbeat_max_age_seconds
        if age is None:
            return "no heartbeat: no outbox worker has run"
        if age > limit:
            return f"last heartbeat {age:.0f} s ago (limit {limit:.0f} s)"
        return None

    def exposition(self) -> bytes:
        """The metrics text: the counters and the gauges read now."""
        return self.infrastructure.metrics.exposition(self.readings())

    def readings(self) -> list[Reading]:
        depth, oldest = self.messaging.backlog()
        readings = [
            Reading("certdist_outbox_depth", "Mail and SMS queued or being sent", depth),
            Reading(
                "certdist_outbox_oldest_age_seconds",
                "Age of the oldest message not yet delivered (0 when none waits)",
                oldest or 0.0,
            ),
        ]
        pool = self.infrastructure.database.pool_usage()
        if pool is not None:
            in_use, size = pool
            readings += [
                Reading(
                    "certdist_db_pool_in_use",
                    "Database connections checked out of the answering process's pool",
                    in_use,
                ),
                Reading(
                    "certdist_db_pool_size",
                    "Connections the answering process's pool keeps open",
                    size,
                ),
            ]
        return readings


def wire(
    metrics: MetricsSettings,
    readiness: ReadinessSettings,
    infrastructure: Infrastructure,
    *,
    messaging: Messaging,
) -> Operations:
    return Operations(metrics, readiness, infrastructure, messaging)
