"""Lab-test credentials as the wallet formats read them, and the configured code mappings."""

from __future__ import annotations

import json

import pytest

from certdist.config import LabTestTypeCodes, Settings, WalletSettings
from certdist.errors import InvalidInput
from certdist.formats.lab_test import (
    NAAT,
    RAPID_ANTIGEN,
    LabTest,
    is_lab_test,
    lab_test_of,
    normalized,
    utc_text,
)
from certdist.services.distribution.wallet import lab_test_codes
from tests.support.wallet_samples import LAB_CODES, bundle, lab_bundle


def a_test(**fields: str) -> LabTest:
    test = lab_test_of(lab_bundle().credential)
    values = {
        "test_name": test.test_name,
        "test_type": test.test_type,
        "manufacturer": test.manufacturer,
        "disease": test.disease,
        "sample_collected": test.sample_collected,
        "result": test.result,
        "facility": test.facility,
        **fields,
    }
    return LabTest(**values)  # type: ignore[arg-type]


def test_reads_the_evidence_of_a_lab_test_credential() -> None:
    credential = lab_bundle().credential
    evidence = credential["evidence"][0]
    test = lab_test_of(credential)
    assert is_lab_test(credential)
    assert (test.test_name, test.test_type, test.result) == (
        evidence["testName"],
        evidence["testType"],
        evidence["result"],
    )
    assert test.facility == evidence["facility"]["name"]
    assert utc_text(test.sample_collected) == evidence["sampleCollectionTimestamp"][:19] + "Z"


def test_a_vaccination_is_not_a_lab_test() -> None:
    assert not is_lab_test(bundle(1).credential)
    with pytest.raises(InvalidInput, match="not a lab-test certificate"):
        lab_test_of(bundle(1).credential)


def test_a_collection_time_that_is_not_iso_is_refused_naming_the_field() -> None:
    credential = lab_bundle().credential
    credential["evidence"][0]["sampleCollectionTimestamp"] = "yesterday"
    with pytest.raises(InvalidInput) as caught:
        lab_test_of(credential)
    assert [e.location for e in caught.value.errors] == ["evidence.sampleCollectionTimestamp"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RT-PCR", NAAT),
        ("rt-pcr", NAAT),
        (" PCR ", NAAT),
        ("naat", NAAT),
        ("RAT", RAPID_ANTIGEN),
        ("Rapid  Antigen   test", RAPID_ANTIGEN),
        ("ANTIGEN", RAPID_ANTIGEN),
    ],
)
def test_default_test_types_ignore_case_and_spacing(text: str, expected: str) -> None:
    assert LAB_CODES.test_type(a_test(test_type=text)).dcc == expected


def test_default_loinc_codes_follow_the_kind_of_test() -> None:
    assert LAB_CODES.test_type(a_test(test_type="RT-PCR")).loinc == "94500-6"
    assert LAB_CODES.test_type(a_test(test_type="RAT")).loinc == "94558-4"


@pytest.mark.parametrize(
    ("text", "dcc", "snomed"),
    [
        ("Negative", "260415000", "260385009"),
        ("NEGATIVE", "260415000", "260385009"),
        ("positive", "260373001", "10828004"),
        ("Not Detected", "260415000", "260385009"),
    ],
)
def test_default_results(text: str, dcc: str, snomed: str) -> None:
    result = LAB_CODES.result(a_test(result=text))
    assert (result.dcc, result.snomed) == (dcc, snomed)


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        ({"test_type": "Serology"}, "evidence.testType"),
        ({"test_type": ""}, "evidence.testType"),
        ({"result": "Inconclusive"}, "evidence.result"),
        ({"disease": "Malaria"}, "evidence.disease"),
    ],
)
def test_an_unmapped_value_is_refused_naming_the_field(
    fields: dict[str, str], location: str
) -> None:
    test = a_test(**fields)

    def every_code() -> None:
        LAB_CODES.test_type(test)
        LAB_CODES.result(test)
        LAB_CODES.disease(test)

    with pytest.raises(InvalidInput) as caught:
        every_code()
    assert [e.location for e in caught.value.errors] == [location]
    assert location in caught.value.message
    # The value itself is health data: it is not repeated in the message.
    value = next(iter(fields.values()))
    assert not value or value not in caught.value.message


def test_mappings_are_configurable() -> None:
    wallet = WalletSettings(
        lab_test_types={"Serology": LabTestTypeCodes(dcc="LP217198-3", loinc="94762-2")},
        dcc_test_devices={"MYLAB": "1232"},
    )
    codes = lab_test_codes(wallet)
    assert codes.test_type(a_test(test_type="serology")).loinc == "94762-2"
    with pytest.raises(InvalidInput):
        codes.test_type(a_test(test_type="RT-PCR"))  # the configured table replaces the defaults
    assert codes.device(a_test(manufacturer="Mylab")) == "1232"
    assert codes.device(a_test(manufacturer="Other", test_name="mylab")) == "1232"
    assert codes.device(a_test(manufacturer="Other", test_name="Other")) is None
    assert codes.fingerprint() != LAB_CODES.fingerprint()


def test_settings_refuse_codes_outside_the_eu_value_sets() -> None:
    with pytest.raises(ValueError, match="dcc"):
        WalletSettings.model_validate(
            {"lab_test_types": {"PCR": {"dcc": "LP0000-0", "loinc": "94500-6"}}}
        )


def test_settings_mappings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CERTDIST_WALLET__LAB_TEST_RESULTS",
        json.dumps({"Neg": {"dcc": "260415000", "snomed": "260385009"}}),
    )
    codes = lab_test_codes(Settings().wallet)
    assert codes.result(a_test(result="NEG")).dcc == "260415000"


def test_normalized() -> None:
    assert normalized("  Rapid\tAntigen  ") == "rapid antigen"
