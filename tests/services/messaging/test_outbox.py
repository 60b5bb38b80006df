"""The outbox worker: delivery, backoff, giving up, crashes, concurrent workers, and an SMTP
outage end to end (issue → server down → worker → server back → every mail exactly once)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest

from certdist.config import MailSettings
from certdist.errors import DeliveryFailed
from certdist.services.common.clock import FixedClock
from certdist.services.messaging.mail import (
    MailMessage,
    RecordingMailSender,
    SmtpMailSender,
    message_id_for,
)
from certdist.services.messaging.outbox import OutboxWorker, RetryPolicy, build_worker, mail_message
from certdist.services.messaging.sms import RecordingSms
from certdist.storage.outbox import MessageStatus, SqlOutbox
from certdist.wiring import Services
from tests.support.delivery import DeliveryServicesFactory, request, smtp_worker
from tests.support.smtp import SmtpServer

FROM = "certdist@localhost"


def enqueue(outbox: SqlOutbox, clock: FixedClock, n: int = 1) -> list[str]:
    messages = [
        mail_message(f"person{i}@example.org", "s", "t", idempotency_key=f"k{i}", clock=clock)
        for i in range(n)
    ]
    outbox.enqueue(messages)
    return [m.id for m in messages]


def test_worker_sends_with_the_outbox_message_id_and_marks_sent(
    services: Services, worker: OutboxWorker, mail: RecordingMailSender, clock: FixedClock
) -> None:
    outbox = services.database.outbox()
    [message_id] = enqueue(outbox, clock)
    assert worker.run_once() == 1
    [sent] = mail.sent
    assert sent.message_id == message_id_for(message_id, FROM)
    stored = outbox.get(message_id)
    assert stored is not None
    assert stored.status is MessageStatus.SENT
    assert worker.run_once() == 0
    assert len(mail.sent) == 1


def test_failures_back_off_exponentially_with_jitter_then_give_up(
    services: Services, worker: OutboxWorker, mail: RecordingMailSender, clock: FixedClock
) -> None:
    outbox = services.database.outbox()
    [message_id] = enqueue(outbox, clock)
    mail.fail = True
    policy = services.settings.mail
    for attempt in range(1, policy.max_attempts):
        assert worker.run_once() == 1
        stored = outbox.get(message_id)
        assert stored is not None
        assert stored.status is MessageStatus.QUEUED
        assert stored.last_error == "DeliveryFailed"
        ceiling = min(policy.backoff_max_seconds, policy.backoff_base_seconds * 2 ** (attempt - 1))
        wait = (stored.next_attempt_at - clock.now()).total_seconds()
        assert ceiling / 2 <= wait <= ceiling
        assert worker.run_once() == 0  # not due yet
        clock.advance(timedelta(seconds=wait))
    assert worker.run_once() == 1  # the last allowed attempt
    dead = outbox.get(message_id)
    assert dead is not None
    assert dead.status is MessageStatus.DEAD
    assert dead.attempts == policy.max_attempts
    clock.advance(timedelta(days=30))
    assert worker.run_once() == 0


def test_a_final_refusal_is_given_up_at_once(
    services: Services, worker: OutboxWorker, mail: RecordingMailSender, clock: FixedClock
) -> None:
    """Retrying a mailbox that does not exist only hammers the relay."""
    outbox = services.database.outbox()
    [message_id] = enqueue(outbox, clock)
    mail.reject = True
    assert worker.run_once() == 1
    dead = outbox.get(message_id)
    assert dead is not None
    assert (dead.status, dead.attempts, dead.last_error) == (
        MessageStatus.DEAD,
        1,
        "DeliveryRejected",
    )
    mail.reject = False
    clock.advance(timedelta(days=1))
    assert worker.run_once() == 0
    assert mail.sent == []


def test_backoff_delay_bounds() -> None:
    policy = RetryPolicy(max_attempts=10, base_seconds=10, cap_seconds=100)
    rng = random.Random(7)
    for attempts, ceiling in ((1, 10), (2, 20), (4, 80), (5, 100), (9, 100)):
        delays = [policy.delay(attempts, rng).total_seconds() for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered


def test_a_crashed_send_is_retried_after_its_lease_with_the_same_message_id(
    services: Services, worker: OutboxWorker, mail: RecordingMailSender, clock: FixedClock
) -> None:
    outbox = services.database.outbox()
    [message_id] = enqueue(outbox, clock)
    lease = timedelta(seconds=services.settings.mail.lease_seconds)
    # Another worker claimed it and died mid-send (no outcome recorded).
    outbox.claim("crashed-worker", now=clock.now(), lease=lease, limit=10, max_attempts=8)
    assert worker.run_once() == 0
    clock.advance(lease)
    assert worker.run_once() == 1
    [sent] = mail.sent
    assert sent.message_id == message_id_for(message_id, FROM)
    stored = outbox.get(message_id)
    assert stored is not None
    assert (stored.status, stored.attempts) == (MessageStatus.SENT, 2)


def test_a_send_is_not_started_when_the_lease_could_run_out_during_it(
    services: Services, sms: RecordingSms, clock: FixedClock
) -> None:
    outbox = services.database.outbox()
    ids = enqueue(outbox, clock, 2)

    class SlowSender(RecordingMailSender):
        def send(self, message: MailMessage) -> None:
            super().send(message)
            clock.advance(timedelta(seconds=290))  # the first send ate the lease

    slow = SlowSender()
    worker = build_worker(services.settings.mail, services.database, slow, sms, clock)
    assert worker.run_once() == 2
    assert len(slow.sent) == 1
    states = {i: outbox.get(i) for i in ids}
    assert sorted(m.status for m in states.values() if m) == [
        MessageStatus.QUEUED,
        MessageStatus.SENT,
    ]
    assert worker.run_once() == 1
    assert len(slow.sent) == 2


def test_two_workers_never_send_a_message_twice(
    services: Services, sms: RecordingSms, clock: FixedClock
) -> None:
    outbox = services.database.outbox()
    ids = enqueue(outbox, clock, 40)
    shared = RecordingMailSender()
    workers = [
        build_worker(services.settings.mail, services.database, shared, sms, clock)
        for _ in range(2)
    ]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def drain(w: OutboxWorker) -> None:
        try:
            barrier.wait()
            while w.run_once():
                pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sent = Counter(m.message_id for m in shared.sent)
    assert sent == Counter(message_id_for(i, FROM) for i in ids)
    assert services.database.outbox().counts()[MessageStatus.SENT] == 40


def test_run_forever_stops_on_the_event(worker: OutboxWorker) -> None:
    stop = threading.Event()
    thread = threading.Thread(
        target=worker.run_forever, args=(stop,), kwargs={"poll_seconds": 0.01}
    )
    thread.start()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


@pytest.mark.parametrize("failures", [1, 3])
def test_sms_failures_are_retried_too(
    services: Services, worker: OutboxWorker, sms: RecordingSms, clock: FixedClock, failures: int
) -> None:
    services.issuance.certificates.certify([request("SMS0001")])
    sms.fail_next = failures
    for _ in range(failures):
        worker.run_once()
        clock.advance(timedelta(hours=2))
    worker.run_once()
    assert [to for to, _ in sms.sent] == ["+919880414889"]


def test_smtp_outage_delays_mail_but_every_message_arrives_exactly_once(
    make_delivery_services: DeliveryServicesFactory, smtp_server: SmtpServer, clock: FixedClock
) -> None:
    built = make_delivery_services(**smtp_server.mail_fields(smtp_timeout_seconds=5))
    smtp_server.stop()
    codes = [f"OUT{i:04d}" for i in range(5)]
    built.issuance.certificates.certify(
        [request(code, contacts=(f"mailto:{code.lower()}@example.org",)) for code in codes]
    )
    worker = smtp_worker(built)
    assert worker.run_once() == 5
    outbox = built.database.outbox()
    queued = outbox.messages(status=MessageStatus.QUEUED)
    assert len(queued) == 5
    assert all(m.next_attempt_at > clock.now() for m in queued)
    assert worker.run_once() == 0  # backing off
    clock.advance(timedelta(minutes=5))
    assert worker.run_once() == 5  # still down: second attempt fails too
    smtp_server.start()
    clock.advance(timedelta(hours=1))
    assert worker.run_once() == 5
    clock.advance(timedelta(days=1))
    assert worker.run_once() == 0
    received = Counter(smtp_server.mailbox.message_ids())
    from_address = built.settings.mail.from_address
    assert received == Counter(message_id_for(m.id, from_address) for m in queued)
    assert sorted(str(m["To"]) for m in smtp_server.mailbox.messages) == [
        f"{code.lower()}@example.org" for code in codes
    ]


def test_delivery_failed_carries_no_recipient(smtp_server: SmtpServer) -> None:
    settings = MailSettings(backend="smtp", smtp_host="127.0.0.1", smtp_port=smtp_server.port)
    smtp_server.stop()
    with pytest.raises(DeliveryFailed) as caught:
        SmtpMailSender(settings).send(
            MailMessage("who@example.org", "s", "t", message_id_for("x", FROM))
        )
    assert "who@example.org" not in str(caught.value)
