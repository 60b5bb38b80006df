"""A citizen e-mails a certificate: attachment or link, limits, no personal data in the mail,
delivered over real SMTP with the attachment byte for byte."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from certdist.domain.roles import Permission, Principal
from certdist.errors import InvalidInput, NotFound, RateLimited
from certdist.services.common.clock import FixedClock
from certdist.services.sharing.mail import ATTACHMENT_NAME, ShareMode
from certdist.storage.outbox import MessageKind
from certdist.wiring import Services
from tests.support.delivery import MOBILE, DeliveryServicesFactory, request, smtp_worker
from tests.support.smtp import SmtpServer

FRIEND = "friend@example.org"


def issue(services: Services, code: str = "MAIL0001") -> str:
    [issued] = services.issuance.certificates.certify([request(code)])
    return issued.certificate_id


def owners_download(services: Services, certificate_id: str) -> bytes:
    owner = Principal("owner", "owner", frozenset({"recipient"}), mobile=MOBILE)
    bundle = services.distribution.certificates.bundle_for_recipient(certificate_id, MOBILE)
    return services.distribution.certificates.render(
        bundle, "pdf", caller=owner, permission=Permission.RECIPIENT
    ).content


def test_the_attachment_is_the_download_under_a_server_chosen_name(services: Services) -> None:
    certificate_id = issue(services)
    message_id = services.sharing.mail.send(MOBILE, certificate_id, FRIEND)
    stored = services.database.outbox().get(message_id)
    assert stored is not None
    assert stored.recipient == FRIEND
    assert stored.attachment == owners_download(services, certificate_id)
    assert stored.payload["attachment"]["filename"] == ATTACHMENT_NAME
    assert stored.payload["subject"] == "A health certificate has been shared with you"
    assert "Bhaya" not in str(stored.payload)


def test_link_mode_mails_a_one_day_share_link(services: Services) -> None:
    certificate_id = issue(services)
    message_id = services.sharing.mail.send(MOBILE, certificate_id, FRIEND, mode=ShareMode.LINK)
    stored = services.database.outbox().get(message_id)
    assert stored is not None
    assert stored.attachment is None
    token = re.search(r"https://certs\.example/s/([A-Za-z0-9_-]{43})", stored.payload["text"])
    assert token is not None
    link = services.sharing.links.resolve(token.group(1))
    assert link.expires_at - link.created_at == timedelta(days=1)


def test_the_mail_is_in_the_requested_language(services: Services) -> None:
    message_id = services.sharing.mail.send(MOBILE, issue(services), FRIEND, language="hi")
    stored = services.database.outbox().get(message_id)
    assert stored is not None
    assert stored.payload["subject"] == "आपके साथ एक स्वास्थ्य प्रमाणपत्र साझा किया गया है"


@pytest.mark.parametrize("address", ["", "friend", "a@b.example\nBcc: x@evil.example"])
def test_bad_addresses_are_refused(services: Services, address: str) -> None:
    with pytest.raises(InvalidInput):
        services.sharing.mail.send(MOBILE, issue(services), address)


def test_only_the_owner_can_mail_a_certificate(services: Services) -> None:
    certificate_id = issue(services)
    with pytest.raises(NotFound):
        services.sharing.mail.send("+919000000002", certificate_id, FRIEND)
    mails = [m for m in services.database.outbox().messages() if m.kind is MessageKind.MAIL]
    assert mails == []


def test_limits_per_recipient_and_per_account(
    make_delivery_services: DeliveryServicesFactory, clock: FixedClock
) -> None:
    built = make_delivery_services(
        share_mail_per_account_per_day=3,
        share_mail_per_recipient_per_day=2,
        notify_on_issue=False,
    )
    certificate_id = issue(built)
    built.sharing.mail.send(MOBILE, certificate_id, FRIEND)
    built.sharing.mail.send(MOBILE, certificate_id, FRIEND.upper())
    with pytest.raises(RateLimited):
        built.sharing.mail.send(MOBILE, certificate_id, FRIEND)
    built.sharing.mail.send(MOBILE, certificate_id, "other@example.org")
    with pytest.raises(RateLimited):
        built.sharing.mail.send(MOBILE, certificate_id, "third@example.org")
    assert len(built.database.outbox().messages()) == 3
    clock.advance(timedelta(days=1))
    built.sharing.mail.send(MOBILE, certificate_id, FRIEND)


def test_delivered_over_smtp_byte_for_byte(
    make_delivery_services: DeliveryServicesFactory, smtp_server: SmtpServer
) -> None:
    built = make_delivery_services(**smtp_server.mail_fields(notify_on_issue=False))
    certificate_id = issue(built)
    built.sharing.mail.send(MOBILE, certificate_id, FRIEND)
    assert smtp_worker(built).run_once() == 1
    [received] = smtp_server.mailbox.messages
    [part] = list(received.iter_attachments())
    assert part.get_filename() == ATTACHMENT_NAME
    assert part.get_content() == owners_download(built, certificate_id)
    assert "Bhaya" not in str(received["Subject"])
