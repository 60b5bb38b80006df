"""Sending e-mail: the ``MailSender`` interface, SMTP, a dev backend and a test one.

Senders raise ``DeliveryFailed`` when the server does not take the message; the outbox worker
retries those later. Every message carries the ``Message-ID`` the outbox derived from its row
id, so a message sent again after a crash is recognisable as the same message.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Protocol

from certdist.config import MailSettings
from certdist.errors import DeliveryFailed, DeliveryRejected


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf"
    content: bytes


@dataclass(frozen=True)
class MailMessage:
    to: str
    subject: str
    text: str
    message_id: str  # "<id@domain>"
    attachment: Attachment | None = None


class MailSender(Protocol):
    def send(self, message: MailMessage) -> None:
        """Hand the message to the mail system; ``DeliveryFailed`` if it was not taken."""


def message_id_for(outbox_id: str, from_address: str) -> str:
    """The Message-ID of an outbox message: the same for every attempt to send it."""
    domain = from_address.rpartition("@")[2] or "localhost"
    return f"<{outbox_id}@{domain}>"


def build_email(message: MailMessage, from_address: str) -> EmailMessage:
    """The MIME message: plain text, optionally one attachment."""
    email = EmailMessage()
    email["From"] = from_address
    email["To"] = message.to
    email["Subject"] = message.subject
    email["Message-ID"] = message.message_id
    email["Date"] = formatdate(usegmt=True)
    email.set_content(message.text)
    if message.attachment is not None:
        maintype, _, subtype = message.attachment.content_type.partition("/")
        email.add_attachment(
            message.attachment.content,
            maintype=maintype,
            subtype=subtype,
            filename=message.attachment.filename,
        )
    return email


class SmtpMailSender:
    """One SMTP connection per message (mail is rare here; no idle connection to keep alive).

    ``smtp_tls`` connects with TLS from the start (port 465); otherwise ``smtp_starttls``
    upgrades the connection and refuses to go on in clear text if the server cannot.
    """

    def __init__(self, settings: MailSettings) -> None:
        self._settings = settings

    def send(self, message: MailMessage) -> None:
        settings = self._settings
        email = build_email(message, settings.from_address)
        try:
            with self._connect() as smtp:
                if settings.smtp_username and settings.smtp_password is not None:
                    smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
                smtp.send_message(email)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
            if _permanent(exc):
                raise DeliveryRejected(
                    f"the mail server refused the message for good ({type(exc).__name__})"
                ) from None
            raise DeliveryFailed(
                f"the mail server did not take the message ({type(exc).__name__})"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            # The class name only: server replies can quote the recipient address.
            raise DeliveryFailed(
                f"the mail server did not take the message ({type(exc).__name__})"
            ) from None

    def _connect(self) -> smtplib.SMTP:
        settings = self._settings
        timeout = settings.smtp_timeout_seconds
        context = ssl.create_default_context(cafile=settings.smtp_ca_file)
        if settings.smtp_tls:
            return smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=timeout, context=context
            )
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        try:
            if settings.smtp_starttls:
                smtp.starttls(context=context)
        except BaseException:
            smtp.close()
            raise
        return smtp


def _permanent(error: smtplib.SMTPRecipientsRefused | smtplib.SMTPDataError) -> bool:
    """A 5xx reply to the recipient or the content is final (RFC 5321 §4.2.1). Refusals of
    the sender, the login or the connection are not: they are the deployment's to mend, and
    the message goes out once they are."""
    if isinstance(error, smtplib.SMTPDataError):
        return 500 <= error.smtp_code < 600
    # Only one recipient per message: every refusal is that recipient's.
    codes = [code for code, _ in error.recipients.values()]
    return bool(codes) and all(500 <= code < 600 for code in codes)


class FileMailSender:
    """Development only: each message becomes ``<directory>/<outbox id>.eml``.

    Written to a temporary name and renamed, so a reader never sees half a file; a message
    sent again after a crash replaces its own file.
    """

    def __init__(self, directory: Path, from_address: str) -> None:
        self._directory = directory
        self._from = from_address

    def send(self, message: MailMessage) -> None:
        name = message.message_id.strip("<>").partition("@")[0] or "message"
        try:
            self._directory.mkdir(parents=True, exist_ok=True)
            target = self._directory / f"{name}.eml"
            partial = target.with_suffix(".eml.partial")
            partial.write_bytes(bytes(build_email(message, self._from)))
            partial.replace(target)
        except OSError as exc:
            raise DeliveryFailed(f"could not write the mail file ({type(exc).__name__})") from exc


class RecordingMailSender:
    """For tests: keeps every message; ``fail`` makes it behave like a server that is down,
    ``reject`` like one that refuses the recipient for good."""

    def __init__(self) -> None:
        self.sent: list[MailMessage] = []
        self.fail = False
        self.reject = False
        self._lock = threading.Lock()

    def send(self, message: MailMessage) -> None:
        if self.reject:
            raise DeliveryRejected("the test mail server refuses this recipient")
        if self.fail:
            raise DeliveryFailed("the test mail server is down")
        with self._lock:
            self.sent.append(message)


def build_mail_sender(section: MailSettings, data_dir: Path) -> MailSender:
    """SMTP as configured, or (development) .eml files under ``data_dir/mail``."""
    if section.backend == "smtp":
        return SmtpMailSender(section)
    return FileMailSender(data_dir / "mail", section.from_address)
