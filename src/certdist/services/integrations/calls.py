"""The audit trail of calls on the integration channels (DigiLocker, partner API)."""

from __future__ import annotations

from certdist.services.common import Clock, new_record_id
from certdist.storage.integrations import IntegrationEvent, SqlIntegrationRepository


def record_call(
    integrations: SqlIntegrationRepository,
    clock: Clock,
    *,
    channel: str,
    actor: str,
    outcome: str,
    certificate_id: str | None,
    txn: str | None = None,
) -> None:
    """One row per call; ``actor`` is an account key, ``outcome`` a short code (never
    personal data)."""
    integrations.record_event(
        IntegrationEvent(
            id=new_record_id(),
            at=clock.now(),
            channel=channel,
            actor=actor,
            txn=txn,
            outcome=outcome,
            certificate_id=certificate_id,
        )
    )
