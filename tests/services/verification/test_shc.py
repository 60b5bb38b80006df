"""SMART Health Cards: the SMART examples (00 and 01 valid, 03 expired and revoked), foreign
issuers, and our own cards in every form."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from certdist.domain.requests import CertificationRequest
from certdist.errors import CertificateExpired, CertificateRevoked
from certdist.formats.shc import VerifiedShc, card_file, qr_text, sign_card
from certdist.services.common.clock import FixedClock
from certdist.services.verification import Status
from certdist.services.verification.shc import shc_view
from certdist.signing.jose import b64url
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
        # CVX 210 in words; an unknown code stays "CVX <code>" (example 00 above: CVX 229).
        assert view.vaccine == "AstraZeneca COVID-19 vaccine (ChAdOx1-S: Vaxzevria, Covishield)"
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


# --- malformed, signature, not yet valid ---------------------------------------------------


def _our_card_with(services: Services, change: Callable[[dict[str, Any]], None]) -> str:
    """Our card for BEN0001 with ``change`` made to its payload, signed again with our key."""
    issuer = services.distribution.wallet.issuers.shc
    payload = issuer.payload(services.distribution.certificates.bundle("BEN0001"))
    change(payload)
    return sign_card(payload, issuer.key)


@pytest.mark.parametrize(
    ("ahead", "code"),
    [(timedelta(days=2), "not-yet-valid"), (timedelta(minutes=3), "valid")],
)
def test_a_card_issued_later_than_the_clock_skew_is_not_yet_valid(
    services: Services, ahead: timedelta, code: str
) -> None:
    issue_signed(services)
    starts = services.clock.now() + ahead
    card = _our_card_with(services, lambda p: p.update(nbf=int(starts.timestamp())))
    outcome = services.verifier.check(card)
    assert outcome.code == code, outcome
    if code == "not-yet-valid":
        assert outcome.status is Status.INVALID
        assert outcome.valid_from == starts.date().isoformat()


@pytest.mark.parametrize(
    "damage",
    [
        "file with two parts",
        "header not json",
        "payload not deflated",
        "no kid",
        "not a card",
        "type not a list",
        "nbf out of range",
    ],
)
def test_a_card_that_cannot_be_decoded_is_malformed(services: Services, damage: str) -> None:
    issue_signed(services)
    card = our_card(services)
    header, payload, signature = card.split(".")
    broken = {
        "file with two parts": json.dumps({"verifiableCredential": [f"{header}.{payload}"]}),
        "header not json": f"{b64url(b'not json')}.{payload}.{signature}",
        "payload not deflated": f"{header}.{b64url(b'{}')}.{signature}",
        "no kid": f"{b64url(json.dumps({'alg': 'ES256', 'zip': 'DEF'}).encode())}"
        f".{payload}.{signature}",
        "not a card": _our_card_with(services, lambda p: p["vc"].update(type=["a card"])),
        "type not a list": _our_card_with(services, lambda p: p["vc"].update(type=1)),
        "nbf out of range": _our_card_with(services, lambda p: p.update(nbf=1e300)),
    }[damage]
    outcome = services.verifier.check(broken)
    assert (outcome.status, outcome.code, outcome.certificate) == (
        Status.INVALID,
        "malformed",
        None,
    ), outcome


def test_a_changed_card_is_a_signature_mismatch(services: Services) -> None:
    issue_signed(services)
    header, _, signature = our_card(services).split(".")
    _, other_payload, _ = _our_card_with(services, lambda p: p.update(nbf=1)).split(".")
    outcome = services.verifier.check(f"{header}.{other_payload}.{signature}")
    assert (outcome.status, outcome.code) == (Status.INVALID, "signature")
