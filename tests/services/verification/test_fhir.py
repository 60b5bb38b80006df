"""Signed DDCC:VS FHIR bundles: our own (valid, tampered, revoked with the certificate), a
trusted foreign issuer's, unknown keys, and every malformed signature as a clear answer."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwk

from certdist.domain.requests import CertificationRequest
from certdist.errors import CertificateRevoked, InvalidInput, PayloadTooLarge
from certdist.formats.fhir import FhirDocumentIssuer, canonical
from certdist.services.access.tokens import StaticKeys
from certdist.services.distribution.wallet import shc_jwks
from certdist.services.verification import (
    FormatCheckers,
    Status,
    Verifier,
    check_fhir,
)
from certdist.signing.contexts import ContextLoader
from certdist.signing.jose import b64url, es256_sign
from certdist.signing.keys import KeyUse
from certdist.signing.trust import TrustStore
from certdist.wiring import Services
from tests.support.issuing import issue_signed
from tests.support.request_bodies import vaccination_request_body
from tests.support.wallet_samples import bundle, key_store

FOREIGN = "https://other-certdist.example"


def our_bundle(services: Services, code: str = "BEN0001") -> dict[str, Any]:
    return services.distribution.wallet.issuers.fhir.document(
        services.distribution.certificates.bundle(code)
    )


def text_of(document: dict[str, Any]) -> str:
    # As `certdist export --format fhir` writes it: UTF-8, names as they are.
    return json.dumps(document, ensure_ascii=False)


def resign(document: dict[str, Any], key: ec.EllipticCurvePrivateKey, header: Any) -> None:
    """Sign ``document`` again with any header, as a signer of our format would."""
    header_part = b64url(json.dumps(header).encode())
    signing_input = f"{header_part}.{b64url(canonical(document))}".encode("ascii")
    jws = f"{header_part}..{b64url(es256_sign(key, signing_input))}"
    document["signature"]["data"] = base64.b64encode(jws.encode()).decode()


def set_jws(document: dict[str, Any], jws: str) -> dict[str, Any]:
    document["signature"]["data"] = base64.b64encode(jws.encode()).decode()
    return document


def jws_of(document: dict[str, Any]) -> str:
    return base64.b64decode(document["signature"]["data"]).decode()


# --- our own bundles ------------------------------------------------------------------------


def test_our_bundle_verifies(services: Services) -> None:
    issue_signed(services)
    document = our_bundle(services)
    for data in (text_of(document), text_of(document).encode(), json.dumps(document, indent=2)):
        outcome = services.verifier.check(data)
        assert (outcome.status, outcome.code) == (Status.VALID, "valid")
    view = services.verifier.verify(text_of(document))
    assert view.as_json() == {
        "format": "fhir",
        "kind": "vaccination",
        "issuer": services.settings.public_url,
        "name": "Bhaya Mitra",
        "date_of_birth": "1994-11-30",
        "vaccine": "COVID-19 vaccine, non-replicating viral vector",
        "dose": 1,
        "total_doses": 2,
        "date": "2021-05-02",
    }


def test_the_view_shows_the_latest_dose(services: Services) -> None:
    issue_signed(services, dose=1)
    issue_signed(services, dose=2)
    document = our_bundle(services)
    assert [e["resource"]["resourceType"] for e in document["entry"]].count("Immunization") == 2
    view = services.verifier.verify(text_of(document))
    assert (view.dose, view.total_doses) == (2, 2)


def test_a_name_in_any_script_verifies(services: Services) -> None:
    issue_signed(services, name="भया मित्र")
    assert services.verifier.verify(text_of(our_bundle(services))).name == "भया मित्र"


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["entry"][1]["resource"]["name"][0].update(family="Mitre"),
        lambda d: d["entry"][1]["resource"].update(birthDate="1990-11-30"),
        lambda d: d["entry"][2]["resource"]["protocolApplied"][0].update(doseNumberPositiveInt=2),
        lambda d: d["identifier"].update(value="another-certificate"),
    ],
)
def test_a_tampered_bundle_is_invalid(services: Services, change: Any) -> None:
    issue_signed(services)
    document = our_bundle(services)
    change(document)
    outcome = services.verifier.check(text_of(document))
    assert (outcome.status, outcome.code) == (Status.INVALID, "signature")
    assert outcome.reason == "the bundle signature does not match its content"
    assert outcome.certificate is None  # nothing of a changed document is shown


def test_a_tampered_letter_in_the_text_is_invalid(services: Services) -> None:
    issue_signed(services)
    text = text_of(our_bundle(services)).replace("Bhaya", "Bhaja")
    assert services.verifier.check(text).code == "signature"


# --- our own bundles: revocation ------------------------------------------------------------


def test_our_bundle_is_revoked_with_its_certificate(services: Services) -> None:
    issue_signed(services)
    text = text_of(our_bundle(services))
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    outcome = services.verifier.check(text)
    assert (outcome.status, outcome.code) == (Status.REVOKED, "revoked")
    assert outcome.reason == "the issuer revoked this certificate"
    assert outcome.certificate is not None
    assert outcome.certificate.name == "Bhaya Mitra"
    with pytest.raises(CertificateRevoked):
        services.verifier.verify(text)


def test_a_corrected_certificate_revokes_the_old_bundle(services: Services) -> None:
    issue_signed(services)
    old = text_of(our_bundle(services))
    body = vaccination_request_body(name="Bhaya Mitra Kumar")
    services.issuance.certificates.correct([CertificationRequest.model_validate(body)])
    outcome = services.verifier.check(old)
    assert (outcome.status, outcome.code) == (Status.REVOKED, "revoked")
    assert "corrected" in outcome.reason
    new = text_of(our_bundle(services))
    assert services.verifier.verify(new).name == "Bhaya Mitra Kumar"


def test_another_revoked_certificate_leaves_our_bundle_valid(services: Services) -> None:
    issue_signed(services, "BEN0001")
    issue_signed(services, "BEN0002", mobile="9000000002")
    services.issuance.certificates.revoke("BEN0002", None, reason="issued in error")
    assert services.verifier.check(text_of(our_bundle(services))).status is Status.VALID


# --- keys: unknown, foreign issuers -----------------------------------------------------------


@pytest.fixture
def foreign(tmp_path: Path) -> FhirDocumentIssuer:
    """Another certdist deployment's bundle issuer (its own SHC key)."""
    key = key_store(tmp_path / "foreign").active(KeyUse.SHC)
    return FhirDocumentIssuer(
        issuer=FOREIGN, country="IN", icd11_codes={"Covishield": "XM9QW8"}, key=key
    )


