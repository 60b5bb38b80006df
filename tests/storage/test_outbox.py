"""The durable outbox table: enqueue idempotency, atomic claims, leases, outcomes."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from certdist.storage import Database
from certdist.storage.outbox import MessageKind, MessageStatus, NewMessage, SqlOutbox

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def message(
    key: str | None = None, *, at: datetime = T0, attachment: bytes | None = None
) -> NewMessage:
    return NewMessage(
        id=str(uuid.uuid4()),
        kind=MessageKind.MAIL,
        recipient="someone@example.org",
        payload={"subject": "s", "text": "t"},
        idempotency_key=key or str(uuid.uuid4()),
        created_at=at,
        attachment=attachment,
    )


def claim(
    outbox: SqlOutbox,
    worker: str = "w1",
    *,
    now: datetime = T0,
    limit: int = 10,
    max_attempts: int = 3,
) -> list[str]:
    claimed = outbox.claim(worker, now=now, lease=LEASE, limit=limit, max_attempts=max_attempts)
    return [m.id for m in claimed]


def test_enqueue_is_idempotent_by_key_and_keeps_bytes(database: Database) -> None:
    outbox = database.outbox()
    pdf = bytes(range(256)) * 10
    first = message("notify:1", attachment=pdf)
    assert outbox.enqueue([first]) == 1
    assert outbox.enqueue([message("notify:1")]) == 0
    stored = outbox.by_idempotency_key("notify:1")
    assert stored is not None
    assert stored.id == first.id
    assert stored.attachment == pdf
    assert stored.status is MessageStatus.QUEUED
    assert stored.attempts == 0
    assert outbox.counts()[MessageStatus.QUEUED] == 1


def test_claim_takes_due_messages_once_and_counts_the_attempt(database: Database) -> None:
    outbox = database.outbox()
    due, later = message(at=T0), message(at=T0 + timedelta(hours=1))
    outbox.enqueue([due, later])
    assert claim(outbox) == [due.id]
    assert claim(outbox, "w2") == []  # held under w1's lease
    held = outbox.get(due.id)
    assert held is not None
    assert held.status is MessageStatus.SENDING
    assert held.claimed_by == "w1"
    assert held.attempts == 1
    assert held.lease_until == T0 + LEASE


def test_outcomes_are_recorded_only_by_the_lease_holder(database: Database) -> None:
    outbox = database.outbox()
    m = message()
    outbox.enqueue([m])
    claim(outbox, "w1")
    assert not outbox.mark_sent(m.id, "w2", at=T0)
    assert outbox.mark_sent(m.id, "w1", at=T0 + timedelta(seconds=1))
    sent = outbox.get(m.id)
    assert sent is not None
    assert sent.status is MessageStatus.SENT
    assert sent.sent_at == T0 + timedelta(seconds=1)
    assert claim(outbox, now=T0 + timedelta(days=1)) == []


def test_delivered_messages_drop_their_attachment_and_are_purged_later(
    database: Database,
) -> None:
    outbox = database.outbox()
    delivered = message(attachment=b"%PDF-1.7 ...")
    waiting = message(attachment=b"%PDF", at=T0 + timedelta(seconds=1))
    outbox.enqueue([delivered, waiting])
    assert claim(outbox, limit=1) == [delivered.id]
    assert outbox.mark_sent(delivered.id, "w1", at=T0)
    stored = outbox.get(delivered.id)
    assert stored is not None
    assert stored.attachment is None
    assert outbox.purge_sent(before=T0) == 0
    assert outbox.purge_sent(before=T0 + timedelta(seconds=1)) == 1
    assert outbox.get(delivered.id) is None
    assert outbox.get(waiting.id) is not None


def test_retry_comes_back_when_due(database: Database) -> None:
    outbox = database.outbox()
    m = message()
    outbox.enqueue([m])
    claim(outbox)
    retry_at = T0 + timedelta(minutes=1)
    assert outbox.mark_retry(m.id, "w1", error="DeliveryFailed", next_attempt_at=retry_at)
    assert claim(outbox, now=retry_at - timedelta(seconds=1)) == []
    assert claim(outbox, now=retry_at) == [m.id]
    again = outbox.get(m.id)
    assert again is not None
    assert again.attempts == 2
    assert again.last_error == "DeliveryFailed"


def test_a_lapsed_lease_is_claimable_and_exhausted_ones_are_buried(database: Database) -> None:
    outbox = database.outbox()
    m = message()
    outbox.enqueue([m])
    claim(outbox, "crashed", max_attempts=2)
    assert claim(outbox, "w2", now=T0 + LEASE - timedelta(seconds=1), max_attempts=2) == []
    assert claim(outbox, "w2", now=T0 + LEASE, max_attempts=2) == [m.id]
    # w2 crashes too: its was the last allowed attempt.
    later = T0 + 2 * LEASE
    assert claim(outbox, "w3", now=later, max_attempts=2) == []
    assert outbox.bury_abandoned(now=later, max_attempts=2) == 1
    dead = outbox.get(m.id)
    assert dead is not None
    assert dead.status is MessageStatus.DEAD


def test_concurrent_claims_never_overlap(database: Database) -> None:
    outbox = database.outbox()
    messages = [message(at=T0 - timedelta(seconds=i)) for i in range(60)]
    outbox.enqueue(messages)
    taken: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            barrier.wait()
            while True:
                ids = claim(outbox, name, limit=3)
                if not ids:
                    return
                with lock:
                    taken.extend(ids)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Counter(taken) == Counter(m.id for m in messages)


def test_backlog_counts_what_is_not_yet_delivered_and_its_oldest(database: Database) -> None:
    outbox = database.outbox()
    assert outbox.backlog() == (0, None)
    sent, oldest, newer = (message(at=T0 + timedelta(minutes=m)) for m in (0, 1, 2))
    outbox.enqueue([sent, oldest, newer])
    assert sorted(claim(outbox, now=T0 + timedelta(minutes=5))) == sorted(
        [sent.id, oldest.id, newer.id]
    )
    assert outbox.mark_sent(sent.id, "w1", at=T0 + timedelta(minutes=5))
    assert outbox.backlog() == (2, oldest.created_at)  # two being sent, the first delivered
    outbox.enqueue([message(at=T0 + timedelta(minutes=3))])  # and one queued
    assert outbox.backlog() == (3, oldest.created_at)


def test_the_pool_reports_connections_in_use(database: Database) -> None:
    usage = database.pool_usage()
    assert usage is not None
    assert usage[0] == 0
    with database.engine.connect():
        assert database.pool_usage() == (1, usage[1])
