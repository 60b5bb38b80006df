"""The clinical code tables: every EU code is in its value set (the copies in tests/vectors),
each vaccine and free text is listed once, and the settings' defaults come from the tables."""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from typing import Any, get_args

import pytest

from certdist.config import Settings, WalletSettings
from certdist.domain import codes
from certdist.formats.lab_test import normalized
from tests.support.environment import VECTORS

VALUESETS = VECTORS / "eu-dcc" / "valuesets"


@cache
def value_set(name: str) -> dict[str, Any]:
    """The ``valueSetValues`` of one EU value-set file, keyed by code."""
    values: dict[str, Any] = json.loads((VALUESETS / f"{name}.json").read_text())["valueSetValues"]
    return values


# (value set, code, our URI of its code system; None where the system is an EU-only list)
EU_CODES = [
    *(
        entry
        for vaccine in codes.VACCINES
        for entry in (
            ("vaccine-prophylaxis", vaccine.dcc_vp, codes.SNOMED_CT),
            ("vaccine-medicinal-product", vaccine.dcc_mp, None),
            ("vaccine-mah-manf", vaccine.dcc_ma, None),
        )
    ),
    *(("test-type", kind.dcc, codes.LOINC) for kind in codes.LAB_TEST_KINDS),
    *(("test-result", outcome.dcc, codes.SNOMED_CT) for outcome in codes.LAB_TEST_OUTCOMES),
    *(
        ("disease-agent-targeted", disease.snomed, codes.SNOMED_CT)
        for disease in codes.TARGET_DISEASES
    ),
]


@pytest.mark.parametrize(
    ("name", "code", "system"), EU_CODES, ids=[f"{name}:{code}" for name, code, _ in EU_CODES]
)
def test_each_eu_code_is_an_active_member_of_its_value_set(
    name: str, code: str, system: str | None
) -> None:
    entry = value_set(name).get(code)
    assert entry is not None, f"{code} is not in the EU value set {name}"
    assert entry["active"] is True
    if system is not None:
        assert entry["system"] == system


@pytest.mark.parametrize("vaccine", codes.VACCINES, ids=lambda v: v.name)
def test_each_vaccines_eu_codes_are_those_the_encoding_instructions_pair(
    vaccine: codes.Vaccine,
) -> None:
    instruction = value_set("vaccine-encoding-instructions")[vaccine.dcc_mp]
    assert instruction["vaccine-code"] == vaccine.dcc_mp
    assert instruction["vaccine-manufacturer"] == vaccine.dcc_ma
    assert vaccine.dcc_vp in instruction["sct-codes"]


def test_the_settings_types_admit_exactly_the_eu_test_codes() -> None:
    assert set(get_args(codes.DccTestType)) == set(value_set("test-type"))
    assert set(get_args(codes.DccTestResult)) == set(value_set("test-result"))


def test_no_vaccine_is_listed_twice() -> None:
    names = [vaccine.name.casefold() for vaccine in codes.VACCINES]
    assert len(names) == len(set(names))
    assert all(vaccine.name == vaccine.name.casefold() for vaccine in codes.VACCINES)


@pytest.mark.parametrize(
    "table",
    [codes.LAB_TEST_KINDS, codes.LAB_TEST_OUTCOMES, codes.TARGET_DISEASES],
    ids=["kinds", "outcomes", "diseases"],
)
def test_no_free_text_means_two_things(
    table: tuple[codes.LabTestKind | codes.LabTestOutcome | codes.TargetDisease, ...],
) -> None:
    # The wallet formats look texts up ignoring case and spacing, so that is what must differ.
    texts = [normalized(text) for entry in table for text in entry.texts]
    assert len(texts) == len(set(texts))


