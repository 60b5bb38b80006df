"""Putting messages in the durable outbox, and the worker that sends them.

Delivery guarantee. Mail and SMS are at-least-once with one narrow window of duplication,
never at-most-once (nothing is lost):

* Before the network call the worker holds the message under a lease (``sending``,
  ``lease_until``) committed to the database, and only starts a send while enough of the
  lease is left to cover the sender's own timeout; so no second worker can take the message
  while a send may still be in flight.
* A failed send (``DeliveryFailed``) goes back to the queue with exponential backoff and
  jitter; after ``max_attempts`` it is ``dead`` (kept, with the error class, for operators).
* The one remaining window is between the server accepting the message (SMTP's final ``250``
  after DATA, or the SMS gateway's answer) and the commit of ``sent``: one short UPDATE, a few
  milliseconds. A crash or database outage exactly there leaves the message ``sending``; when
  its lease lapses it is sent again. SMTP offers no way to ask "did you get this?", so
  exactly-once is impossible; the repeat carries the same ``Message-ID`` (derived from the
  outbox id), which mail stores and clients use to recognise and drop the duplicate.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from certdist.config import MailSettings
from certdist.errors import DeliveryFailed, DeliveryRejected, StorageUnavailable
from certdist.services.common import Clock, new_record_id
from certdist.services.messaging.heartbeat import WorkerHeartbeat
from certdist.services.messaging.mail import Attachment, MailMessage, MailSender, message_id_for
from certdist.services.messaging.sms import SmsSender
from certdist.storage.database import Database
from certdist.storage.outbox import (
    MessageKind,
    NewMessage,
    OutboxMessage,
    SqlOutbox,
)

log = logging.getLogger(__name__)

#: Every this many rounds (and on the first), a worker deletes long-delivered messages.
_PURGE_EVERY = 500


def mail_message(
    to: str,
    subject: str,
    text: str,
    *,
    idempotency_key: str,
    clock: Clock,
    attachment: Attachment | None = None,
) -> NewMessage:
    payload: dict[str, Any] = {"subject": subject, "text": text}
    if attachment is not None:
        payload["attachment"] = {
            "filename": attachment.filename,
            "content_type": attachment.content_type,
        }
    return NewMessage(
        id=new_record_id(),
        kind=MessageKind.MAIL,
        recipient=to,
        payload=payload,
        idempotency_key=idempotency_key,
        created_at=clock.now(),
        attachment=None if attachment is None else attachment.content,
    )


def sms_message(to: str, text: str, *, idempotency_key: str, clock: Clock) -> NewMessage:
    return NewMessage(
        id=new_record_id(),
        kind=MessageKind.SMS,
        recipient=to,
        payload={"text": text},
        idempotency_key=idempotency_key,
        created_at=clock.now(),
    )


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits between half and all of
    ``min(cap, base * 2**(n-1))``, so workers that failed together do not retry together."""

    max_attempts: int = 8
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        return timedelta(seconds=ceiling * (0.5 + rng.random() / 2))


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OutboxWorker:
    """Claims due messages and sends them. Any number of workers may run at once, in one
    process or many: claims never overlap."""

    def __init__(
        self,
        store: SqlOutbox,
        mail: MailSender,
        sms: SmsSender,
        clock: Clock,
        *,
        from_address: str,
        policy: RetryPolicy,
        lease: timedelta,
        send_timeout: timedelta,
        batch: int = 20,
        retention: timedelta = timedelta(days=30),
        worker_id: str | None = None,
        rng: random.Random | None = None,
        heartbeat: WorkerHeartbeat | None = None,
    ) -> None:
        self._heartbeat = heartbeat
        self._store = store
        self._mail = mail
        self._sms = sms
        self._clock = clock
        self._from = from_address
        self._policy = policy
        self._lease = lease
        self._send_timeout = send_timeout
        self._batch = batch
        self._retention = retention
        self._runs = 0
        self.worker_id = worker_id or default_worker_id()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret

    def run_once(self) -> int:
        """Claim one batch of due messages and try each; returns how many were claimed."""
        if self._heartbeat is not None:
            self._heartbeat.beat()
        now = self._clock.now()
        if self._runs % _PURGE_EVERY == 0:
            self._store.purge_sent(before=now - self._retention)
        self._runs += 1
        buried = self._store.bury_abandoned(now=now, max_attempts=self._policy.max_attempts)
        if buried:
            log.warning("outbox messages given up after a crashed attempt", extra={"count": buried})
        claimed = self._store.claim(
            self.worker_id,
            now=now,
            lease=self._lease,
            limit=self._batch,
            max_attempts=self._policy.max_attempts,
        )
        for message in claimed:
            self._attempt(message)
        return len(claimed)

    def run_forever(self, stop: threading.Event, *, poll_seconds: float) -> None:
        """Work until ``stop`` is set; a database outage pauses the loop, never ends it."""
        log.info("outbox worker started", extra={"worker": self.worker_id})
        while not stop.is_set():
            try:
                claimed = self.run_once()
            except StorageUnavailable:
                log.warning("outbox worker: database unavailable, will retry")
                claimed = 0
            except Exception:
                log.exception("outbox worker: unexpected error, will retry")
                claimed = 0
            # A full batch means more may be due: go on at once.
            if claimed < self._batch:
                stop.wait(poll_seconds)
        log.info("outbox worker stopped", extra={"worker": self.worker_id})

    def _attempt(self, message: OutboxMessage) -> None:
        assert message.lease_until is not None
        if self._clock.now() + self._send_timeout >= message.lease_until:
            # Earlier sends in the batch were slow: this one might outlive its lease and be
            # taken by another worker while still in flight. Leave it for the next round.
            self._store.mark_retry(
                message.id,
                self.worker_id,
                error="LeaseTooShort",
                next_attempt_at=self._clock.now(),
            )
            return
        try:
            self._send(message)
        except DeliveryRejected as exc:
            self._give_up(message, type(exc).__name__)
            return
        except DeliveryFailed as exc:
            self._failed(message, type(exc).__name__)
            return
        except Exception as exc:
            # A bug or a malformed payload: keep the message, retry with backoff, tell operators.
            log.exception("outbox message could not be sent", extra={"outbox_id": message.id})
            self._failed(message, type(exc).__name__)
            return
        if not self._store.mark_sent(message.id, self.worker_id, at=self._clock.now()):
            log.warning(
                "outbox message was taken over before it was marked sent",
                extra={"outbox_id": message.id},
            )

    def _send(self, message: OutboxMessage) -> None:
        payload = message.payload
        if message.kind is MessageKind.SMS:
            self._sms.send(message.recipient, str(payload["text"]))
            return
        self._mail.send(
            MailMessage(
                to=message.recipient,
                subject=str(payload["subject"]),
                text=str(payload["text"]),
                message_id=message_id_for(message.id, self._from),
                attachment=_attachment(payload, message.attachment),
            )
        )

    def _failed(self, message: OutboxMessage, error: str) -> None:
        if message.attempts >= self._policy.max_attempts:
            self._give_up(message, error)
            return
        retry_at = self._clock.now() + self._policy.delay(message.attempts, self._rng)
        self._store.mark_retry(message.id, self.worker_id, error=error, next_attempt_at=retry_at)
        log.info(
            "outbox message will be retried",
            extra={"outbox_id": message.id, "attempts": message.attempts, "error": error},
        )

    def _give_up(self, message: OutboxMessage, error: str) -> None:
        self._store.mark_dead(message.id, self.worker_id, error=error)
        log.warning(
            "outbox message given up",
            extra={"outbox_id": message.id, "attempts": message.attempts, "error": error},
        )


