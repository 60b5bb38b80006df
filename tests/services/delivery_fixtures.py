"""The whole service over a real database with a fixed clock, for the outbox, notification
and sharing tests (import the fixtures into a test module to use them)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from certdist.config import MailSettings, Settings
from certdist.domain.requests import CertificationRequest
from certdist.services.common.clock import FixedClock
from certdist.services.issuance.ids import SequentialCertificateIds
from certdist.services.messaging.mail import RecordingMailSender
from certdist.services.messaging.outbox import OutboxWorker, build_worker
from certdist.services.messaging.sms import RecordingSms
from certdist.wiring import Services, build_services
from tests.factories import vaccination_request_body

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MOBILE = "+919880414889"


def delivery_settings(tmp_path: Path, database_url: str, **mail: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        log_json=False,
        public_url="https://certs.example",
        mail=MailSettings.model_validate(mail),
    )


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
def services(tmp_path: Path, migrated_database_url: str, clock: FixedClock) -> Iterator[Services]:
    built = build_services(
        delivery_settings(tmp_path, migrated_database_url),
        clock=clock,
        ids=SequentialCertificateIds(),
    )
    yield built
    built.close()


@pytest.fixture
def mail() -> RecordingMailSender:
    return RecordingMailSender()


@pytest.fixture
def sms() -> RecordingSms:
    return RecordingSms()


@pytest.fixture
def worker(
    services: Services, mail: RecordingMailSender, sms: RecordingSms, clock: FixedClock
) -> OutboxWorker:
    return build_worker(services.settings.mail, services.database, mail, sms, clock)
