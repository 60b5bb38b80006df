"""A citizen e-mails one of their certificates to an address they type.

Either the PDF itself as an attachment — the very bytes the download gives, from the
distribution service, under the server-chosen name ``certificate.pdf`` — or a short-lived
share link (1 day). The subject and body carry no personal data. Limits, per day: messages
per account and messages per recipient address (so the portal cannot be used to flood
someone's inbox). The message goes through the outbox like every other mail.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from enum import StrEnum

from certdist.domain.roles import Permission, Principal
from certdist.errors import FieldError, InvalidInput
from certdist.services.common import (
    Clock,
    KeyedHasher,
    RateLimiter,
    format_moment,
    new_record_id,
)
from certdist.services.distribution import DistributionService
from certdist.services.messaging import (
    Attachment,
    NotificationTemplates,
    mail_message,
    valid_address,
)
from certdist.services.sharing.links import Expiry, SharingService
from certdist.storage.outbox import SqlOutbox

ATTACHMENT_NAME = "certificate.pdf"
_DAY = 24 * 3600


class ShareMode(StrEnum):
    ATTACHMENT = "attachment"
    LINK = "link"


class ShareMailService:
    def __init__(
        self,
        outbox: SqlOutbox,
        sharing: SharingService,
        distribution: DistributionService,
        templates: NotificationTemplates,
        hasher: KeyedHasher,
        rate_limiter: RateLimiter,
        clock: Clock,
        *,
        default_language: str,
        per_account_per_day: int,
        per_recipient_per_day: int,
        time_zone: tzinfo = UTC,
    ) -> None:
        self._outbox = outbox
        self._sharing = sharing
        self._distribution = distribution
        self._templates = templates
        self._hasher = hasher
        self._limiter = rate_limiter
        self._clock = clock
        self._default_language = default_language
        self._per_account = per_account_per_day
        self._per_recipient = per_recipient_per_day
        self._time_zone = time_zone

    def send(
        self,
        owner_mobile: str,
        certificate_id: str,
        to: str,
        *,
        mode: ShareMode = ShareMode.ATTACHMENT,
        language: str | None = None,
    ) -> str:
        """Queue the mail; returns the outbox message id. ``NotFound`` unless the certificate
        is the owner's and live; ``RateLimited`` over a limit; ``InvalidInput`` for a bad
        address."""
        address = to.strip()
        if not valid_address(address):
            raise InvalidInput(
                "invalid e-mail address", [FieldError("to", "not a plain e-mail address")]
            )
        # The certificate first: a stranger's certificate id must not cost the limits.
        bundle = self._distribution.bundle_for_recipient(certificate_id, owner_mobile)
        owner = self._sharing.owner_key(owner_mobile)
        recipient = self._hasher.digest("share-mail-to", address.lower())
        # A recipient already at its limit must not use up the sender's allowance too.
        self._limiter.peek(
            "share-mail-to", recipient, limit=self._per_recipient, window_seconds=_DAY
        )
        self._limiter.hit("share-mail-account", owner, limit=self._per_account, window_seconds=_DAY)
        self._limiter.hit(
            "share-mail-to", recipient, limit=self._per_recipient, window_seconds=_DAY
        )
        lang = language if language in self._templates.languages else self._default_language
        key = f"share-mail:{new_record_id()}"
        if mode is ShareMode.ATTACHMENT:
            owner_principal = Principal(
                subject=owner, username=f"citizen:{owner[:16]}", roles=frozenset(), issuer="portal"
            )
            pdf = self._distribution.render(
                bundle, "pdf", caller=owner_principal, permission=Permission.RECIPIENT
            )
            subject, body = self._templates.mail(
                lang, "mail_share_attachment", {"attachment_name": ATTACHMENT_NAME}
            )
            message = mail_message(
                address,
                subject,
                body,
                idempotency_key=key,
                clock=self._clock,
                attachment=Attachment(ATTACHMENT_NAME, "application/pdf", pdf.content),
            )
        else:
            created = self._sharing.create(
                owner_mobile, bundle.latest.certificate_id, expiry=Expiry.DAY
            )
            expires = format_moment(created.link.expires_at, lang, self._time_zone)
            subject, body = self._templates.mail(
                lang, "mail_share_link", {"link_url": created.url, "expires": expires}
            )
            message = mail_message(address, subject, body, idempotency_key=key, clock=self._clock)
        self._outbox.enqueue([message])
        return message.id
