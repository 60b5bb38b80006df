"""The clinical codes certdist writes into certificates, each kept in one place.

A certificate names its vaccine, lab test, result and disease by codes from published code
systems, and every wallet format wants its own: CoWIN v2 credentials carry ICD-11, the EU DCC
takes codes from the EU eHealth Network value sets, SMART Health Cards use CVX, LOINC and
SNOMED CT. The tables below hold, for each vaccine or test we know, every one of those codes
together, so that adding or correcting one is a single edit.

These are only the defaults. Deployments configure the mappings through the settings
(``vaccine_codes``, ``wallet.dcc_vaccines``, ``wallet.shc_vaccine_codes``,
``wallet.lab_test_*``), whose defaults :mod:`certdist.config` builds from these tables; a
configured value replaces the default for that setting.

Where the codes come from:

- EU DCC: the eHealth Network value sets vaccine-prophylaxis, vaccine-medicinal-product,
  vaccine-mah-manf, test-type, test-result and disease-agent-targeted (copies in
  ``tests/vectors/eu-dcc/valuesets``, against which the tests check every EU code here);
- CVX: the CDC's "vaccine administered" codes, including its non-US COVID-19 vaccines;
- ICD-11: the WHO's Mortality and Morbidity Statistics linearization (the XM extension
  codes for vaccines);
- LOINC for the kind of test and SNOMED CT for results and diseases, as SMART Health Cards
  expect them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

# FHIR canonical URIs of the code systems, used as ``Coding.system``.
CVX: Final = "http://hl7.org/fhir/sid/cvx"
ICD11_MMS: Final = "http://id.who.int/icd/release/11/mms"
LOINC: Final = "http://loinc.org"
SNOMED_CT: Final = "http://snomed.info/sct"


@dataclass(frozen=True)
class Vaccine:
    """One vaccine and its code in every system a certificate format needs."""

    name: str  # lower case; certificates' vaccine names are matched ignoring case
    icd11: str  # ICD-11 MMS
    prophylaxis: str  # the ICD-11 code's title, which CoWIN v2 credentials repeat in words
    cvx: str
    dcc_vp: str  # EU vaccine-prophylaxis (SNOMED CT)
    dcc_mp: str  # EU vaccine-medicinal-product
    dcc_ma: str  # EU vaccine-mah-manf (marketing authorisation holder)


# ICD-11 codes COVID-19 vaccines both by type (XM9QW8 non-replicating viral vector, XM1NL1
# inactivated virus) and by product (XM97T2 Covishield, XM1G90 Covaxin); the type codes are
# what our certificates have always carried, and verifiers may rely on them. CVX 210 is the
# ChAdOx1 vaccine (AstraZeneca's, under whose licence Covishield is made); 502 is the CDC's
# non-US code for Covaxin. The EU codes are those the value sets' vaccine-encoding-instructions
# give for these two products.
COVISHIELD: Final = Vaccine(
    name="covishield",
    icd11="XM9QW8",
    prophylaxis="COVID-19 vaccine, non-replicating viral vector",
    cvx="210",
    dcc_vp="29061000087103",
    dcc_mp="Covishield",
    dcc_ma="ORG-100001981",
)
COVAXIN: Final = Vaccine(
    name="covaxin",
    icd11="XM1NL1",
    prophylaxis="COVID-19 vaccine, inactivated virus",
    cvx="502",
    dcc_vp="1157024006",
    dcc_mp="Covaxin",
    dcc_ma="Bharat-Biotech",
)
VACCINES: Final = (COVISHIELD, COVAXIN)

# The whole EU test-type and test-result value sets. The settings accept no other code: an
# EU DCC with one would not validate against the value sets.
DccTestType = Literal["LP6464-4", "LP217198-3"]
DccTestResult = Literal["260415000", "260373001"]


@dataclass(frozen=True)
class LabTestKind:
    """A kind of lab test: its EU test type, the LOINC code of the SHC observation, and the
    free texts DIVOC lab-test requests name it by."""

    dcc: DccTestType
    loinc: str
    texts: tuple[str, ...]


@dataclass(frozen=True)
class LabTestOutcome:
    """A lab-test result: the EU test-result code, the SNOMED CT value of the SHC
    observation, and the texts DIVOC requests give for it."""

    dcc: DccTestResult
    snomed: str
    texts: tuple[str, ...]


@dataclass(frozen=True)
class TargetDisease:
    """A disease a test (or a vaccine) targets: its SNOMED CT and ICD-11 codes and the texts
    DIVOC requests use."""

    snomed: str
    icd11: str  # WHO DDCC:VS documents name the target disease in ICD-11
    texts: tuple[str, ...]


# EU test-type: LP6464-4 nucleic acid amplification with probe detection, LP217198-3 rapid
# immunoassay. LOINC 94500-6 is SARS-CoV-2 RNA in a respiratory specimen by NAA with probe
# detection, 94558-4 SARS-CoV-2 antigen in a respiratory specimen by rapid immunoassay.
# TrueNat is a chip-based PCR, so it counts as NAAT.
NAAT: Final = LabTestKind(
    dcc="LP6464-4",
    loinc="94500-6",
    texts=("RT-PCR", "RTPCR", "RT PCR", "PCR", "NAAT", "TrueNat"),
)
RAPID_ANTIGEN: Final = LabTestKind(
    dcc="LP217198-3",
    loinc="94558-4",
    texts=("RAT", "Antigen", "Rapid Antigen", "Rapid Antigen Test", "Rapid"),
)
LAB_TEST_KINDS: Final = (NAAT, RAPID_ANTIGEN)

# EU test-result uses "not detected" / "detected"; SMART Health Cards carry SNOMED CT's
# "negative" / "positive" qualifier values, which is what lab reports say.
NEGATIVE: Final = LabTestOutcome(
    dcc="260415000", snomed="260385009", texts=("Negative", "Not detected")
)
POSITIVE: Final = LabTestOutcome(dcc="260373001", snomed="10828004", texts=("Positive", "Detected"))
LAB_TEST_OUTCOMES: Final = (NEGATIVE, POSITIVE)

# EU disease-agent-targeted has COVID-19 only; SMART Health Cards take the same SNOMED code.
# ICD-11 RA01 is "COVID-19" in the MMS linearization.
COVID_19: Final = TargetDisease(
    snomed="840539006", icd11="RA01", texts=("COVID-19", "COVID19", "COVID", "SARS-CoV-2")
)
TARGET_DISEASES: Final = (COVID_19,)
