"""A DIVOC lab-test credential as the wallet formats read it, and the code mappings they need.

DIVOC's ``TestDetails`` evidence holds free text (``testType`` "RT-PCR", ``result``
"Negative"); the EU DCC and the SMART Health Card want codes from value sets. A deployment
configures which texts mean which code (``WalletSettings.lab_test_*``); a text with no entry
is refused with :class:`~certdist.errors.InvalidInput` naming the evidence field, since a
guessed code on a health certificate would be worse than no certificate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from certdist.domain import codes
from certdist.errors import FieldError, InvalidInput

#: The DIVOC evidence type of a lab test (``evidence[0].type``).
EVIDENCE_TYPE: Final = "TestDetails"
#: EU DCC test types (value set covid-19-lab-test-type): which one decides nm or ma.
NAAT: Final = codes.NAAT.dcc
RAPID_ANTIGEN: Final = codes.RAPID_ANTIGEN.dcc

T = TypeVar("T")


def normalized(text: str) -> str:
    """The key a free text is looked up by: case and spacing do not matter."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class LabTestType:
    """The codes of one kind of test: EU DCC ``tt`` and the LOINC code of the SHC Observation."""

    dcc: str
    loinc: str


@dataclass(frozen=True)
class LabResult:
    """The codes of one result: EU DCC ``tr`` and the SNOMED value of the SHC Observation."""

    dcc: str
    snomed: str


@dataclass(frozen=True)
class LabTestCodes:
    """The configured mappings from DIVOC's texts to codes, keyed by :func:`normalized` text."""

    types: Mapping[str, LabTestType] = field(default_factory=dict)
    results: Mapping[str, LabResult] = field(default_factory=dict)
    diseases: Mapping[str, str] = field(default_factory=dict)  # → SNOMED (disease targeted)
    devices: Mapping[str, str] = field(default_factory=dict)  # manufacturer or test name → ma

    @classmethod
    def of(
        cls,
        *,
        types: Mapping[str, LabTestType],
        results: Mapping[str, LabResult],
        diseases: Mapping[str, str],
        devices: Mapping[str, str] | None = None,
    ) -> LabTestCodes:
        """Codes with their keys normalised, so configuration may use any case."""
        return cls(
            types={normalized(k): v for k, v in types.items()},
            results={normalized(k): v for k, v in results.items()},
            diseases={normalized(k): v for k, v in diseases.items()},
            devices={normalized(k): v for k, v in (devices or {}).items()},
        )

    def test_type(self, test: LabTest) -> LabTestType:
        return _lookup(self.types, test.test_type, "evidence.testType", "lab_test_types")

    def result(self, test: LabTest) -> LabResult:
        return _lookup(self.results, test.result, "evidence.result", "lab_test_results")

    def disease(self, test: LabTest) -> str:
        return _lookup(self.diseases, test.disease, "evidence.disease", "lab_test_diseases")

    def device(self, test: LabTest) -> str | None:
        """The EU DCC device id of a rapid test: by manufacturer first, then by test name."""
        for text in (test.manufacturer, test.test_name):
            found = self.devices.get(normalized(text)) if text else None
            if found:
                return found
        return None

    def fingerprint(self) -> str:
        """Names the mappings in a format's ``version``: new codes render differently."""
        content = json.dumps(
            {
                "types": {k: asdict(v) for k, v in self.types.items()},
                "results": {k: asdict(v) for k, v in self.results.items()},
                "diseases": dict(self.diseases),
                "devices": dict(self.devices),
            },
            sort_keys=True,
        )
        return hashlib.sha256(content.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class LabTest:
    """The fields of a lab-test credential the wallet formats put in their documents."""

    test_name: str
    test_type: str
    manufacturer: str
    disease: str
    sample_collected: datetime  # timezone-aware
    result: str
    facility: str


def is_lab_test(credential: Mapping[str, Any]) -> bool:
    return EVIDENCE_TYPE in (_evidence(credential).get("type") or [])


def lab_test_of(credential: Mapping[str, Any]) -> LabTest:
    """The lab test of a ``ProofOfTestCertificateCredential``; InvalidInput for another kind."""
    if not is_lab_test(credential):
        raise InvalidInput("the certificate is not a lab-test certificate")
    evidence = _evidence(credential)
    facility = evidence.get("facility")
    return LabTest(
        test_name=_text(evidence.get("testName")),
        test_type=_text(evidence.get("testType")),
        manufacturer=_text(evidence.get("manufacturer")),
        disease=_text(evidence.get("disease")),
        sample_collected=_instant(evidence.get("sampleCollectionTimestamp")),
        result=_text(evidence.get("result")),
        facility=_text(facility.get("name")) if isinstance(facility, Mapping) else "",
    )


def utc_text(moment: datetime) -> str:
    """``2021-06-01T08:00:00Z``: ISO 8601 with its zone, to the second (the DCC's advice)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _lookup(table: Mapping[str, T], text: str, field_name: str, setting: str) -> T:
    found = table.get(normalized(text)) if text.strip() else None
    if found is None:
        # The value itself stays out of the message: it is health data.
        raise InvalidInput(
            f"the certificate's {field_name} has no code configured (wallet.{setting})",
            [FieldError(field_name, f"no mapping in wallet.{setting}")],
        )
    return found


def _evidence(credential: Mapping[str, Any]) -> Mapping[str, Any]:
    evidence = credential.get("evidence")
    first = evidence[0] if isinstance(evidence, list) and evidence else {}
    return first if isinstance(first, Mapping) else {}


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _instant(value: object) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(
            "the certificate's sample collection time is not an ISO 8601 date-time",
            [FieldError("evidence.sampleCollectionTimestamp", "not an ISO 8601 date-time")],
        ) from None
    # Our issuer writes UTC (js_iso) and reads a time without a zone as UTC: so do we.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
