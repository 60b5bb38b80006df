"""SmtpMailSender against a real SMTP server (aiosmtpd) on loopback; the dev file sender."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from pydantic import SecretStr

from certdist.config import MailSettings
from certdist.errors import DeliveryFailed, DeliveryRejected
from certdist.services.messaging.mail import (
    Attachment,
    FileMailSender,
    MailMessage,
    SmtpMailSender,
    message_id_for,
)
from tests.support.smtp import SmtpServer, TlsSmtpServer

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def settings_for(server: SmtpServer, **overrides: object) -> MailSettings:
    return MailSettings.model_validate(
        server.mail_fields(
            smtp_timeout_seconds=5, from_address="certificates@health.example", **overrides
        )
    )


def sample(attachment: Attachment | None = None) -> MailMessage:
    return MailMessage(
        to="friend@example.org",
        subject="A health certificate has been shared with you",
        text="Hello,\nhere it is.\n",
        message_id=message_id_for("0b5f0d3c-1111-4222-8333-944445555666", "x@health.example"),
        attachment=attachment,
    )


def test_message_id_is_derived_from_the_outbox_id() -> None:
    assert message_id_for("abc", "certificates@health.example") == "<abc@health.example>"


def test_smtp_delivers_text_and_a_byte_identical_attachment(smtp_server: SmtpServer) -> None:
    sender = SmtpMailSender(settings_for(smtp_server))
    sender.send(sample(Attachment("certificate.pdf", "application/pdf", PDF)))
    [received] = smtp_server.mailbox.messages
    assert received["To"] == "friend@example.org"
    assert received["From"] == "certificates@health.example"
    assert received["Message-ID"] == "<0b5f0d3c-1111-4222-8333-944445555666@health.example>"
    body = received.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == "Hello,\nhere it is.\n"
    [part] = list(received.iter_attachments())
    assert part.get_filename() == "certificate.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == PDF


def test_an_unreachable_server_is_a_delivery_failure(smtp_server: SmtpServer) -> None:
    settings = settings_for(smtp_server)
    smtp_server.stop()
    with pytest.raises(DeliveryFailed) as caught:
        SmtpMailSender(settings).send(sample())
    assert "friend@example.org" not in str(caught.value)


def test_starttls_required_but_not_offered_refuses_to_send_in_clear(
    smtp_server: SmtpServer,
) -> None:
    with pytest.raises(DeliveryFailed):
        SmtpMailSender(settings_for(smtp_server, smtp_starttls=True)).send(sample())
    assert smtp_server.mailbox.messages == []


def test_file_sender_writes_one_eml_per_outbox_message(tmp_path: Path) -> None:
    sender = FileMailSender(tmp_path / "mail", "certificates@health.example")
    sender.send(sample(Attachment("certificate.pdf", "application/pdf", PDF)))
    sender.send(sample())  # a re-send after a crash replaces its own file
    [written] = list((tmp_path / "mail").iterdir())
    assert written.name == "0b5f0d3c-1111-4222-8333-944445555666.eml"
    parsed = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Message-ID"] == "<0b5f0d3c-1111-4222-8333-944445555666@health.example>"
    assert list(parsed.iter_attachments()) == []


def test_production_refuses_the_file_backend() -> None:
    assert MailSettings().production_problems()
    assert MailSettings(backend="smtp").production_problems() == []


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit-tls"])
def test_tls_and_login_from_configuration(tmp_path: Path, implicit: bool) -> None:
    server = TlsSmtpServer(tmp_path, implicit=implicit)
    server.start()
    try:
        settings = settings_for(
            server,
            smtp_starttls=not implicit,
            smtp_tls=implicit,
            smtp_ca_file=server.ca_file,
            smtp_username=TlsSmtpServer.USERNAME,
            smtp_password=TlsSmtpServer.PASSWORD,
        )
        SmtpMailSender(settings).send(sample(Attachment("certificate.pdf", "application/pdf", PDF)))
        [received] = server.mailbox.messages
        [part] = list(received.iter_attachments())
        assert part.get_content() == PDF
        assert server.logins == [TlsSmtpServer.USERNAME]
        wrong = settings.model_copy(update={"smtp_password": SecretStr("wrong")})
        with pytest.raises(DeliveryFailed):
            SmtpMailSender(wrong).send(sample())
        untrusted = settings.model_copy(update={"smtp_ca_file": None})
        with pytest.raises(DeliveryFailed):  # the system store does not know the test CA
            SmtpMailSender(untrusted).send(sample())
        assert len(server.mailbox.messages) == 1
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("recipient_reply", "data_reply", "final"),
    [
        ("550 5.1.1 No such user here", None, True),
        ("553 5.1.3 Bad destination mailbox address syntax", None, True),
        ("450 4.2.1 Mailbox busy, try later", None, False),
        (None, "554 5.7.1 Message refused", True),
        (None, "451 4.3.0 Local error, try later", False),
    ],
)
def test_a_final_refusal_is_told_apart_from_a_passing_one(
    smtp_server: SmtpServer, recipient_reply: str | None, data_reply: str | None, final: bool
) -> None:
    smtp_server.mailbox.recipient_reply = recipient_reply
    smtp_server.mailbox.data_reply = data_reply
    with pytest.raises(DeliveryFailed) as caught:
        SmtpMailSender(settings_for(smtp_server)).send(sample())
    assert isinstance(caught.value, DeliveryRejected) is final
    assert "friend@example.org" not in str(caught.value)
    assert smtp_server.mailbox.messages == []