def trusting(services: Services, tmp_path: Path) -> Verifier:
    """A verifier that trusts the foreign deployment's SHC keys (as a configured issuer)."""
    keyset = jwk.JWKSet.from_json(json.dumps(shc_jwks(key_store(tmp_path / "foreign"))))
    return Verifier(
        TrustStore(
            services.keys,
            own_shc_issuer=services.settings.public_url,
            shc_issuers={FOREIGN: StaticKeys(keyset)},
        ),
        services.database.certificates(),
        services.clock,
        ContextLoader(),
        FormatCheckers(fhir=check_fhir),
    )


def test_a_foreign_bundle_is_unknown_until_its_issuer_is_trusted(
    services: Services, foreign: FhirDocumentIssuer, tmp_path: Path
) -> None:
    document = foreign.document(bundle(2))
    assert services.verifier.check(text_of(document)).code == "unknown-key"
    view = trusting(services, tmp_path).verify(text_of(document))
    assert (view.format, view.issuer, view.name, view.dose) == ("fhir", FOREIGN, "Bhaya Mitra", 2)


def test_a_foreign_bundle_naming_another_issuer_is_unknown(
    services: Services, foreign: FhirDocumentIssuer, tmp_path: Path
) -> None:
    # Our own issuer has no key with the foreign kid: the signer's name cannot borrow trust.
    document = foreign.document(bundle(2))
    document["signature"]["who"]["identifier"]["value"] = services.settings.public_url
    assert trusting(services, tmp_path).check(text_of(document)).code == "unknown-key"


def test_a_foreign_bundle_is_never_checked_against_our_records(
    services: Services, foreign: FhirDocumentIssuer, tmp_path: Path
) -> None:
    # The foreign bundle's identifier may equal an id of ours: our revocations don't apply.
    issue_signed(services)
    document = foreign.document(bundle(1))
    document["identifier"]["value"] = services.distribution.certificates.bundle(
        "BEN0001"
    ).latest.certificate_id
    resign(document, foreign._key, {"alg": "ES256", "kid": foreign.kid})
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    assert trusting(services, tmp_path).check(text_of(document)).status is Status.VALID


def test_an_unknown_kid_is_unknown_key(services: Services) -> None:
    issue_signed(services)
    document = our_bundle(services)
    _, _, signature = jws_of(document).split(".")
    header = b64url(json.dumps({"alg": "ES256", "kid": "not-a-key-of-ours"}).encode())
    outcome = services.verifier.check(text_of(set_jws(document, f"{header}..{signature}")))
    assert (outcome.status, outcome.code) == (Status.INVALID, "unknown-key")


def test_a_signature_without_a_signer_is_invalid(services: Services) -> None:
    issue_signed(services)
    document = our_bundle(services)
    del document["signature"]["who"]
    outcome = services.verifier.check(text_of(document))
    assert (outcome.status, outcome.code) == (Status.INVALID, "malformed")
    assert "names no signer" in outcome.reason


def test_a_signed_bundle_without_an_immunization_is_invalid(
    services: Services, foreign: FhirDocumentIssuer, tmp_path: Path
) -> None:
    document = foreign.document(bundle(1))
    document["entry"] = [
        e for e in document["entry"] if e["resource"]["resourceType"] != "Immunization"
    ]
    resign(document, foreign._key, {"alg": "ES256", "kid": foreign.kid})
    outcome = trusting(services, tmp_path).check(text_of(document))
    assert (outcome.status, outcome.code) == (Status.INVALID, "malformed")
    assert outcome.reason.startswith("schema:")


