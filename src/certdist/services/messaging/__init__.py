"""Messaging: the durable outbox of mail and SMS (queued in the transaction of what they
announce, sent by a worker with retries), the senders, and the issuance notifications."""

from certdist.services.messaging.heartbeat import WorkerHeartbeat
from certdist.services.messaging.mail import Attachment, MailSender, RecordingMailSender
from certdist.services.messaging.notify import (
    IssuanceNotifier,
    NotificationTemplates,
    valid_address,
)
from certdist.services.messaging.outbox import (
    BackgroundWorker,
    OutboxWorker,
    embedded_worker_enabled,
    mail_message,
)
from certdist.services.messaging.sms import OtpTexts, RecordingSms, SmsSender
from certdist.services.messaging.wiring import Messaging, wire

__all__ = [
    "Attachment",
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
    "WorkerHeartbeat",
    "embedded_worker_enabled",
    "mail_message",
    "valid_address",
    "wire",
]
