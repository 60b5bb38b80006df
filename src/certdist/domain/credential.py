"""Build the unsigned W3C credential exactly as DIVOC does (docs/architecture.md, “Wire
compatibility with DIVOC”).

Key order matters only for the stored bytes (the signature covers the canonical form), but
we keep DIVOC's order so our JSON looks like DIVOC's to anyone diffing them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from certdist.domain.requests import (
    Address,
    CertificationRequest,
    Person,
    Recipient,
    TestCertificationRequest,
)

CREDENTIALS_V1 = "https://www.w3.org/2018/credentials/v1"


@dataclass(frozen=True)
class CredentialProfile:
    """The deployment-specific parts of every credential."""

    issuer: str
    base_url: str
    vaccination_context: str
    test_context: str
    did_prefix: str = "did:divoc"
    address_country: str = "IN"
    vaccine_codes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: Entries of each Bitstring Status List; None: credentials carry no credentialStatus.
    status_list_size: int | None = None

    @property
    def vaccination_v2(self) -> bool:
        # v2 of the vaccination context adds dob, icd11Code and prophylaxis.
        return self.vaccination_context.rstrip("/").endswith("/v2")


def js_iso(moment: datetime) -> str:
    """JavaScript's ``Date.toISOString()``: UTC, milliseconds, ``Z`` (DIVOC's format)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def age_in_years(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def _address(address: Address, default_country: str) -> dict[str, str]:
    return {
        "streetAddress": address.addressLine1,
        "streetAddress2": address.addressLine2,
        "district": address.district,
        "city": address.city,
        "addressRegion": address.state,
        "addressCountry": address.country or default_country,
        "postalCode": address.pincode,
    }


def _subject(
    recipient: Recipient, code: str, on: date, profile: CredentialProfile, *, with_dob: bool
) -> dict[str, Any]:
    identity = recipient.identity
    if not identity or identity.upper() == "NA":
        identity = f"{profile.did_prefix}:{code}"
    age = recipient.age if recipient.age is not None else str(age_in_years(recipient.dob, on))
    subject: dict[str, Any] = {
        "type": "Person",
        "id": identity,
        "refId": code,
        "name": recipient.name,
        "gender": recipient.gender,
        "age": age,
    }
    if with_dob:
        subject["dob"] = recipient.dob.isoformat()
    subject["nationality"] = recipient.nationality
    subject["address"] = _address(recipient.address, profile.address_country)
    return subject


def _evidence_head(certificate_id: str, profile: CredentialProfile) -> dict[str, Any]:
    base = profile.base_url if profile.base_url.endswith("/") else profile.base_url + "/"
    return {
        "id": f"{base}vaccine/{certificate_id}",
        "feedbackUrl": f"{base}?{certificate_id}",
        "infoUrl": f"{base}?{certificate_id}",
        "certificateId": certificate_id,
    }


def vaccination_credential(
    request: CertificationRequest,
    *,
    certificate_id: str,
    issued_at: datetime,
    profile: CredentialProfile,
) -> dict[str, Any]:
    """The unsigned ``ProofOfVaccinationCredential`` for one vaccination event."""
    vaccination = request.vaccination
    v2 = profile.vaccination_v2
    evidence = _evidence_head(certificate_id, profile)
    evidence["type"] = ["Vaccination"]
    evidence["batch"] = vaccination.batch
    evidence["vaccine"] = vaccination.name
    if v2:
        codes = profile.vaccine_codes.get(vaccination.name.strip().lower(), {})
        evidence["icd11Code"] = codes.get("icd11Code", "")
        evidence["prophylaxis"] = codes.get("prophylaxis", "")
    evidence["manufacturer"] = vaccination.manufacturer
    evidence["date"] = js_iso(vaccination.date)
    evidence["effectiveStart"] = (
        vaccination.effectiveStart.isoformat() if vaccination.effectiveStart else ""
    )
    evidence["effectiveUntil"] = (
        vaccination.effectiveUntil.isoformat() if vaccination.effectiveUntil else ""
    )
    evidence["dose"] = vaccination.dose
    evidence["totalDoses"] = vaccination.totalDoses
    return _credential(
        request,
        evidence,
        verifier=request.vaccinator,
        context=profile.vaccination_context,
        credential_type="ProofOfVaccinationCredential",
        subject=_subject(
            request.recipient,
            request.preEnrollmentCode,
            vaccination.date.date(),
            profile,
            with_dob=v2,
        ),
        issued_at=issued_at,
        profile=profile,
    )


def lab_test_credential(
    request: TestCertificationRequest,
    *,
    certificate_id: str,
    issued_at: datetime,
    profile: CredentialProfile,
) -> dict[str, Any]:
    """The unsigned ``ProofOfTestCertificateCredential`` for one lab test."""
    details = request.testDetails
    evidence = _evidence_head(certificate_id, profile)
    evidence["type"] = ["TestDetails"]
    evidence["batch"] = details.batch
    evidence["testName"] = details.testName
    evidence["testType"] = details.testType
    evidence["manufacturer"] = details.manufacturer
    evidence["disease"] = details.disease
    evidence["sampleOrigin"] = details.sampleOrigin
    evidence["sampleCollectionTimestamp"] = js_iso(details.sampleCollectionTimestamp)
    evidence["resultTimestamp"] = js_iso(details.resultTimestamp)
    evidence["result"] = details.result
    subject = _subject(
        request.recipient,
        request.preEnrollmentCode,
        details.sampleCollectionTimestamp.date(),
        profile,
        with_dob=False,
    )
    return _credential(
        request,
        evidence,
        verifier=request.verifier,
        context=profile.test_context,
        credential_type="ProofOfTestCertificateCredential",
        subject=subject,
        issued_at=issued_at,
        profile=profile,
    )


def _credential(
    request: CertificationRequest | TestCertificationRequest,
    evidence: dict[str, Any],
    *,
    verifier: Person,
    context: str,
    credential_type: str,
    subject: dict[str, Any],
    issued_at: datetime,
    profile: CredentialProfile,
) -> dict[str, Any]:
    """The envelope every DIVOC credential shares; the evidence ends with who and where."""
    evidence["verifier"] = {"name": verifier.name}
    evidence["facility"] = {
        "name": request.facility.name,
        "address": _address(request.facility.address, profile.address_country),
    }
    return {
        "@context": [CREDENTIALS_V1, context],
        "type": ["VerifiableCredential", credential_type],
        "credentialSubject": subject,
        "issuer": profile.issuer,
        "issuanceDate": js_iso(issued_at),
        "evidence": [evidence],
        "nonTransferable": "true",
    }
