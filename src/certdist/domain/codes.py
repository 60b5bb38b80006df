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


# --- what a verifier shows for the vaccine codes it reads ------------------------------------
#
# A certificate names its vaccine by code; a person checking it at a door needs the name.
# These tables cover what our issuer writes and the COVID-19 vaccines other issuers commonly
# write. A code missing here is shown as "<system> <code>" (vaccine_name's caller decides),
# never guessed at.

#: EU vaccine-medicinal-product (``v[0].mp``): EU-authorised products by their Union Register
#: number, the others by the value set's own code. Names are the products' trade names,
#: with the maker where the trade name alone does not say it.
DCC_MEDICINAL_PRODUCTS: Final = {
    "EU/1/20/1528": "Comirnaty (Pfizer-BioNTech)",
    "EU/1/20/1507": "Spikevax (Moderna)",
    "EU/1/21/1529": "Vaxzevria (AstraZeneca)",
    "EU/1/20/1525": "Jcovden (Janssen)",
    "EU/1/21/1618": "Nuvaxovid (Novavax)",
    "EU/1/21/1624": "COVID-19 Vaccine Valneva",
    "EU/1/21/1580": "VidPrevtyn Beta (Sanofi Pasteur)",
    "EU/1/22/1709": "Bimervax (HIPRA)",
    "Covishield": "Covishield (ChAdOx1 nCoV-19, Serum Institute of India)",
    "Covaxin": "Covaxin (BBV152, Bharat Biotech)",
    "Covovax": "Covovax (Serum Institute of India)",
    "R-COVI": "R-COVI (R-Pharm)",
    "Sputnik-V": "Sputnik V (Gamaleya)",
    "Sputnik-Light": "Sputnik Light (Gamaleya)",
    "Convidecia": "Convidecia (CanSino)",
    "BBIBP-CorV": "BBIBP-CorV (Sinopharm, Beijing)",
    "WIBP-CorV": "WIBP-CorV (Sinopharm, Wuhan)",
    "CoronaVac": "CoronaVac (Sinovac)",
    "Covid-19-recombinant": "COVID-19 vaccine (recombinant)",
    "Hayat-Vax": "Hayat-Vax",
    "Abdala": "Abdala",
    "Soberana-02": "Soberana 02",
    "Soberana-Plus": "Soberana Plus",
    "EpiVacCorona": "EpiVacCorona",
    "CoviVac": "CoviVac",
    "Covifenz": "Covifenz (Medicago)",
    "MVC-COV1901": "MVC COVID-19 vaccine",
}

#: EU vaccine-prophylaxis (``v[0].vp``, SNOMED CT): the type of vaccine, shown when the
#: product is one we do not name.
DCC_VACCINE_TYPES: Final = {
    "1119349007": "SARS-CoV-2 mRNA vaccine",
    "1119305005": "SARS-CoV-2 antigen vaccine",
    "1162643001": "SARS-CoV-2 recombinant spike protein antigen vaccine",
    "1157024006": "Inactivated whole SARS-CoV-2 antigen vaccine",
    "29061000087103": "COVID-19 non-replicating viral vector vaccine",
    "28531000087107": "COVID-19 vaccine",
    "30141000087107": "SARS-CoV-2 virus-like particle antigen vaccine",
    "1187593009": "SARS-CoV-2 DNA plasmid encoding spike protein vaccine",
    "J07BX03": "COVID-19 vaccine",
}

#: CVX (SMART Health Cards): the CDC's COVID-19 vaccine codes, US (2xx) and non-US (5xx).
CVX_VACCINES: Final = {
    "207": "Moderna COVID-19 vaccine (Spikevax)",
    "208": "Pfizer-BioNTech COVID-19 vaccine (Comirnaty)",
    "210": "AstraZeneca COVID-19 vaccine (ChAdOx1-S: Vaxzevria, Covishield)",
    "211": "Novavax COVID-19 vaccine",
    "212": "Janssen COVID-19 vaccine",
    "213": "COVID-19 vaccine, unspecified",
    "217": "Pfizer-BioNTech COVID-19 vaccine (Comirnaty)",
    "218": "Pfizer-BioNTech COVID-19 vaccine, for children",
    "219": "Pfizer-BioNTech COVID-19 vaccine, for young children",
    "221": "Moderna COVID-19 vaccine (Spikevax)",
    "500": "COVID-19 vaccine, non-US, product unknown",
    "501": "QazCovid-in",
    "502": "Covaxin (Bharat Biotech)",
    "503": "CoviVac",
    "504": "Sputnik Light (Gamaleya)",
    "505": "Sputnik V (Gamaleya)",
    "506": "Convidecia (CanSino)",
    "507": "ZF2001 (Anhui Zhifei Longcom)",
    "510": "BBIBP-CorV (Sinopharm)",
    "511": "CoronaVac (Sinovac)",
}

#: ICD-11 MMS extension codes of COVID-19 vaccines (WHO DDCC:VS bundles, CoWIN credentials):
#: the WHO DDCC vaccine list (by type), and products (those our certificates name, and those
#: the DDCC's CVX to ICD-11 map gives).
ICD11_VACCINES: Final = {
    "XM68M6": "COVID-19 vaccine",
    "XM1NL1": "COVID-19 vaccine, inactivated virus",
    "XM5DF6": "COVID-19 vaccine, live attenuated virus",
    "XM9QW8": "COVID-19 vaccine, non-replicating viral vector",
    "XM0CX4": "COVID-19 vaccine, replicating viral vector",
    "XM5JC5": "COVID-19 vaccine, virus protein subunit",
    "XM1J92": "COVID-19 vaccine, virus like particle",
    "XM6AT1": "COVID-19 vaccine, DNA based",
    "XM0GQ8": "COVID-19 vaccine, RNA based",
    "XM97T2": "Covishield (ChAdOx1 nCoV-19)",
    "XM1G90": "Covaxin (BBV152)",
    "XM3DT5": "Moderna COVID-19 vaccine (Spikevax)",
    "XM8NQ0": "Comirnaty (Pfizer-BioNTech)",
    "XM4YL8": "AstraZeneca COVID-19 vaccine (Vaxzevria)",
    "XM9T65": "Novavax COVID-19 vaccine",
    "XM6QV1": "Janssen COVID-19 vaccine",
}

_VACCINE_NAMES: Final = {CVX: CVX_VACCINES, ICD11_MMS: ICD11_VACCINES}


def vaccine_name(system: str, code: str) -> str | None:
    """The name of the vaccine ``code`` of the code system ``system`` (a FHIR URI), if known."""
    return _VACCINE_NAMES.get(system, {}).get(code)
