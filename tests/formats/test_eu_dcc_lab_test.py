"""EU DCC test entries (``t``) from lab-test certificates: schema-valid, value-set codes from
the configured mappings, signed and verifiable like a vaccination."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest

from certdist.errors import InvalidInput, VerificationError
from certdist.formats.eu_dcc import DccIssuer, build_payload, verify_hc1
from certdist.formats.lab_test import LabTestCodes
from certdist.signing.dsc import DocumentSigners
from tests.support.wallet_samples import (
    DCC_NAMES,
    LAB_CODES,
    NOW,
    PROFILE,
    lab_bundle,
    tampered_result,
    value_set,
)


@pytest.mark.parametrize("test_type", ["RAT", "RT-PCR"])
def test_test_payload_is_schema_valid_with_official_codes(
    schema: jsonschema.protocols.Validator, testdata: Path, test_type: str
) -> None:
    payload = build_payload(lab_bundle(testType=test_type), DCC_NAMES, PROFILE)
    schema.validate(payload)
    assert "v" not in payload
    [entry] = payload["t"]
    assert entry["tg"] in value_set(testdata, "disease-agent-targeted")
    assert entry["tt"] in value_set(testdata, "test-type")
    assert entry["tr"] in value_set(testdata, "test-result")
    assert entry["co"] == PROFILE.country
    assert entry["is"] == PROFILE.certificate_issuer
    assert entry["ci"].startswith("URN:UVCI:01:IN:")


def test_test_entry_carries_the_credentials_values() -> None:
    record = lab_bundle(testType="RT-PCR", result="Positive")
    evidence = record.credential["evidence"][0]
    [entry] = build_payload(record, DCC_NAMES, PROFILE)["t"]
    assert entry["tt"] == "LP6464-4"
    assert entry["tr"] == "260373001"
    assert entry["nm"] == evidence["testName"]  # a NAAT is named
    assert "ma" not in entry
    assert entry["tc"] == evidence["facility"]["name"]
    sampled = datetime.fromisoformat(evidence["sampleCollectionTimestamp"])
    assert datetime.fromisoformat(entry["sc"]) == sampled.replace(microsecond=0)
    assert entry["sc"].endswith("Z")


def test_a_rapid_test_has_a_device_only_when_configured(
    schema: jsonschema.protocols.Validator,
) -> None:
    plain = build_payload(lab_bundle(testType="RAT"), DCC_NAMES, PROFILE)["t"][0]
    assert "ma" not in plain
    assert "nm" not in plain  # nm names NAATs only
    codes = LabTestCodes.of(
        types=LAB_CODES.types,
        results=LAB_CODES.results,
        diseases=LAB_CODES.diseases,
        devices={"Mylab": "1232"},
    )
    profile = dataclasses.replace(PROFILE, lab_tests=codes)
    payload = build_payload(lab_bundle(testType="RAT", manufacturer="MyLab"), DCC_NAMES, profile)
    schema.validate(payload)
    assert payload["t"][0]["ma"] == "1232"


def test_date_of_birth_is_the_registered_one_or_empty(
    schema: jsonschema.protocols.Validator,
) -> None:
    # The lab-test credential itself carries no date of birth.
    assert "dob" not in lab_bundle().credential["credentialSubject"]
    known = build_payload(lab_bundle(), DCC_NAMES, PROFILE)
    assert known["dob"] == lab_bundle().latest.dob.isoformat()  # type: ignore[union-attr]
    unknown = build_payload(lab_bundle(dob=None), DCC_NAMES, PROFILE)
    assert unknown["dob"] == ""
    schema.validate(unknown)


def test_a_long_facility_name_is_cut_to_the_schemas_limit(
    schema: jsonschema.protocols.Validator,
) -> None:
    payload = build_payload(lab_bundle(facility="Diagnostic Laboratory " * 6), DCC_NAMES, PROFILE)
    schema.validate(payload)
    assert len(payload["t"][0]["tc"]) == 80


@pytest.mark.parametrize(
    ("details", "location"),
    [
        ({"testType": "Serology"}, "evidence.testType"),
        ({"result": "Inconclusive"}, "evidence.result"),
        ({"disease": "Malaria"}, "evidence.disease"),
    ],
)
def test_unmapped_values_are_refused_naming_the_field(
    details: dict[str, str], location: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        build_payload(lab_bundle(**details), DCC_NAMES, PROFILE)
    assert [e.location for e in caught.value.errors] == [location]


def test_hc1_of_a_lab_test_verifies(signers: DocumentSigners) -> None:
    issuer = DccIssuer(PROFILE, signers.active, lambda: NOW)
    record = lab_bundle()
    text = issuer.hc1(record, DCC_NAMES)
    verified = verify_hc1(text, lambda kid: [signers.active.public_key], NOW)
    assert verified.payload == build_payload(record, DCC_NAMES, PROFILE)


def test_the_version_names_the_lab_test_codes(signers: DocumentSigners) -> None:
    ours = DccIssuer(PROFILE, signers.active, lambda: NOW)
    other = DccIssuer(
        dataclasses.replace(PROFILE, lab_tests=LabTestCodes()), signers.active, lambda: NOW
    )
    assert ours.version != other.version


def test_a_lab_test_hc1_with_another_result_fails(signers: DocumentSigners) -> None:
    issuer = DccIssuer(PROFILE, signers.active, lambda: NOW)
    forged = tampered_result(issuer.hc1(lab_bundle(), DCC_NAMES))
    with pytest.raises(VerificationError, match=r"^signature:"):
        verify_hc1(forged, lambda kid: [signers.active.public_key], NOW)
