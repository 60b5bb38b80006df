"""The partner service: both identifiers must match, misses are indistinguishable, limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from certdist.config import PartnerSettings
from certdist.domain.roles import Principal
from certdist.errors import InvalidInput, NotFound, RateLimited
from certdist.services.common.clock import FixedClock
from certdist.services.integrations.partner import (
    CHANNEL_CERTIFICATES,
    CHANNEL_PDF,
    NOT_FOUND_MESSAGE,
)
from certdist.signing.ldproof import verify_credential
from certdist.wiring import Services
from tests.support.issuing import certify
from tests.support.request_bodies import lab_test_request_body, vaccination_request_body
from tests.support.services import ServicesFactory

NOW = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
MOBILE = "9880414889"
APP = Principal(subject="s-1", username="arogya-app", roles=frozenset({"partner"}), issuer="iss")
OTHER_APP = Principal(
    subject="s-2", username="other-app", roles=frozenset({"partner"}), issuer="iss"
)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def services(make_services: ServicesFactory, clock: FixedClock) -> Services:
    limits = PartnerSettings(requests_per_window=5, misses_per_window=2, window_seconds=60)
    return make_services(partner=limits, clock=clock)


def _issue(services: Services, clock: FixedClock, *bodies: dict[str, Any]) -> list[str]:
    ids = []
    for body in bodies:
        [issued] = certify(services, body)
        ids.append(issued.certificate_id)
        clock.advance(timedelta(seconds=1))
    return ids


def test_matching_mobile_and_id_gets_every_live_certificate_latest_first(
    services: Services, clock: FixedClock
) -> None:
    first, second, lab = _issue(
        services,
        clock,
        vaccination_request_body("BEN1", dose=1),
        vaccination_request_body("BEN1", dose=2),
        lab_test_request_body("BEN1"),
    )
    found = services.integrations.partner.certificates(APP, "+91 98804 14889", "BEN1")
    assert [c.certificate_id for c in found] == [second, first, lab]
    for certificate in found:
        assert certificate.signed_credential == services.issuance.certificates.signed_credential(
            certificate.certificate_id
        )
        verify_credential(json.loads(certificate.signed_credential), services.keys.public_key)
    services.database.audit().flush()
    downloads = services.database.audit().for_beneficiary("BEN1")
    assert sorted(d.certificate_id for d in downloads) == sorted([first, second, lab])
    assert {(d.actor, d.permission, d.format) for d in downloads} == {
        ("arogya-app", "partner", "json")
    }


def test_revoked_certificates_are_never_served(services: Services, clock: FixedClock) -> None:
    _issue(services, clock, vaccination_request_body("BEN1"))
    services.issuance.certificates.revoke("BEN1", None, reason="error")
    with pytest.raises(NotFound):
        services.integrations.partner.certificates(APP, MOBILE, "BEN1")


def test_a_wrong_mobile_reads_exactly_like_an_unknown_beneficiary(
    services: Services, clock: FixedClock
) -> None:
    _issue(services, clock, vaccination_request_body("BEN1", mobile=MOBILE))
    errors = []
    for mobile, beneficiary in [("9880414880", "BEN1"), (MOBILE, "BEN2"), (MOBILE, "BEN1X")]:
        with pytest.raises(NotFound) as caught:
            services.integrations.partner.certificates(
                OTHER_APP if beneficiary == "BEN1X" else APP, mobile, beneficiary
            )
        errors.append((type(caught.value), str(caught.value)))
    assert errors == [(NotFound, NOT_FOUND_MESSAGE)] * 3


def test_pdf_needs_the_same_match(services: Services, clock: FixedClock) -> None:
    _issue(services, clock, vaccination_request_body("BEN1", dose=1))
    artifact = services.integrations.partner.pdf(APP, MOBILE, "BEN1")
    assert artifact.media_type == "application/pdf"
    assert artifact.content.startswith(b"%PDF-")
    with pytest.raises(NotFound, match=NOT_FOUND_MESSAGE):
        services.integrations.partner.pdf(APP, "9880414880", "BEN1")


def test_an_invalid_mobile_is_invalid_input(services: Services) -> None:
    with pytest.raises(InvalidInput):
        services.integrations.partner.certificates(APP, "12", "BEN1")


def test_each_partner_has_its_own_call_budget(services: Services, clock: FixedClock) -> None:
    _issue(services, clock, vaccination_request_body("BEN1"))
    for _ in range(5):
        services.integrations.partner.certificates(APP, MOBILE, "BEN1")
    with pytest.raises(RateLimited) as caught:
        services.integrations.partner.certificates(APP, MOBILE, "BEN1")
    assert 1 <= caught.value.retry_after <= 61
    services.integrations.partner.certificates(OTHER_APP, MOBILE, "BEN1")


def test_misses_have_a_smaller_budget_that_blocks_even_correct_lookups(
    services: Services, clock: FixedClock
) -> None:
    _issue(services, clock, vaccination_request_body("BEN1"))
    for beneficiary in ("BEN2", "BEN3"):
        with pytest.raises(NotFound):
            services.integrations.partner.certificates(APP, MOBILE, beneficiary)
    with pytest.raises(RateLimited):
        services.integrations.partner.certificates(APP, MOBILE, "BEN1")


def test_every_call_is_audited_without_personal_data(services: Services, clock: FixedClock) -> None:
    [certificate_id] = _issue(services, clock, vaccination_request_body("BEN1"))
    services.integrations.partner.certificates(APP, MOBILE, "BEN1")
    with pytest.raises(NotFound):
        services.integrations.partner.pdf(APP, MOBILE, "BEN9")
    events = services.database.integrations().events()
    assert sorted((e.channel, e.outcome, e.certificate_id) for e in events) == [
        (CHANNEL_CERTIFICATES, "delivered", certificate_id),
        (CHANNEL_PDF, "not-found", None),
    ]
    assert {e.actor for e in events} == {"iss|arogya-app"}
    assert all(MOBILE not in str(vars(e)) and "BEN" not in str(vars(e)) for e in events)
