"""SMART Health Cards: the SMART examples (00 and 01 valid, 03 expired and revoked), foreign
issuers, and our own cards in every form."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from certdist.domain.requests import CertificationRequest
from certdist.errors import CertificateExpired, CertificateRevoked
from certdist.formats.shc import VerifiedShc, card_file, qr_text
from certdist.services.common.clock import FixedClock
from certdist.services.verification import Status
from certdist.services.verification.shc import shc_view
from certdist.wiring import Services
from tests.support.issuing import issue_signed
from tests.support.request_bodies import vaccination_request_body
from tests.support.services import ServicesFactory
from tests.support.verifier_samples import (
    SHC_ISSUER,
    png_of,
    shc_settings,
)

SHC_FORMS = ("d-jws.txt", "e-file.smart-health-card", "f-qr-code-numeric-value-0.txt")


@pytest.mark.parametrize("example", ["00", "01"])
@pytest.mark.parametrize("form", SHC_FORMS)
def test_smart_examples_are_valid(
    make_services: ServicesFactory, testdata: Path, example: str, form: str
) -> None:
    services = make_services(verifier=shc_settings(testdata, with_crl=True))
    data = (testdata / "shc" / "examples" / f"example-{example}-{form}").read_bytes()
    view = services.verifier.verify(data)
    assert (view.format, view.issuer, view.name) == (
        "smart-health-card",
        SHC_ISSUER,
        "John B. Anyperson",
    )
    assert (view.date_of_birth, view.vaccine) == ("1951-01-20", "CVX 229")


def test_smart_example_03_is_expired_and_revoked(
    make_services: ServicesFactory, testdata: Path
) -> None:
    data = (testdata / "shc" / "examples" / "example-03-d-jws.txt").read_bytes()
    today = make_services(verifier=shc_settings(testdata, with_crl=True))
    with pytest.raises(CertificateExpired):
        today.verifier.verify(data)
    before_expiry = FixedClock(datetime(2024, 1, 1, tzinfo=UTC))
    revoked = make_services(verifier=shc_settings(testdata, with_crl=True), clock=before_expiry)
    outcome = revoked.verifier.check(data)
    assert (outcome.status, outcome.code) == (Status.REVOKED, "revoked")
    assert outcome.certificate is not None
    assert outcome.certificate.name == "Johnny Revoked"
    without_crl = make_services(
        verifier=shc_settings(testdata, with_crl=False), clock=before_expiry
    )
    assert without_crl.verifier.check(data).status is Status.VALID


def test_an_unconfigured_card_issuer_is_unknown(services: Services, testdata: Path) -> None:
    data = (testdata / "shc" / "examples" / "example-00-d-jws.txt").read_bytes()
    assert services.verifier.check(data).code == "unknown-key"


def test_our_own_card_verifies_in_every_form(services: Services) -> None:
    issue_signed(services)
    jws = services.distribution.wallet.issuers.shc.jws(
        services.distribution.certificates.bundle("BEN0001")
    )
    for data in (jws, qr_text(jws), card_file([jws]), png_of(qr_text(jws).encode())):
        view = services.verifier.verify(data)
        assert (view.format, view.name, view.issuer) == (
            "smart-health-card",
            "Bhaya Mitra",
            services.settings.public_url,
        )
    tampered = jws[:-4] + ("AAAA" if not jws.endswith("AAAA") else "BBBB")
    assert services.verifier.check(tampered).code == "signature"


# --- our own cards: revocation ------------------------------------------------------------------


def our_card(services: Services, code: str = "BEN0001") -> str:
    return services.distribution.wallet.issuers.shc.jws(
        services.distribution.certificates.bundle(code)
    )


def test_our_card_is_revoked_with_its_certificate(services: Services) -> None:
    issue_signed(services)
    jws = our_card(services)
    assert services.verifier.check(jws).status is Status.VALID
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    for data in (jws, qr_text(jws), png_of(qr_text(jws).encode())):
        outcome = services.verifier.check(data)
        assert (outcome.status, outcome.code) == (Status.REVOKED, "revoked")
        assert outcome.reason == "the issuer revoked this certificate"
        assert outcome.certificate is not None
        assert outcome.certificate.name == "Bhaya Mitra"
    with pytest.raises(CertificateRevoked):
        services.verifier.verify(jws)


def test_a_corrected_certificate_revokes_the_old_card(services: Services) -> None:
    issue_signed(services)
    old = our_card(services)
    body = vaccination_request_body(name="Bhaya Mitra Kumar")
    services.issuance.certificates.correct([CertificationRequest.model_validate(body)])
    outcome = services.verifier.check(old)
    assert (outcome.status, outcome.code) == (Status.REVOKED, "revoked")
    assert "corrected" in outcome.reason
    new = our_card(services)
    assert services.verifier.check(new).status is Status.VALID
    assert services.verifier.verify(new).name == "Bhaya Mitra Kumar"


def test_another_revoked_certificate_leaves_our_card_valid(services: Services) -> None:
    issue_signed(services, "BEN0001")
    issue_signed(services, "BEN0002", mobile="9000000002")
    services.issuance.certificates.revoke("BEN0002", None, reason="issued in error")
    assert services.verifier.check(our_card(services)).status is Status.VALID


@pytest.mark.parametrize(
    "odd",
    [
        {"protocolApplied": {"doseNumberPositiveInt": 1}, "vaccineCode": "210"},
        {"protocolApplied": "1", "vaccineCode": {"coding": "210"}},
        {"protocolApplied": [7], "vaccineCode": {"coding": [None]}},
    ],
)
def test_a_trusted_card_of_odd_shape_gets_a_view_not_a_crash(odd: dict[str, object]) -> None:
    # A trusted issuer's signature says who made the card, not that its FHIR is well formed.
    immunization = {"resourceType": "Immunization", "occurrenceDateTime": "2021-01-01", **odd}
    payload = {"vc": {"credentialSubject": {"fhirBundle": {"entry": [
        {"resource": {"resourceType": "Patient", "name": [{"family": "Anyone"}]}},
        {"resource": immunization},
    ]}}}}  # fmt: skip
    card = VerifiedShc(payload, "https://issuer.example", "kid", None, None, None)
    view = shc_view(card)
    assert view.kind == "vaccination"
    assert view.name == "Anyone"
    assert view.dose == 1
    assert view.vaccine is None
