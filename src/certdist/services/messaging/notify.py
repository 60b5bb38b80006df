"""Telling recipients that a certificate was issued or corrected, through the outbox.

Each ``tel:`` contact of the certificate gets an SMS, each ``mailto:`` contact an e-mail,
with a link to the portal (where the certificate is only shown after signing in with the
registered mobile number; the message itself carries no certificate and no personal data
beyond the certificate number). The messages are enqueued in the same database transaction
that stores the certificate (``CertificateRepository`` companions), keyed by certificate id
and contact, so a retried issuance never notifies twice.

Language: DIVOC's request carries none, so messages use the configured default language,
unless the request's free-form ``meta.language`` names a language we have templates for.
Templates are text files, ``<dir>/<language>/{sms,mail}_{issued,corrected}.txt`` (and the
``mail_share_*.txt`` of e-mails a citizen sends, services/sharing/mail.py); a mail template's
first line is ``Subject: …``. Adding a language is adding a folder with every file.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from certdist.config import MailSettings, SiteSection
from certdist.domain.models import TEST, CertificateRecord
from certdist.domain.phone import normalize_mobile
from certdist.errors import ConfigurationError
from certdist.services.common import Clock
from certdist.services.messaging.outbox import mail_message, sms_message
from certdist.storage.outbox import NewMessage

log = logging.getLogger(__name__)

PACKAGED_TEMPLATES = Path(__file__).resolve().parent / "templates" / "notifications"
_TEMPLATE_NAMES = (
    "sms_issued",
    "sms_corrected",
    "mail_issued",
    "mail_corrected",
    "mail_share_attachment",
    "mail_share_link",
)
_SUBJECT = "Subject:"
# Deliberately plain: one @, no spaces or line breaks (which could inject mail headers).
# No control characters in the local part either (PostgreSQL refuses NUL in text).
_LOCAL_PART = r"[^@\s<>,;:\"\\\x00-\x1f\x7f]{1,64}"
_ADDRESS = re.compile(rf"^{_LOCAL_PART}@[A-Za-z0-9.-]{{1,253}}\.[A-Za-z]{{2,63}}$")


def valid_address(address: str) -> bool:
    """Whether ``address`` is a plain ``local@domain.tld`` e-mail address."""
    return len(address) <= 254 and _ADDRESS.fullmatch(address) is not None


class NotificationTemplates:
    """Text templates per language; every language folder must have every template."""

    def __init__(self, directory: Path | None = None) -> None:
        root = directory or PACKAGED_TEMPLATES
        self._env = Environment(
            loader=FileSystemLoader(root),
            autoescape=False,  # noqa: S701 - plain text for SMS and text/plain mail, not HTML
            undefined=StrictUndefined,
            keep_trailing_newline=False,
            trim_blocks=True,
        )
        self.languages = frozenset(p.name for p in root.iterdir() if p.is_dir())
        for language in self.languages:
            for name in _TEMPLATE_NAMES:
                try:
                    self._env.get_template(f"{language}/{name}.txt")
                except TemplateNotFound as exc:
                    raise ConfigurationError(
                        f"notification template {language}/{name}.txt is missing"
                    ) from exc

    def render(self, language: str, name: str, values: dict[str, Any]) -> str:
        return self._env.get_template(f"{language}/{name}.txt").render(values).strip()

    def mail(self, language: str, name: str, values: dict[str, Any]) -> tuple[str, str]:
        """(subject, body) of a mail template."""
        text = self.render(language, name, values)
        first, _, body = text.partition("\n")
        if not first.startswith(_SUBJECT):
            raise ConfigurationError(f"{language}/{name}.txt must start with a Subject: line")
        return first.removeprefix(_SUBJECT).strip(), body.strip() + "\n"


class IssuanceNotifier:
    """Builds the notification messages for newly stored certificates."""

    def __init__(
        self,
        templates: NotificationTemplates,
        clock: Clock,
        *,
        portal_url: str,
        default_language: str,
        phone_region: str,
    ) -> None:
        if default_language not in templates.languages:
            raise ConfigurationError(
                f"no notification templates for the default language {default_language!r}"
            )
        self._templates = templates
        self._clock = clock
        self._portal_url = portal_url
        self._default_language = default_language
        self._phone_region = phone_region

    def messages_for(self, records: Sequence[CertificateRecord]) -> list[NewMessage]:
        """One message per distinct contact of each certificate (issued or corrected)."""
        messages: list[NewMessage] = []
        for record in records:
            messages.extend(self._for_record(record))
        return messages

    def _for_record(self, record: CertificateRecord) -> list[NewMessage]:
        language = self._language(record)
        event = "corrected" if record.previous_certificate_id else "issued"
        values = {
            "is_test": record.entity_type == TEST,
            "dose": record.dose,
            "total_doses": record.total_doses,
            "certificate_id": record.certificate_id,
            "previous_certificate_id": record.previous_certificate_id or "",
            "portal_url": self._portal_url,
        }
        messages: list[NewMessage] = []
        seen: set[tuple[str, str]] = set()
        for contact in record.contacts:
            channel, recipient = self._recipient(contact)
            if recipient is None or (channel, recipient) in seen:
                continue
            seen.add((channel, recipient))
            key = f"notify:{record.certificate_id}:{channel}:{recipient}"
            if channel == "sms":
                text = self._templates.render(language, f"sms_{event}", values)
                messages.append(
                    sms_message(recipient, text, idempotency_key=key, clock=self._clock)
                )
            else:
                subject, body = self._templates.mail(language, f"mail_{event}", values)
                messages.append(
                    mail_message(recipient, subject, body, idempotency_key=key, clock=self._clock)
                )
        return messages

    def _language(self, record: CertificateRecord) -> str:
        requested = record.meta.get("language")
        if isinstance(requested, str) and requested in self._templates.languages:
            return requested
        return self._default_language

    def _recipient(self, contact: str) -> tuple[str, str | None]:
        scheme, _, value = contact.strip().partition(":")
        scheme = scheme.lower()
        if scheme == "tel":
            try:
                return "sms", normalize_mobile(value, self._phone_region)
            except ValueError:
                return "sms", None
        if scheme == "mailto":
            address = value.strip()
            return "mail", address if valid_address(address) else None
        return scheme, None


def build_notifier(mail: MailSettings, site: SiteSection, clock: Clock) -> IssuanceNotifier | None:
    """The notifier for issuance, or None when notifications are switched off."""
    if not mail.notify_on_issue:
        return None
    return IssuanceNotifier(
        NotificationTemplates(mail.notification_template_dir),
        clock,
        portal_url=site.host + mail.portal_path,
        default_language=mail.default_language,
        phone_region=site.phone_region,
    )
