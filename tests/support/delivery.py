"""The whole service over a real database with a fixed clock, for the tests of what it
delivers: notifications, the outbox, share links and shared mail.

A pytest plugin (``tests/conftest.py``). A folder (or module) whose tests want that service
overrides ``services`` with it, as ``tests/services/messaging/conftest.py`` and
``tests/services/sharing/conftest.py`` do::

    @pytest.fixture
    def services(make_delivery_services: DeliveryServicesFactory) -> Services:
        return make_delivery_services()

The fixtures:

* ``clock`` — a :class:`FixedClock` at :data:`T0` (a module may override it with its own);
* ``make_delivery_services(**mail)`` — services with a public URL (links in messages), the
  mail settings ``mail`` (fields of ``MailSettings``), ``clock`` and sequential certificate
  ids, on both database backends (``make_services``);
* ``mail``, ``sms`` — senders that record what they were given;
* ``worker`` — the outbox worker of ``services`` over those two senders.

:func:`smtp_worker` is a worker that sends over SMTP (``smtp_server`` of
``tests/support/smtp.py``) instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from certdist.config import MailSettings
from certdist.domain.requests import CertificationRequest
from certdist.services.common.clock import FixedClock
from certdist.services.issuance.ids import SequentialCertificateIds
from certdist.services.messaging.mail import RecordingMailSender, SmtpMailSender
from certdist.services.messaging.outbox import OutboxWorker, build_worker
from certdist.services.messaging.sms import RecordingSms
from certdist.wiring import Services
from tests.support.request_bodies import vaccination_request_body
from tests.support.services import ServicesFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MOBILE = "+919880414889"
PUBLIC_URL = "https://certs.example"

DeliveryServicesFactory = Callable[..., Services]


def request(
    code: str, *, dose: int = 1, contacts: tuple[str, ...] = (), **meta: Any
) -> CertificationRequest:
    body = vaccination_request_body(code, dose=dose, mobile=MOBILE)
    body["recipient"]["contact"] = list(contacts) or [f"tel:{MOBILE}"]
    if meta:
        body["meta"] = meta
    return CertificationRequest.model_validate(body)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def make_delivery_services(
    make_services: ServicesFactory, clock: FixedClock
) -> DeliveryServicesFactory:
    def make(**mail: Any) -> Services:
        return make_services(
            public_url=PUBLIC_URL,
            mail=MailSettings.model_validate(mail),
            clock=clock,
            ids=SequentialCertificateIds(),
        )

    return make


@pytest.fixture
def mail() -> RecordingMailSender:
    return RecordingMailSender()


@pytest.fixture
def sms() -> RecordingSms:
    return RecordingSms()


@pytest.fixture
def worker(services: Services, mail: RecordingMailSender, sms: RecordingSms) -> OutboxWorker:
    return build_worker(services.settings.mail, services.database, mail, sms, services.clock)


def smtp_worker(services: Services) -> OutboxWorker:
    """An outbox worker of ``services`` that sends mail over SMTP, as its settings say."""
    mail_settings = services.settings.mail
    return build_worker(
        mail_settings,
        services.database,
        SmtpMailSender(mail_settings),
        RecordingSms(),
        services.clock,
    )
