"""The durable outbox: messages (mail, SMS) written in a transaction, sent later by a worker.

Life of a message: ``queued`` → claimed (``sending``, with a lease) → ``sent``; a failed
attempt puts it back to ``queued`` with a later ``next_attempt_at``, and after the last allowed
attempt it is ``dead``. A worker that crashes while holding a lease leaves the row ``sending``;
once the lease lapses any worker may claim it again (the attempt counts).

Claiming is one ``UPDATE … RETURNING`` on rows picked by a subquery: on PostgreSQL the
subquery locks them ``FOR UPDATE SKIP LOCKED``, so concurrent workers take disjoint rows
without waiting for each other; SQLite runs writers one at a time (``BEGIN IMMEDIATE``), so the
same statement is atomic there without row locks. The outer ``WHERE`` repeats the claimable
condition, so a row that changed state between the two cannot be taken twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    and_,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from certdist.domain.models import CertificateRecord
from certdist.storage.schema import outbox_messages
from certdist.storage.transactions import Transactions

_o = outbox_messages.c


class MessageKind(StrEnum):
    MAIL = "mail"
    SMS = "sms"


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"


@dataclass(frozen=True)
class NewMessage:
    """A message to enqueue. ``payload`` is small JSON (subject, text, attachment name);
    ``attachment`` the bytes of one attached file. Enqueueing a second message with the same
    ``idempotency_key`` does nothing."""

    id: str
    kind: MessageKind
    recipient: str
    payload: Mapping[str, Any]
    idempotency_key: str
    created_at: datetime
    attachment: bytes | None = None


@dataclass(frozen=True)
class OutboxMessage:
    """A stored message and where it is in its life."""

    id: str
    kind: MessageKind
    recipient: str
    payload: Mapping[str, Any]
    attachment: bytes | None
    idempotency_key: str
    status: MessageStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    lease_until: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None


#: What to enqueue along with a batch of newly stored certificates (notifications).
CompanionMessages = Callable[[Sequence[CertificateRecord]], Sequence[NewMessage]]


def insert_messages(connection: Connection, messages: Sequence[NewMessage]) -> int:
    """Enqueue ``messages`` inside the caller's transaction; returns how many were new.

    For repositories that write something and its notification in one transaction.
    """
    if not messages:
        return 0
    dialect_insert: Any = (
        postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    )
    statement = (
        dialect_insert(outbox_messages)
        .on_conflict_do_nothing(index_elements=[_o.idempotency_key])
        .returning(_o.id)
    )
    # Counted from RETURNING: drivers report no reliable rowcount for a multi-row insert.
    return len(connection.execute(statement, [_values(m) for m in messages]).all())


class SqlOutbox:
    """The ``outbox_messages`` table; each method is one short transaction."""

    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def enqueue(self, messages: Sequence[NewMessage]) -> int:
        """Store ``messages`` (those whose idempotency key is new); returns how many."""
        with self._tx.write() as connection:
            return insert_messages(connection, messages)

    def claim(
        self,
        worker: str,
        *,
        now: datetime,
        lease: timedelta,
        limit: int,
        max_attempts: int,
    ) -> list[OutboxMessage]:
        """Take up to ``limit`` due messages for ``worker``: each is ``sending`` until
        ``now + lease`` and its attempt is counted. Oldest due first."""
        due = _claimable(now, max_attempts)
        candidates = (
            select(_o.id)
            .where(due)
            .order_by(_o.next_attempt_at, _o.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            update(outbox_messages)
            .where(_o.id.in_(candidates.scalar_subquery()), due)
            .values(
                status=MessageStatus.SENDING.value,
                claimed_by=worker,
                claimed_at=now,
                lease_until=now + lease,
                attempts=_o.attempts + 1,
            )
            .returning(*outbox_messages.c)
        )
        with self._tx.write() as connection:
            rows = connection.execute(statement).mappings().all()
        return sorted((_message(row) for row in rows), key=lambda m: (m.next_attempt_at, m.id))

    def mark_sent(self, message_id: str, worker: str, *, at: datetime) -> bool:
        """Record delivery; False if ``worker`` no longer holds the message (its lease lapsed
        and another worker took it over). The attachment (a certificate PDF) is dropped: once
        delivered, there is no reason to keep a copy of someone's certificate here."""
        return self._finish(
            message_id,
            worker,
            status=MessageStatus.SENT,
            sent_at=at,
            lease_until=None,
            attachment=None,
        )

    def mark_retry(
        self, message_id: str, worker: str, *, error: str, next_attempt_at: datetime
    ) -> bool:
        """Put the message back in the queue, due again at ``next_attempt_at``."""
        return self._finish(
            message_id,
            worker,
            status=MessageStatus.QUEUED,
            next_attempt_at=next_attempt_at,
            last_error=error,
            claimed_by=None,
            lease_until=None,
        )

    def mark_dead(self, message_id: str, worker: str, *, error: str) -> bool:
        """Give up on the message (out of attempts, or undeliverable as written)."""
        return self._finish(
            message_id, worker, status=MessageStatus.DEAD, last_error=error, lease_until=None
        )

    def bury_abandoned(self, *, now: datetime, max_attempts: int) -> int:
        """Mark ``dead`` the messages whose last allowed attempt crashed its worker (the lease
        lapsed with no outcome recorded); returns how many."""
        statement = (
            update(outbox_messages)
            .where(
                _o.status == MessageStatus.SENDING.value,
                _o.lease_until <= now,
                _o.attempts >= max_attempts,
            )
            .values(
                status=MessageStatus.DEAD.value,
                last_error="AbandonedAttempt",
                lease_until=None,
            )
        )
        with self._tx.write() as connection:
            return max(0, connection.execute(statement).rowcount)

    def purge_sent(self, *, before: datetime) -> int:
        """Delete messages delivered before ``before``; returns how many."""
        statement = delete(outbox_messages).where(
            _o.status == MessageStatus.SENT.value, _o.sent_at < before
        )
        with self._tx.write() as connection:
            return max(0, connection.execute(statement).rowcount)

    def get(self, message_id: str) -> OutboxMessage | None:
        with self._tx.read() as connection:
            row = (
                connection.execute(select(outbox_messages).where(_o.id == message_id))
                .mappings()
                .first()
            )
        return None if row is None else _message(row)

    def by_idempotency_key(self, key: str) -> OutboxMessage | None:
        with self._tx.read() as connection:
            row = (
                connection.execute(select(outbox_messages).where(_o.idempotency_key == key))
                .mappings()
                .first()
            )
        return None if row is None else _message(row)

    def messages(
        self, *, status: MessageStatus | None = None, limit: int = 1000
    ) -> list[OutboxMessage]:
        """Oldest first, for operators and tests."""
        statement = select(outbox_messages).order_by(_o.created_at, _o.id).limit(limit)
        if status is not None:
            statement = statement.where(_o.status == status.value)
        with self._tx.read() as connection:
            rows = connection.execute(statement).mappings().all()
        return [_message(row) for row in rows]

    def backlog(self) -> tuple[int, datetime | None]:
        """Messages not yet delivered nor given up (queued or being sent), and when the
        oldest of them was queued (None when there is none)."""
        statement = select(func.count(), func.min(_o.created_at)).where(
            _o.status.in_([MessageStatus.QUEUED.value, MessageStatus.SENDING.value])
        )
        with self._tx.read() as connection:
            count, oldest = connection.execute(statement).one()
        return int(count), oldest

    def counts(self) -> dict[MessageStatus, int]:
        """How many messages are in each state."""
        statement = select(_o.status, func.count()).group_by(_o.status)
        with self._tx.read() as connection:
            found = {MessageStatus(s): int(n) for s, n in connection.execute(statement)}
        return {status: found.get(status, 0) for status in MessageStatus}

    def _finish(self, message_id: str, worker: str, **values: Any) -> bool:
        # Guarded by the claim: a worker whose lease lapsed must not overwrite the outcome of
        # the worker that took the message over.
        statement = (
            update(outbox_messages)
            .where(
                _o.id == message_id,
                _o.status == MessageStatus.SENDING.value,
                _o.claimed_by == worker,
            )
            .values(**{k: v.value if isinstance(v, StrEnum) else v for k, v in values.items()})
        )
        with self._tx.write() as connection:
            return connection.execute(statement).rowcount == 1


