"""Notifications after issuance and correction: one message per contact, in the right
language, enqueued in the same transaction as the certificate, never twice."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from certdist.errors import ConfigurationError, DuplicateCertificate
from certdist.services.common.clock import FixedClock
from certdist.services.messaging.mail import RecordingMailSender
from certdist.services.messaging.notify import (
    PACKAGED_TEMPLATES,
    NotificationTemplates,
    build_notifier,
    valid_address,
)
from certdist.services.messaging.outbox import OutboxWorker
from certdist.services.messaging.sms import RecordingSms
from certdist.storage.outbox import MessageKind, OutboxMessage
from certdist.wiring import Services
from tests.support.delivery import MOBILE, DeliveryServicesFactory, request

CONTACTS = (f"tel:{MOBILE}", "mailto:asha@example.org")


def queued(services: Services) -> list[OutboxMessage]:
    return services.database.outbox().messages()


def by_kind(messages: list[OutboxMessage], kind: MessageKind) -> list[OutboxMessage]:
    return [m for m in messages if m.kind is kind]


def test_issuance_notifies_every_contact_once_in_the_default_language(
    services: Services,
) -> None:
    [issued] = services.issuance.certificates.certify([request("NOT0001", contacts=CONTACTS)])
    messages = queued(services)
    [text] = by_kind(messages, MessageKind.SMS)
    [mailed] = by_kind(messages, MessageKind.MAIL)
    assert text.recipient == MOBILE
    assert mailed.recipient == "asha@example.org"
    assert text.payload["text"].startswith("Your vaccination certificate for dose 1 has been")
    assert issued.certificate_id in text.payload["text"]
    assert "https://certs.example/portal" in text.payload["text"]
    assert mailed.payload["subject"] == "Your vaccination certificate is ready"
    assert "https://certs.example/portal" in mailed.payload["text"]
    for message in messages:
        # No personal data beyond the certificate number.
        assert "Bhaya" not in str(message.payload)
        assert "1994" not in str(message.payload)
    assert mailed.attachment is None


def test_correction_notifies_with_the_correction_template(
    services: Services, clock: FixedClock
) -> None:
    [first] = services.issuance.certificates.certify([request("NOT0002", contacts=CONTACTS)])
    clock.advance(timedelta(minutes=1))
    [corrected] = services.issuance.certificates.correct([request("NOT0002", contacts=CONTACTS)])
    mails = by_kind(queued(services), MessageKind.MAIL)
    assert [m.payload["subject"] for m in mails] == [
        "Your vaccination certificate is ready",
        "Your vaccination certificate has been corrected",
    ]
    assert corrected.certificate_id in mails[1].payload["text"]
    assert first.certificate_id in mails[1].payload["text"]


def test_the_request_meta_language_chooses_the_template_set(services: Services) -> None:
    services.issuance.certificates.certify([request("NOT0003", contacts=CONTACTS, language="hi")])
    messages = queued(services)
    [text] = by_kind(messages, MessageKind.SMS)
    [mailed] = by_kind(messages, MessageKind.MAIL)
    assert "टीकाकरण प्रमाणपत्र" in text.payload["text"]
    assert mailed.payload["subject"] == "आपका टीकाकरण प्रमाणपत्र तैयार है"


def test_an_unknown_meta_language_falls_back_to_the_default(services: Services) -> None:
    services.issuance.certificates.certify([request("NOT0004", contacts=CONTACTS, language="xx")])
    [text] = by_kind(queued(services), MessageKind.SMS)
    assert text.payload["text"].startswith("Your vaccination certificate")


def test_default_language_is_a_setting(make_delivery_services: DeliveryServicesFactory) -> None:
    built = make_delivery_services(default_language="hi")
    built.issuance.certificates.certify([request("NOT0005", contacts=CONTACTS)])
    [mailed] = by_kind(queued(built), MessageKind.MAIL)
    assert mailed.payload["subject"] == "आपका टीकाकरण प्रमाणपत्र तैयार है"


def test_a_failed_issuance_enqueues_nothing(services: Services) -> None:
    services.issuance.certificates.certify([request("NOT0006", contacts=CONTACTS)])
    before = len(queued(services))
    with pytest.raises(DuplicateCertificate):
        services.issuance.certificates.certify(
            [request("NOT0007", contacts=CONTACTS), request("NOT0006", contacts=CONTACTS)]
        )
    assert len(queued(services)) == before


def test_a_retried_store_of_the_same_certificates_does_not_notify_twice(
    services: Services,
) -> None:
    services.issuance.certificates.certify([request("NOT0008", contacts=CONTACTS)])
    [record] = services.database.certificates().for_beneficiary("NOT0008")
    notifier = build_notifier(services.settings.mail, services.settings.site, services.clock)
    assert notifier is not None
    repository = services.database.certificates(companions=notifier.messages_for)
    repository.add([record])  # a retry after a lost commit acknowledgement: a no-op
    assert len(queued(services)) == 2


def test_bad_and_duplicate_contacts_are_skipped(services: Services) -> None:
    contacts = (
        f"tel:{MOBILE}",
        "tel:+91 98804 14889",  # the same number, written differently
        "mailto:asha@example.org",
        "mailto:asha@example.org",
    )
    services.issuance.certificates.certify([request("NOT0009", contacts=contacts)])
    assert sorted((m.kind, m.recipient) for m in queued(services)) == [
        (MessageKind.MAIL, "asha@example.org"),
        (MessageKind.SMS, MOBILE),
    ]


@pytest.mark.parametrize(
    "address",
    [
        "not an address",
        "a@b.example\r\nBcc: x@evil.example",
        "a@b",
        "<a@b.example>",
        "a@b@c.org",
        "a\x00b@example.org",  # PostgreSQL refuses NUL in text: the outbox insert would fail
        "a\x1bb@example.org",
        "a\x7fb@example.org",
    ],
)
def test_only_plain_addresses_are_mailed(address: str) -> None:
    assert not valid_address(address)
    assert valid_address("asha.rao+certs@mail.example.org")


def test_notifications_can_be_switched_off(
    make_delivery_services: DeliveryServicesFactory,
) -> None:
    built = make_delivery_services(notify_on_issue=False)
    built.issuance.certificates.certify([request("NOT0010", contacts=CONTACTS)])
    assert queued(built) == []


def test_the_worker_delivers_notifications(
    services: Services, worker: OutboxWorker, mail: RecordingMailSender, sms: RecordingSms
) -> None:
    services.issuance.certificates.certify([request("NOT0011", contacts=CONTACTS)])
    assert worker.run_once() == 2
    assert [to for to, _ in sms.sent] == [MOBILE]
    assert [m.to for m in mail.sent] == ["asha@example.org"]


def test_every_packaged_language_has_every_template() -> None:
    templates = NotificationTemplates()
    assert templates.languages == {"en", "hi"}


def test_a_template_set_missing_a_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "notifications" / "fr"
    broken.mkdir(parents=True)
    (broken / "sms_issued.txt").write_text("Votre certificat {{ certificate_id }}")
    with pytest.raises(ConfigurationError, match=r"fr/sms_corrected\.txt"):
        NotificationTemplates(tmp_path / "notifications")
    assert PACKAGED_TEMPLATES.is_dir()


def test_settings_refuse_a_default_language_without_templates(
    make_delivery_services: DeliveryServicesFactory,
) -> None:
    with pytest.raises(ConfigurationError, match="'fr'"):
        make_delivery_services(default_language="fr")
