"""Building the messaging capability: mail and SMS senders, the issuance notifier and the
outbox worker that delivers what the other capabilities queued."""

from __future__ import annotations

from dataclasses import dataclass

from certdist.config import MailSettings, SmsSettings
from certdist.services.common import Infrastructure
from certdist.services.messaging.heartbeat import WorkerHeartbeat
from certdist.services.messaging.mail import MailSender, build_mail_sender
from certdist.services.messaging.notify import (
    IssuanceNotifier,
    NotificationTemplates,
    build_notifier,
)
from certdist.services.messaging.outbox import (
    BackgroundWorker,
    OutboxWorker,
    build_worker,
    embedded_worker_enabled,
)
from certdist.services.messaging.sms import SmsSender, sms_sender
from certdist.storage.dev_sms_inbox import DevSmsInbox


@dataclass(frozen=True)
class Messaging:
    mail_settings: MailSettings
    sms_settings: SmsSettings
    mail: MailSender  # what the outbox worker sends mail with
    sms: SmsSender  # one-time codes go out at once; notifications through the outbox
    dev_inbox: DevSmsInbox | None  # development: SMS kept for /dev/sms instead of sent
    notifier: IssuanceNotifier | None  # None: notifications switched off
    templates: NotificationTemplates
    embedded_worker: bool  # whether server processes run the outbox worker themselves
    infrastructure: Infrastructure

    def outbox_worker(self) -> OutboxWorker:
        """A worker that sends the outbox's mail and SMS (``certdist worker``, or embedded)."""
        infrastructure = self.infrastructure
        return build_worker(
            self.mail_settings,
            infrastructure.database,
            self.mail,
            self.sms,
            infrastructure.clock,
            self.heartbeat,
        )

    @property
    def heartbeat(self) -> WorkerHeartbeat:
        return WorkerHeartbeat(self.infrastructure.state, self.infrastructure.clock)

    def backlog(self) -> tuple[int, float | None]:
        """Messages waiting to be delivered, and the age in seconds of the oldest."""
        count, oldest = self.infrastructure.database.outbox().backlog()
        if oldest is None:
            return count, None
        return count, max(0.0, (self.infrastructure.clock.now() - oldest).total_seconds())

    def start_outbox_worker(self) -> BackgroundWorker:
        poll = self.mail_settings.worker_poll_seconds
        return BackgroundWorker(self.outbox_worker(), poll_seconds=poll).start()


def wire(mail: MailSettings, sms: SmsSettings, infrastructure: Infrastructure) -> Messaging:
    site = infrastructure.site
    inbox = infrastructure.database.dev_sms_inbox() if sms.backend == "inbox" else None
    return Messaging(
        mail_settings=mail,
        sms_settings=sms,
        mail=build_mail_sender(mail, site.data_dir),
        sms=sms_sender(sms, inbox, infrastructure.clock),
        dev_inbox=inbox,
        notifier=build_notifier(mail, site, infrastructure.clock),
        templates=NotificationTemplates(mail.notification_template_dir),
        embedded_worker=embedded_worker_enabled(mail, production=site.production),
        infrastructure=infrastructure,
    )
