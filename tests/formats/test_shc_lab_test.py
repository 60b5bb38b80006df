"""SMART Health Cards of lab tests: a Patient and an Observation, the #laboratory card type,
signed, verifiable and within the QR limits like a vaccination card."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from certdist.errors import InvalidInput, VerificationError
from certdist.formats.shc import (
    CARD_TYPES,
    LAB_CARD_TYPES,
    MAX_QR_VERSION,
    ShcIssuer,
    qr_matrix_of,
    verify_shc,
)
from certdist.signing.jose import b64url, b64url_decode
from certdist.signing.keys import PublicKey
from tests.support.wallet_samples import NOW, lab_bundle, sample_revocation_id, shc_issuer


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> ShcIssuer:
    return shc_issuer(tmp_path_factory.mktemp("keys"))


def keys_of(issuer: ShcIssuer) -> Any:
    public: PublicKey = issuer.key.public_key  # type: ignore[assignment]
    return lambda iss, kid: [public] if (iss, kid) == (issuer.issuer, issuer.kid) else []


def resources(payload: dict[str, Any]) -> list[dict[str, Any]]:
    bundle = payload["vc"]["credentialSubject"]["fhirBundle"]
    return [entry["resource"] for entry in bundle["entry"]]


def test_a_lab_card_holds_the_patient_and_the_result(issuer: ShcIssuer) -> None:
    record = lab_bundle(testType="RT-PCR", result="Negative")
    evidence = record.credential["evidence"][0]
    payload = issuer.payload(record)
    assert payload["vc"]["type"] == list(LAB_CARD_TYPES)
    assert set(LAB_CARD_TYPES) == {
        "https://smarthealth.cards#health-card",
        "https://smarthealth.cards#covid19",
        "https://smarthealth.cards#laboratory",
    }
    assert payload["vc"]["rid"] == sample_revocation_id(record.latest.certificate_id)
    patient, observation = resources(payload)
    assert patient["resourceType"] == "Patient"
    assert patient["birthDate"] == record.latest.dob.isoformat()  # type: ignore[union-attr]
    assert observation["resourceType"] == "Observation"
    assert observation["status"] == "final"
    assert observation["subject"] == {"reference": "resource:0"}
    assert observation["code"]["coding"] == [{"system": "http://loinc.org", "code": "94500-6"}]
    assert observation["valueCodeableConcept"]["coding"] == [
        {"system": "http://snomed.info/sct", "code": "260385009"}
    ]
    assert observation["effectiveDateTime"][:19] == evidence["sampleCollectionTimestamp"][:19]
    assert observation["performer"] == [{"display": evidence["facility"]["name"]}]
    # No ids, narrative or coding displays in a card (SMART Health Cards' size rules).
    text = json.dumps(payload["vc"]["credentialSubject"]["fhirBundle"])
    assert '"id"' not in text
    assert '"text"' not in text


def test_an_antigen_test_and_a_positive_result(issuer: ShcIssuer) -> None:
    _, observation = resources(issuer.payload(lab_bundle(testType="RAT", result="Positive")))
    assert observation["code"]["coding"][0]["code"] == "94558-4"
    assert observation["valueCodeableConcept"]["coding"][0]["code"] == "10828004"


def test_a_lab_card_is_not_a_vaccination_card(issuer: ShcIssuer) -> None:
    types = issuer.payload(lab_bundle())["vc"]["type"]
    assert "https://smarthealth.cards#immunization" not in types
    assert "https://smarthealth.cards#immunization" in CARD_TYPES


@pytest.mark.parametrize(
    ("details", "location"),
    [({"testType": "Serology"}, "evidence.testType"), ({"result": "Unclear"}, "evidence.result")],
)
def test_unmapped_values_are_refused_naming_the_field(
    issuer: ShcIssuer, details: dict[str, str], location: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        issuer.jws(lab_bundle(**details))
    assert [e.location for e in caught.value.errors] == [location]


def test_a_lab_card_verifies_and_fits_the_qr(issuer: ShcIssuer) -> None:
    jws = issuer.jws(lab_bundle())
    verified = verify_shc(jws, keys_of(issuer), NOW)
    assert verified.payload == issuer.payload(lab_bundle())
    assert qr_matrix_of(jws).version <= MAX_QR_VERSION


def test_a_tampered_lab_card_fails(issuer: ShcIssuer) -> None:
    header, payload, signature = issuer.jws(lab_bundle()).split(".")
    data = json.loads(zlib.decompress(b64url_decode(payload), -15))
    data["vc"]["credentialSubject"]["fhirBundle"]["entry"][1]["resource"]["valueCodeableConcept"][
        "coding"
    ][0]["code"] = "10828004"  # negative → positive
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = packer.compress(json.dumps(data, separators=(",", ":")).encode()) + packer.flush()
    with pytest.raises(VerificationError, match="signature"):
        verify_shc(f"{header}.{b64url(body)}.{signature}", keys_of(issuer), NOW)


def test_new_lab_codes_change_the_version(tmp_path: Path) -> None:
    ours = shc_issuer(tmp_path)
    plain = ShcIssuer(ours.issuer, ours.key, {}, revocation_id=sample_revocation_id)
    assert ours.version != plain.version