# The defaults as they were written out in config.py before the tables moved here.
_BEFORE_VACCINE_CODES = {
    "covishield": {
        "icd11Code": "XM9QW8",
        "prophylaxis": "COVID-19 vaccine, non-replicating viral vector",
    },
    "covaxin": {"icd11Code": "XM1NL1", "prophylaxis": "COVID-19 vaccine, inactivated virus"},
}
_NAAT = {"dcc": "LP6464-4", "loinc": "94500-6"}
_ANTIGEN = {"dcc": "LP217198-3", "loinc": "94558-4"}
_NEGATIVE = {"dcc": "260415000", "snomed": "260385009"}
_POSITIVE = {"dcc": "260373001", "snomed": "10828004"}
_CVX = "http://hl7.org/fhir/sid/cvx"
_ICD11 = "http://id.who.int/icd/release/11/mms"
_BEFORE_WALLET = {
    "dcc_vaccines": {
        "covishield": {"vp": "29061000087103", "mp": "Covishield", "ma": "ORG-100001981"},
        "covaxin": {"vp": "1157024006", "mp": "Covaxin", "ma": "Bharat-Biotech"},
    },
    "shc_vaccine_codes": {
        "covishield": [{"system": _CVX, "code": "210"}, {"system": _ICD11, "code": "XM9QW8"}],
        "covaxin": [{"system": _CVX, "code": "502"}, {"system": _ICD11, "code": "XM1NL1"}],
    },
    "lab_test_types": {
        **dict.fromkeys(("RT-PCR", "RTPCR", "RT PCR", "PCR", "NAAT", "TrueNat"), _NAAT),
        **dict.fromkeys(
            ("RAT", "Antigen", "Rapid Antigen", "Rapid Antigen Test", "Rapid"), _ANTIGEN
        ),
    },
    "lab_test_results": {
        **dict.fromkeys(("Negative", "Not detected"), _NEGATIVE),
        **dict.fromkeys(("Positive", "Detected"), _POSITIVE),
    },
    "lab_test_diseases": dict.fromkeys(("COVID-19", "COVID19", "COVID", "SARS-CoV-2"), "840539006"),
}


def _serialized(value: object) -> str:
    # Not sorted: the order of the entries is part of what must not change.
    return json.dumps(value)


def test_the_default_vaccine_codes_are_unchanged() -> None:
    assert _serialized(Settings().vaccine_codes) == _serialized(_BEFORE_VACCINE_CODES)


def test_the_default_wallet_code_settings_are_unchanged() -> None:
    wallet = WalletSettings().model_dump(mode="json", include=set(_BEFORE_WALLET))
    assert _serialized({name: wallet[name] for name in _BEFORE_WALLET}) == _serialized(
        _BEFORE_WALLET
    )


def test_both_icd11_defaults_come_from_the_one_vaccine_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    changed = dataclasses.replace(codes.COVISHIELD, icd11="XM0000")
    monkeypatch.setattr(codes, "VACCINES", (changed,))
    assert Settings().vaccine_codes["covishield"]["icd11Code"] == "XM0000"
    shc = WalletSettings().shc_vaccine_codes["covishield"]
    assert [(c.system, c.code) for c in shc] == [(codes.CVX, "210"), (codes.ICD11_MMS, "XM0000")]
    assert set(WalletSettings().dcc_vaccines) == {"covishield"}


def test_configured_code_tables_still_replace_the_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CERTDIST_VACCINE_CODES", json.dumps({"sputnik v": {"icd11Code": "XM5ZJ4"}}))
    monkeypatch.setenv(
        "CERTDIST_WALLET__SHC_VACCINE_CODES",
        json.dumps({"sputnik v": [{"system": _CVX, "code": "505"}]}),
    )
    settings = Settings()
    assert settings.vaccine_codes == {"sputnik v": {"icd11Code": "XM5ZJ4"}}
    assert list(settings.wallet.shc_vaccine_codes) == ["sputnik v"]
    assert list(settings.wallet.dcc_vaccines) == ["covishield", "covaxin"]


@pytest.mark.parametrize(
    ("table", "value_set_name"),
    [
        (codes.DCC_MEDICINAL_PRODUCTS, "vaccine-medicinal-product"),
        (codes.DCC_VACCINE_TYPES, "vaccine-prophylaxis"),
    ],
)
def test_the_eu_vaccine_names_are_for_codes_of_the_value_sets(
    table: dict[str, str], value_set_name: str
) -> None:
    assert set(table) <= set(value_set(value_set_name))
    assert all(name.strip() for name in table.values())


def test_every_vaccine_we_issue_has_a_name_in_every_system() -> None:
    """A verifier of our own certificates never shows a bare code."""
    for vaccine in codes.VACCINES:
        assert vaccine.dcc_mp in codes.DCC_MEDICINAL_PRODUCTS
        assert vaccine.dcc_vp in codes.DCC_VACCINE_TYPES
        assert codes.vaccine_name(codes.CVX, vaccine.cvx)
        assert codes.vaccine_name(codes.ICD11_MMS, vaccine.icd11) == vaccine.prophylaxis


def test_an_unknown_vaccine_code_has_no_name() -> None:
    assert codes.vaccine_name(codes.CVX, "229999") is None
    assert codes.vaccine_name(codes.LOINC, "208") is None  # only vaccine code systems
