"""Messaging: the durable outbox of mail and SMS (queued in the transaction of what they
announce, sent by a worker with retries), the senders, and the issuance notifications."""

from certdist.services.messaging.mail import MailSender, RecordingMailSender
from certdist.services.messaging.notify import IssuanceNotifier, NotificationTemplates
from certdist.services.messaging.outbox import (
    BackgroundWorker,
    OutboxWorker,
    embedded_worker_enabled,
)
from certdist.services.messaging.sms import OtpTexts, RecordingSms, SmsSender
from certdist.services.messaging.wiring import Messaging, wire

__all__ = [
    "BackgroundWorker",
    "IssuanceNotifier",
    "MailSender",
    "Messaging",
    "NotificationTemplates",
    "OtpTexts",
    "OutboxWorker",
    "RecordingMailSender",
    "RecordingSms",
    "SmsSender",
    "embedded_worker_enabled",
    "wire",
]
