"""DIVOC credentials: every input form, the view, and every outcome (issued, revoked and
corrected through the real issuance service), and the DIVOC vectors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certdist.config import ForeignCredentialKey, VerifierSettings
from certdist.domain.requests import CertificationRequest, TestCertificationRequest
from certdist.errors import CertificateExpired, CertificateRevoked, UnknownKey, VerificationError
from certdist.formats.divoc_qr import encode_payload
from certdist.services.verification import Status
from certdist.signing.keys import KeyStore, KeyUse, SigningKey
from certdist.wiring import Services
from tests.support.issuing import issue_signed
from tests.support.request_bodies import lab_test_request_body, vaccination_request_body
from tests.support.services import ServicesFactory
from tests.support.verifier_samples import jpeg_of, png_of, sign

#: What a verifier may be shown (DESIGN §1): nothing else ever leaves the verifier.
VIEW_FIELDS = {
    "format",
    "kind",
    "issuer",
    "name",
    "date_of_birth",
    "age",
    "vaccine",
    "dose",
    "total_doses",
    "date",
    "test",
    "result",
    "valid_until",
}


# --- DIVOC: every input form --------------------------------------------------------------


INPUT_FORMS: dict[str, Callable[[str], bytes | str]] = {
    "json text": lambda text: text,
    "json bytes": lambda text: text.encode("utf-8"),
    "zip": lambda text: encode_payload(text, form="zip"),
    "zip as divoc-node utf-8": lambda text: encode_payload(text, form="zip-latin1-utf8"),
    "zip as scanner text": lambda text: encode_payload(text).decode("latin-1"),
    "png of the qr": lambda text: png_of(encode_payload(text)),
    "jpeg of the qr": lambda text: jpeg_of(encode_payload(text, form="zip-latin1-utf8")),
}


@pytest.mark.parametrize("form", INPUT_FORMS)
def test_an_issued_certificate_verifies_in_every_form(services: Services, form: str) -> None:
    text = issue_signed(services)
    view = services.verifier.verify(INPUT_FORMS[form](text))
    assert view.format == "divoc"
    assert view.kind == "vaccination"
    assert view.name == "Bhaya Mitra"
    assert view.age is not None
    assert (view.vaccine, view.dose, view.total_doses) == ("Covishield", 1, 2)
    assert view.date == "2021-05-02"
    assert view.issuer == services.settings.credential_issuer
    outcome = services.verifier.check(INPUT_FORMS[form](text))
    assert (outcome.status, outcome.code, outcome.certificate) == (Status.VALID, "valid", view)


def test_the_view_holds_no_phone_identity_or_address(services: Services) -> None:
    text = issue_signed(services, mobile="9880414889")
    shown = services.verifier.check(text).as_json()
    assert set(shown["certificate"]) <= VIEW_FIELDS
    dumped = json.dumps(shown)
    for private in ("9880414889", "2342343334", "Koramangala", "560034", "BEN0001"):
        assert private not in dumped


def test_a_lab_test_certificate(services: Services) -> None:
    request = TestCertificationRequest.model_validate(lab_test_request_body())
    issued = services.issuance.certificates.certify([request])
    view = services.verifier.verify(
        services.issuance.certificates.signed_credential(issued[0].certificate_id)
    )
    assert (view.kind, view.test, view.result) == ("test", "CoviSelf", "Negative")
    assert view.date == "2021-06-01T08:00Z"


def test_a_v2_credential_shows_the_date_of_birth(services: Services) -> None:
    credential = json.loads(issue_signed(services))
    del credential["proof"]
    credential["@context"][1] = "https://cowin.gov.in/credentials/vaccination/v2"
    credential["credentialSubject"]["dob"] = "1994-11-30"
    view = services.verifier.verify(sign(credential, services.keys.active(KeyUse.CREDENTIAL)))
    assert view.date_of_birth == "1994-11-30"


# --- DIVOC: invalid, expired, revoked -------------------------------------------------------


def test_a_tampered_certificate_is_invalid(services: Services) -> None:
    text = issue_signed(services)
    tampered = text.replace("Bhaya Mitra", "Someone Else")
    with pytest.raises(VerificationError) as caught:
        services.verifier.verify(tampered)
    assert type(caught.value) is VerificationError
    outcome = services.verifier.check(encode_payload(tampered))
    assert (outcome.status, outcome.code, outcome.certificate) == (
        Status.INVALID,
        "signature",
        None,
    )


def test_a_certificate_signed_by_another_key(services: Services, tmp_path: Path) -> None:
    stranger = KeyStore.init_directory(tmp_path / "stranger", now=datetime.now(UTC))
    credential = json.loads(issue_signed(services))
    del credential["proof"]
    unknown = sign(credential, stranger.active(KeyUse.CREDENTIAL))
    with pytest.raises(UnknownKey):
        services.verifier.verify(unknown)
    assert services.verifier.check(unknown).code == "unknown-key"
    # The same verificationMethod as ours, but another key: the signature does not match.
    impostor = stranger.active(KeyUse.CREDENTIAL)
    ours = services.keys.active(KeyUse.CREDENTIAL).id
    forged = sign(
        credential,
        SigningKey(ours, impostor.use, impostor.algorithm, impostor.private_key, True, None),
    )
    outcome = services.verifier.check(forged)
    assert (outcome.status, outcome.code) == (Status.INVALID, "signature")


def test_a_retired_key_still_verifies_what_it_signed(services: Services) -> None:
    text = issue_signed(services)
    services.keys.rotate(KeyUse.CREDENTIAL, services.clock.now())
    assert services.verifier.check(text).status is Status.VALID


def test_revoked_certificates_are_revoked(services: Services) -> None:
    text = issue_signed(services)
    services.issuance.certificates.revoke("BEN0001", [1], reason="issued in error")
    with pytest.raises(CertificateRevoked):
        services.verifier.verify(text)
    outcome = services.verifier.check(png_of(encode_payload(text)))
    assert (outcome.status, outcome.code) == (Status.REVOKED, "revoked")
    assert outcome.reason == "the issuer revoked this certificate"
    assert outcome.certificate is not None
    assert outcome.certificate.name == "Bhaya Mitra"


def test_a_corrected_certificate_replaces_the_old_one(services: Services) -> None:
    old = issue_signed(services)
    body = vaccination_request_body(name="Bhaya Mitra Kumar")
    corrected = services.issuance.certificates.correct([CertificationRequest.model_validate(body)])
    new = services.issuance.certificates.signed_credential(corrected[0].certificate_id)
    outcome = services.verifier.check(old)
    assert outcome.status is Status.REVOKED
    assert "corrected" in outcome.reason
    assert services.verifier.verify(new).name == "Bhaya Mitra Kumar"


def test_effective_until_counts_only_when_configured(make_services: ServicesFactory) -> None:
    lenient = make_services()
    text = issue_signed(lenient)  # effectiveUntil 2022-05-02, long past
    assert lenient.verifier.check(text).status is Status.VALID
    strict = make_services(verifier=VerifierSettings(enforce_effective_until=True))
    with pytest.raises(CertificateExpired):
        strict.verifier.verify(text)
    outcome = strict.verifier.check(text)
    assert (outcome.status, outcome.code) == (Status.INVALID, "expired")
    assert outcome.certificate is not None
    assert outcome.certificate.valid_until == "2022-05-02"


def test_a_w3c_expiration_date_is_always_enforced(services: Services) -> None:
    credential = json.loads(issue_signed(services))
    del credential["proof"]
    credential["expirationDate"] = "2025-01-01T00:00:00Z"
    expired = sign(credential, services.keys.active(KeyUse.CREDENTIAL))
    outcome = services.verifier.check(expired)
    assert (outcome.status, outcome.code) == (Status.INVALID, "expired")
    credential["expirationDate"] = "2999-01-01T00:00:00Z"
    assert (
        services.verifier.check(sign(credential, services.keys.active(KeyUse.CREDENTIAL))).status
        is Status.VALID
    )


# --- DIVOC vectors --------------------------------------------------------------------------


def test_divoc_vectors_with_their_key_configured(
    make_services: ServicesFactory, testdata: Path
) -> None:
    divoc = testdata / "divoc"
    plain = make_services()
    signed = (divoc / "rsa2018-signed.json").read_text()
    assert plain.verifier.check(signed).code == "unknown-key"
    configured = make_services(
        verifier=VerifierSettings(
            credential_keys=[
                ForeignCredentialKey(id="did:india", path=divoc / "rsa2018-public.pem")
            ]
        )
    )
    view = configured.verifier.verify(signed)
    assert (view.name, view.vaccine, view.issuer) == ("Bhaya Mitra", "CoVax", "https://divoc.dev/")
    assert configured.verifier.verify(png_of(encode_payload(signed))) == view
    tampered = configured.verifier.check((divoc / "rsa2018-tampered.json").read_bytes())
    assert (tampered.status, tampered.code) == (Status.INVALID, "signature")


# --- DIVOC: malformed and not yet valid -----------------------------------------------------


def _resigned(services: Services, **fields: object) -> str:
    """Our BEN0001 credential with ``fields`` set, signed again with our key."""
    credential = json.loads(issue_signed(services))
    del credential["proof"]
    credential.update(fields)
    return sign(credential, services.keys.active(KeyUse.CREDENTIAL))


@pytest.mark.parametrize(
    ("field", "ahead", "code"),
    [
        ("issuanceDate", timedelta(days=3), "not-yet-valid"),
        ("issuanceDate", timedelta(minutes=3), "valid"),  # within the clock skew
        ("validFrom", timedelta(hours=1), "not-yet-valid"),
    ],
)
def test_a_credential_valid_from_later_is_not_yet_valid(
    services: Services, field: str, ahead: timedelta, code: str
) -> None:
    starts = services.clock.now() + ahead
    outcome = services.verifier.check(
        _resigned(services, **{field: starts.strftime("%Y-%m-%dT%H:%M:%SZ")})
    )
    assert outcome.code == code, outcome
    if code == "not-yet-valid":
        assert outcome.status is Status.INVALID
        assert outcome.valid_from == starts.date().isoformat()
        # The signature held: the page may show whose certificate it is.
        assert outcome.certificate is not None
        assert outcome.certificate.name == "Bhaya Mitra"


def _with_proof(text: str, **changes: object) -> str:
    credential = json.loads(text)
    credential["proof"].update(changes)
    return json.dumps(credential)


MALFORMED_CREDENTIALS: dict[str, Callable[[str], bytes | str]] = {
    "zip cut short": lambda text: encode_payload(text)[:40],
    "jws not detached": lambda text: _with_proof(text, jws="a.b.c"),
    "jws header not json": lambda text: _with_proof(text, jws="bm90IGpzb24..c2ln"),
    "no proof type": lambda text: _with_proof(text, type=None),
    "a property no context defines": lambda text: json.dumps(
        {**json.loads(text), "undefinedTerm": "x"}
    ),
}


@pytest.mark.parametrize("damage", MALFORMED_CREDENTIALS)
def test_a_credential_that_cannot_be_processed_is_malformed(
    services: Services, damage: str
) -> None:
    outcome = services.verifier.check(MALFORMED_CREDENTIALS[damage](issue_signed(services)))
    assert (outcome.status, outcome.code, outcome.certificate) == (
        Status.INVALID,
        "malformed",
        None,
    ), outcome


def test_a_proof_type_we_do_not_implement_is_unsupported(services: Services) -> None:
    text = _with_proof(issue_signed(services), type="BbsBlsSignature2020")
    assert services.verifier.check(text).code == "unsupported"