def _attachment(payload: Mapping[str, Any], content: bytes | None) -> Attachment | None:
    described = payload.get("attachment")
    if not isinstance(described, Mapping) or content is None:
        return None
    return Attachment(
        filename=str(described["filename"]),
        content_type=str(described["content_type"]),
        content=content,
    )


def build_worker(
    options: MailSettings,
    database: Database,
    mail: MailSender,
    sms: SmsSender,
    clock: Clock,
    heartbeat: WorkerHeartbeat | None = None,
) -> OutboxWorker:
    return OutboxWorker(
        database.outbox(),
        mail,
        sms,
        clock,
        from_address=options.from_address,
        policy=RetryPolicy(
            max_attempts=options.max_attempts,
            base_seconds=options.backoff_base_seconds,
            cap_seconds=options.backoff_max_seconds,
        ),
        lease=timedelta(seconds=options.lease_seconds),
        send_timeout=timedelta(seconds=options.smtp_timeout_seconds),
        batch=options.worker_batch,
        retention=timedelta(days=options.sent_retention_days),
        heartbeat=heartbeat,
    )


def embedded_worker_enabled(options: MailSettings, *, production: bool) -> bool:
    """Whether ``certdist serve`` runs the worker in its own processes: as configured, and by
    default in development (one command runs everything) but not in production."""
    configured = options.embedded_worker
    return (not production) if configured is None else configured


class BackgroundWorker:
    """An ``OutboxWorker`` on a daemon thread, for the server process."""

    def __init__(self, worker: OutboxWorker, *, poll_seconds: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=worker.run_forever,
            args=(self._stop,),
            kwargs={"poll_seconds": poll_seconds},
            name="outbox-worker",
            daemon=True,
        )

    def start(self) -> BackgroundWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the message in hand and stop; one in flight past ``timeout`` keeps its
        lease and is retried by another worker after it lapses."""
        self._stop.set()
        self._thread.join(timeout)