def test_without_a_checker_fhir_is_unsupported(services: Services) -> None:
    issue_signed(services)
    bare = Verifier(
        services.verifier.trust, services.database.certificates(), services.clock, ContextLoader()
    )
    assert bare.check(text_of(our_bundle(services))).code == "unsupported"


# --- malformed input: a clear answer, never a crash -----------------------------------------


def _header(header: Any) -> str:
    return b64url(json.dumps(header).encode())


MALFORMED_SIGNATURES = {
    "signature is not an object": lambda d, jws: d.update(signature="signed"),
    "no sigFormat": lambda d, jws: d["signature"].pop("sigFormat"),
    "another sigFormat": lambda d, jws: d["signature"].update(sigFormat="application/pkcs7"),
    "data not base64": lambda d, jws: d["signature"].update(data="not base64!"),
    "data not text": lambda d, jws: d["signature"].update(data={"jws": jws}),
    "data no JWS": lambda d, jws: set_jws(d, "just text"),
    "data not ASCII": lambda d, jws: d["signature"].update(
        data=base64.b64encode("é.é.é".encode()).decode()
    ),
    "attached payload": lambda d, jws: set_jws(d, jws.replace("..", ".e30.")),
    "four parts": lambda d, jws: set_jws(d, jws + ".x"),
    "header not JSON": lambda d, jws: set_jws(d, b64url(b"{not json") + ".." + jws.split(".")[2]),
    "header not an object": lambda d, jws: set_jws(d, _header([1]) + ".." + jws.split(".")[2]),
    "header nested deeply": lambda d, jws: set_jws(
        d, b64url(b"[" * 5000 + b"]" * 5000) + ".." + jws.split(".")[2]
    ),
    "alg none": lambda d, jws: set_jws(d, _header({"alg": "none", "kid": "k"}) + ".."),
    "alg RS256": lambda d, jws: set_jws(
        d, _header({"alg": "RS256", "kid": "k"}) + ".." + jws.split(".")[2]
    ),
    "no kid": lambda d, jws: set_jws(d, _header({"alg": "ES256"}) + ".." + jws.split(".")[2]),
    "kid not text": lambda d, jws: set_jws(
        d, _header({"alg": "ES256", "kid": 7}) + ".." + jws.split(".")[2]
    ),
    "short signature": lambda d, jws: set_jws(d, jws[:-10]),
    "signature not base64url": lambda d, jws: set_jws(d, jws + "+/"),
    "lone surrogate in a name": lambda d, jws: d["entry"][1]["resource"].update(
        name=[{"text": "\ud800"}]
    ),
}


@pytest.mark.parametrize("problem", MALFORMED_SIGNATURES)
def test_a_malformed_signature_is_invalid(services: Services, problem: str) -> None:
    issue_signed(services)
    document = our_bundle(services)
    MALFORMED_SIGNATURES[problem](document, jws_of(document))
    # ensure_ascii: a lone surrogate can only travel as a JSON escape.
    outcome = services.verifier.check(json.dumps(document))
    # A well-formed JWS whose signature bytes are wrong is a signature mismatch; the rest
    # cannot be decoded at all.
    expected = "signature" if problem == "short signature" else "malformed"
    assert (outcome.status, outcome.code) == (Status.INVALID, expected)
    assert outcome.certificate is None


@pytest.mark.parametrize(
    "data",
    [
        '{"resourceType": "Bundle", "type": "document", "entry": []}',
        '{"resourceType": "Bundle", "signature": {}, "entry": [' + "[" * 5000 + "]" * 5000 + "]}",
        b'{"resourceType": "Bundle", "signature": {}, "x": "\xff"}',
    ],
    ids=["unsigned", "nested past the limit", "not UTF-8"],
)
def test_unreadable_bundles_are_invalid_input(services: Services, data: str | bytes) -> None:
    with pytest.raises(InvalidInput):
        services.verifier.check(data)


def test_bundles_nested_about_the_limit_are_a_clear_answer(services: Services) -> None:
    issue_signed(services)
    text = text_of(our_bundle(services))
    # Around Python's recursion limit: the detector may parse what a deeper parse or the
    # signed form's serialisation cannot. Each is unreadable input or a malformed bundle.
    for depth in range(880, 1010, 6):
        nested = text[:-1] + ', "extension": ' + "[" * depth + "]" * depth + "}"
        try:
            outcome = services.verifier.check(nested)
        except InvalidInput:
            continue
        # Changed content that still has a signed form is a signature mismatch.
        assert outcome.status is Status.INVALID
        assert outcome.code in ("malformed", "signature")


def test_a_huge_bundle_is_too_large(services: Services) -> None:
    issue_signed(services)
    document = our_bundle(services)
    document["entry"][1]["resource"]["note"] = "x" * (64 * 1024)
    with pytest.raises(PayloadTooLarge):
        services.verifier.check(text_of(document))


def test_a_copy_with_another_key_order_verifies(services: Services) -> None:
    # The verifier works on the parsed text: a copy with other key order still verifies.
    issue_signed(services)
    document = our_bundle(services)
    reordered = dict(reversed(list(copy.deepcopy(document).items())))
    assert services.verifier.check(json.dumps(reordered)).status is Status.VALID
