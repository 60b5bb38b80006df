"""The development SMS inbox: messages kept in the `sms_outbox` table instead of sent, for
the `/dev/sms` page and `certdist sms-outbox` (the table keeps its first name; renaming it
would need a migration for no reader's benefit). Not the durable outbox of `storage/outbox.py`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select

from certdist.storage.schema import sms_outbox
from certdist.storage.transactions import Transactions

_o = sms_outbox.c


@dataclass(frozen=True)
class DevSmsMessage:
    id: str
    created_at: datetime
    recipient: str  # E.164
    body: str


class DevSmsInbox:
    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def add(self, message: DevSmsMessage) -> None:
        with self._tx.write() as connection:
            connection.execute(
                insert(sms_outbox).values(
                    id=message.id,
                    created_at=message.created_at,
                    recipient=message.recipient,
                    body=message.body,
                )
            )

    def latest(self, limit: int = 20, *, recipient: str | None = None) -> list[DevSmsMessage]:
        """The newest messages first (optionally only those to one number)."""
        query = select(sms_outbox).order_by(_o.created_at.desc(), _o.id.desc()).limit(limit)
        if recipient is not None:
            query = query.where(_o.recipient == recipient)
        with self._tx.read() as connection:
            rows = connection.execute(query).all()
        return [
            DevSmsMessage(id=r.id, created_at=r.created_at, recipient=r.recipient, body=r.body)
            for r in rows
        ]
