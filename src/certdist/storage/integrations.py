"""DigiLocker and partner API storage: seen transactions, issued URIs, the integration audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from certdist.storage.schema import digilocker_issued, digilocker_transactions, integration_audit
from certdist.storage.transactions import Transactions

_t = digilocker_transactions.c
_i = digilocker_issued.c
_a = integration_audit.c


@dataclass(frozen=True)
class IssuedUri:
    account: str
    uri: str
    certificate_id: str
    pre_enrollment_code: str
    issued_at: datetime


@dataclass(frozen=True)
class IntegrationEvent:
    """One call on an integration channel; ``outcome`` is a short code, never personal data."""

    id: str
    at: datetime
    channel: str
    actor: str
    outcome: str
    txn: str | None = None
    certificate_id: str | None = None


class SqlIntegrationRepository:
    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def claim_transaction(
        self, operation: str, txn: str, *, now: datetime, expires_at: datetime
    ) -> bool:
        """Remember ``txn`` for ``operation`` until ``expires_at``; False if it was already
        seen and has not expired (a replay). Atomic across processes: the primary key
        decides between concurrent claims."""
        try:
            with self._tx.write() as connection:
                connection.execute(delete(digilocker_transactions).where(_t.expires_at < now))
                connection.execute(
                    insert(digilocker_transactions).values(
                        operation=operation, txn=txn, expires_at=expires_at
                    )
                )
        except IntegrityError:
            return False
        return True

    def record_issued(self, issued: IssuedUri) -> None:
        """Idempotent: issuing the same URI to the same account again keeps the first row."""
        try:
            with self._tx.write() as connection:
                connection.execute(
                    insert(digilocker_issued).values(
                        account=issued.account,
                        uri=issued.uri,
                        certificate_id=issued.certificate_id,
                        pre_enrollment_code=issued.pre_enrollment_code,
                        issued_at=issued.issued_at,
                    )
                )
        except IntegrityError:
            return

    def issued(self, account: str, uri: str) -> IssuedUri | None:
        query = select(digilocker_issued).where(_i.account == account, _i.uri == uri)
        with self._tx.read() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else IssuedUri(**dict(row))

    def record_event(self, event: IntegrationEvent) -> None:
        with self._tx.write() as connection:
            connection.execute(
                insert(integration_audit).values(
                    id=event.id,
                    at=event.at,
                    channel=event.channel,
                    actor=event.actor,
                    txn=event.txn,
                    outcome=event.outcome,
                    certificate_id=event.certificate_id,
                )
            )

    def events(self, *, channel: str | None = None, limit: int = 100) -> list[IntegrationEvent]:
        """Newest first."""
        query = select(integration_audit).order_by(_a.at.desc(), _a.id.desc()).limit(limit)
        if channel is not None:
            query = query.where(_a.channel == channel)
        with self._tx.read() as connection:
            rows = connection.execute(query).mappings().all()
        return [IntegrationEvent(**dict(row)) for row in rows]
