"""What a printed certificate shows, taken from DIVOC signed credentials.

A :class:`CertificateView` is plain display data: every value is already the text to print
(dates formatted, the identity number masked), so renderers (PDF, HTML, e-mail) only place
strings and never interpret credentials. Only the standard library is used here.

DIVOC's rules for the page: the title says *Provisional* while the dose is
below the total, *Final* at the total and *Booster* beyond it; the doses table has one row
per dose (the most recently issued certificate for that dose), highest dose first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any, Literal

ViewKind = Literal["vaccination", "test"]
TitleKind = Literal["provisional", "final", "booster"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: Display names of the identity document types DIVOC deployments put in the subject id
#: (``did:<type>:<number>``), keyed by the last dotted part of ``<type>``, lower-cased.
ID_TYPES: Mapping[str, str] = {
    "aadhaar": "Aadhaar",
    "passport": "Passport",
    "pan": "PAN",
    "dl": "Driving Licence",
    "drivinglicense": "Driving Licence",
    "drivinglicence": "Driving Licence",
    "driverlicense": "Driving Licence",
    "driverslicense": "Driving Licence",
    "voterid": "Voter ID",
    "voter": "Voter ID",
    "npr": "NPR Smart Card",
    "pensionpassbook": "Pension Passbook",
    "nationalid": "National ID",
}


@dataclass(frozen=True, slots=True)
class Beneficiary:
    name: str
    age: str
    gender: str
    #: Document type and masked number, e.g. ``Aadhaar XXXXXXXX3334``; empty when the
    #: credential names no identity document (its id is only the beneficiary reference).
    identity: str
    ref_id: str
    address: str
    nationality: str


@dataclass(frozen=True, slots=True)
class VaccinationDetails:
    vaccine: str
    manufacturer: str
    batch: str
    date: str
    dose: int | None
    total_doses: int | None
    vaccinator: str
    facility: str
    facility_address: str
    valid_until: str


@dataclass(frozen=True, slots=True)
class LabTestDetails:
    test_name: str
    test_type: str
    disease: str
    manufacturer: str
    sample_origin: str
    sample_collected: str
    result_time: str
    result: str
    tester: str
    facility: str
    facility_address: str
    #: The moment the sample was taken, for pages that show it in the reader's language and
    #: time zone (``sample_collected`` is the same in printed English); ``None`` when the
    #: credential's timestamp is missing or unreadable.
    collected_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DoseRow:
    """One row of the doses table: the latest certificate for one dose."""

    dose: int | None
    date: str
    vaccine: str
    manufacturer: str
    batch: str
    facility: str
    certificate_id: str

    def fields(self) -> dict[str, str]:
        return {
            "dose": "" if self.dose is None else str(self.dose),
            "date": self.date,
            "vaccine": self.vaccine,
            "manufacturer": self.manufacturer,
            "batch": self.batch,
            "facility": self.facility,
            "certificate_id": self.certificate_id,
        }


@dataclass(frozen=True, slots=True)
class CertificateView:
    """The data of one printed certificate (vaccination or lab test)."""

    kind: ViewKind
    certificate_id: str
    issue_date: str
    beneficiary: Beneficiary
    qr_payload: bytes
    vaccination: VaccinationDetails | None = None
    test: LabTestDetails | None = None
    doses: tuple[DoseRow, ...] = ()

    @property
    def title_kind(self) -> TitleKind | None:
        """Provisional, final or booster; ``None`` when the credential lacks dose numbers."""
        if self.vaccination is None:
            return None
        return title_kind(self.vaccination.dose, self.vaccination.total_doses)

    def fields(self) -> dict[str, str]:
        """Every printable value by name: the names templates refer to."""
        person = self.beneficiary
        values = {
            "certificate_id": self.certificate_id,
            "issue_date": self.issue_date,
            "name": person.name,
            "age": person.age,
            "gender": person.gender,
            "identity": person.identity,
            "ref_id": person.ref_id,
            "address": person.address,
            "nationality": person.nationality,
        }
        if self.vaccination is not None:
            vac = self.vaccination
            values |= {
                "vaccine": vac.vaccine,
                "manufacturer": vac.manufacturer,
                "batch": vac.batch,
                "vaccination_date": vac.date,
                "dose": _number(vac.dose),
                "total_doses": _number(vac.total_doses),
                "dose_status": _dose_status(vac.dose, vac.total_doses),
                "vaccinator": vac.vaccinator,
                "facility": vac.facility,
                "facility_address": vac.facility_address,
                "valid_until": vac.valid_until,
            }
        if self.test is not None:
            lab = self.test
            values |= {
                "test_name": lab.test_name,
                "test_type": lab.test_type,
                "disease": lab.disease,
                "test_manufacturer": lab.manufacturer,
                "sample_origin": lab.sample_origin,
                "sample_collected": lab.sample_collected,
                "result_time": lab.result_time,
                "result": lab.result,
                "tester": lab.tester,
                "facility": lab.facility,
                "facility_address": lab.facility_address,
            }
        return values

    @classmethod
    def from_credentials(
        cls,
        latest: Mapping[str, Any],
        all_doses: Sequence[Mapping[str, Any]] = (),
        *,
        qr_payload: bytes,
        tz: tzinfo = UTC,
    ) -> CertificateView:
        """Build the view of ``latest`` (a signed credential as parsed JSON).

        ``all_doses`` are the beneficiary's live vaccination credentials (``latest`` is added
        if missing); the doses table keeps the most recently issued one per dose. Times are
        shown in ``tz``. A lab test credential (evidence type ``TestDetails``) gives a
        ``test`` view without a doses table.
        """
        evidence = _first_evidence(latest)
        certificate_id = _text(evidence.get("certificateId"))
        issue_date = format_date(latest.get("issuanceDate"), tz)
        beneficiary = _beneficiary(_mapping(latest.get("credentialSubject")))
        if "TestDetails" in _types(evidence):
            return cls(
                kind="test",
                certificate_id=certificate_id,
                issue_date=issue_date,
                beneficiary=beneficiary,
                qr_payload=qr_payload,
                test=_lab_test(evidence, tz),
            )
        return cls(
            kind="vaccination",
            certificate_id=certificate_id,
            issue_date=issue_date,
            beneficiary=beneficiary,
            qr_payload=qr_payload,
            vaccination=_vaccination(evidence, tz),
            doses=dose_rows([latest, *all_doses], tz),
        )


def title_kind(dose: int | None, total_doses: int | None) -> TitleKind | None:
    if dose is None or total_doses is None or dose < 1 or total_doses < 1:
        return None
    if dose < total_doses:
        return "provisional"
    if dose == total_doses:
        return "final"
    return "booster"


def dose_rows(credentials: Iterable[Mapping[str, Any]], tz: tzinfo = UTC) -> tuple[DoseRow, ...]:
    """One row per dose, from the most recently issued credential of each, highest first."""
    latest: dict[int | None, tuple[datetime, Mapping[str, Any]]] = {}
    for credential in credentials:
        evidence = _first_evidence(credential)
        if "TestDetails" in _types(evidence):
            continue
        dose = parse_int(evidence.get("dose"))
        issued = parse_timestamp(credential.get("issuanceDate")) or datetime.min.replace(tzinfo=UTC)
        kept = latest.get(dose)
        if kept is None or issued > kept[0]:
            latest[dose] = (issued, evidence)
    ordered = sorted(latest.items(), key=lambda item: -1 if item[0] is None else item[0])
    return tuple(_dose_row(dose, evidence, tz) for dose, (_, evidence) in reversed(ordered))


def mask_identity(identity: str, ref_id: str = "") -> str:
    """The identity document as ``<Type> XXXXXXXX1234``: only the last 4 characters shown.

    DIVOC subject ids look like ``did:in.gov.uidai.aadhaar:234234233334``. When the id holds
    only the beneficiary reference (DIVOC's ``did:<issuer>:<preEnrollmentCode>`` fallback),
    there is no document to show and the result is empty.
    """
    value = identity.strip()
    kind, _, number = value.rpartition(":")
    number = number.strip()
    if not number or number == ref_id.strip() or number.upper() == "NA":
        return ""
    visible = number[-4:] if len(number) > 4 else ""
    masked = "X" * (len(number) - len(visible)) + visible
    label = _id_type(kind)
    return f"{label} {masked}" if label else masked


def _id_type(prefix: str) -> str:
    # "did:in.gov.uidai.aadhaar" -> "aadhaar"
    scheme = prefix.removeprefix("did:").rsplit(".", 1)[-1].strip()
    if not scheme:
        return ""
    known = ID_TYPES.get(scheme.lower().replace(" ", "").replace("_", "").replace("-", ""))
    return known or scheme


def parse_int(value: object) -> int | None:
    """Dose numbers are numbers in DIVOC's contract but strings (even empty) in the wild."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 timestamp or date as an aware datetime (UTC when no offset is given)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(text[:10]), datetime.min.time())
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_date(value: object, tz: tzinfo = UTC) -> str:
    """``02 Dec 2020`` (the day in ``tz`` for a timestamp); other text is shown as it is."""
    moment = parse_timestamp(value)
    if moment is None:
        return _text(value)
    return _day(moment.astimezone(tz) if _has_time(value) else moment)


def format_timestamp(value: object, tz: tzinfo = UTC) -> str:
    """``02 Dec 2020, 19:21 UTC`` in ``tz``; other text is shown as it is."""
    moment = parse_timestamp(value)
    if moment is None:
        return _text(value)
    if not _has_time(value):
        return _day(moment)
    local = moment.astimezone(tz)
    return f"{_day(local)}, {local.hour:02d}:{local.minute:02d} {local.tzname() or ''}".rstrip()


def _day(moment: date) -> str:
    return f"{moment.day:02d} {_MONTHS[moment.month - 1]} {moment.year}"


def parse_printed_day(text: str) -> date | None:
    """The calendar date of a view's printed date (``02 Dec 2020``, as :func:`format_date`
    writes it), so a page can show it in its reader's language; ``None`` for other text (a
    partial date such as ``1968`` is shown as it is, never invented into a day)."""
    parts = text.split()
    if len(parts) != 3 or parts[1] not in _MONTHS:
        return None
    day, year = parts[0], parts[2]
    if not (day.isdigit() and year.isdigit() and len(year) == 4):
        return None
    try:
        return date(int(year), _MONTHS.index(parts[1]) + 1, int(day))
    except ValueError:
        return None


def format_address(address: object) -> str:
    """A postal address on one line, empty parts and repeated parts left out."""
    if isinstance(address, str):
        return address.strip()
    fields = _mapping(address)
    parts: list[str] = []
    for key in (
        "streetAddress",
        "streetAddress2",
        "city",
        "district",
        "addressRegion",
        "postalCode",
        "addressCountry",
    ):
        part = _text(fields.get(key))
        if part and part not in parts:
            parts.append(part)
    return ", ".join(parts)


def _has_time(value: object) -> bool:
    return isinstance(value, str) and "T" in value.upper()


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def _dose_status(dose: int | None, total: int | None) -> str:
    """``1 / 2`` within the primary series; a booster (beyond the series) is just its number."""
    if dose is None:
        return ""
    return f"{dose} / {total}" if total is not None and dose <= total else str(dose)


def _text(value: object) -> str:
    if value is None or isinstance(value, Mapping | list):
        return ""
    return " ".join(str(value).split())


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _types(evidence: Mapping[str, Any]) -> tuple[str, ...]:
    kinds = evidence.get("type")
    if isinstance(kinds, str):
        return (kinds,)
    return tuple(str(k) for k in kinds) if isinstance(kinds, list) else ()


def _first_evidence(credential: Mapping[str, Any]) -> Mapping[str, Any]:
    evidence = credential.get("evidence")
    if isinstance(evidence, list) and evidence:
        return _mapping(evidence[0])
    return _mapping(evidence)


def _name(value: object) -> str:
    return _text(_mapping(value).get("name"))


def _beneficiary(subject: Mapping[str, Any]) -> Beneficiary:
    ref_id = _text(subject.get("refId"))
    return Beneficiary(
        name=_text(subject.get("name")),
        age=_text(subject.get("age")),
        gender=_text(subject.get("gender")),
        identity=mask_identity(_text(subject.get("id")), ref_id),
        ref_id=ref_id,
        address=format_address(subject.get("address")),
        nationality=_text(subject.get("nationality")),
    )


def _vaccination(evidence: Mapping[str, Any], tz: tzinfo) -> VaccinationDetails:
    facility = _mapping(evidence.get("facility"))
    return VaccinationDetails(
        vaccine=_text(evidence.get("vaccine")),
        manufacturer=_text(evidence.get("manufacturer")),
        batch=_text(evidence.get("batch")),
        date=format_date(evidence.get("date"), tz),
        dose=parse_int(evidence.get("dose")),
        total_doses=parse_int(evidence.get("totalDoses")),
        vaccinator=_name(evidence.get("verifier")),
        facility=_text(facility.get("name")),
        facility_address=format_address(facility.get("address")),
        valid_until=format_date(evidence.get("effectiveUntil"), tz),
    )


def _lab_test(evidence: Mapping[str, Any], tz: tzinfo) -> LabTestDetails:
    facility = _mapping(evidence.get("facility"))
    return LabTestDetails(
        test_name=_text(evidence.get("testName")),
        test_type=_text(evidence.get("testType")),
        disease=_text(evidence.get("disease")),
        manufacturer=_text(evidence.get("manufacturer")),
        sample_origin=_text(evidence.get("sampleOrigin")),
        sample_collected=format_timestamp(evidence.get("sampleCollectionTimestamp"), tz),
        result_time=format_timestamp(evidence.get("resultTimestamp"), tz),
        result=_text(evidence.get("result")),
        tester=_name(evidence.get("verifier")),
        facility=_text(facility.get("name")),
        facility_address=format_address(facility.get("address")),
        collected_at=parse_timestamp(evidence.get("sampleCollectionTimestamp")),
    )


def _dose_row(dose: int | None, evidence: Mapping[str, Any], tz: tzinfo) -> DoseRow:
    return DoseRow(
        dose=dose,
        date=format_date(evidence.get("date"), tz),
        vaccine=_text(evidence.get("vaccine")),
        manufacturer=_text(evidence.get("manufacturer")),
        batch=_text(evidence.get("batch")),
        facility=_name(evidence.get("facility")),
        certificate_id=_text(evidence.get("certificateId")),
    )