def _claimable(now: datetime, max_attempts: int) -> ColumnElement[bool]:
    return and_(
        _o.attempts < max_attempts,
        or_(
            and_(_o.status == MessageStatus.QUEUED.value, _o.next_attempt_at <= now),
            and_(_o.status == MessageStatus.SENDING.value, _o.lease_until <= now),
        ),
    )


def _values(message: NewMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "kind": message.kind.value,
        "recipient": message.recipient,
        "payload": dict(message.payload),
        "attachment": message.attachment,
        "idempotency_key": message.idempotency_key,
        "status": MessageStatus.QUEUED.value,
        "attempts": 0,
        "next_attempt_at": message.created_at,
        "created_at": message.created_at,
    }


def _message(row: RowMapping) -> OutboxMessage:
    attachment = row["attachment"]
    return OutboxMessage(
        id=row["id"],
        kind=MessageKind(row["kind"]),
        recipient=row["recipient"],
        payload=row["payload"],
        attachment=None if attachment is None else bytes(attachment),
        idempotency_key=row["idempotency_key"],
        status=MessageStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        claimed_by=row["claimed_by"],
        claimed_at=row["claimed_at"],
        lease_until=row["lease_until"],
        sent_at=row["sent_at"],
        last_error=row["last_error"],
    )
