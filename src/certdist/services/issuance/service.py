"""Issuing, correcting and revoking certificates (DIVOC's certify / update / revoke)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from certdist.domain.credential import (
    CredentialProfile,
    lab_test_credential,
    vaccination_credential,
)
from certdist.domain.models import TEST, VACCINATION, CertificateRecord, UploadRow
from certdist.domain.phone import normalize_mobile
from certdist.domain.requests import CertificationRequest, TestCertificationRequest
from certdist.errors import Conflict, DuplicateCertificate, FieldError, InvalidInput, NotFound
from certdist.services.common import NO_METRICS, Clock, Metrics, new_record_id
from certdist.services.issuance.ids import CertificateIdGenerator
from certdist.signing.contexts import STATUS_LIST_V1
from certdist.storage.repository import CertificateRepository
from certdist.storage.upload_jobs import UPLOAD_ROW_META

log = logging.getLogger(__name__)

AnyRequest = CertificationRequest | TestCertificationRequest
_ID_COLLISION_RETRIES = 3


class StatusIndexes(Protocol):
    """Gives each new credential its ``credentialStatus`` (``status_lists.StatusLists``)."""

    def allocate(self, certificate_id: str) -> dict[str, Any]: ...


class CredentialSigner(Protocol):
    """Signs a credential with the active credential key (see ``certdist.signing``)."""

    @property
    def key_id(self) -> str: ...

    def sign(self, credential: Mapping[str, Any], *, created: datetime) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Issued:
    """What the API answers for each certified item."""

    pre_enrollment_code: str
    certificate_id: str
    dose: int | None
    program_id: str
    previous_certificate_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "preEnrollmentCode": self.pre_enrollment_code,
            "certificateId": self.certificate_id,
            "programId": self.program_id,
        }
        if self.dose is not None:
            out["dose"] = self.dose
        if self.previous_certificate_id:
            out["previousCertificateId"] = self.previous_certificate_id
        return out


def dump_signed(credential: Mapping[str, Any]) -> str:
    """The stored and served text: compact like DIVOC's ``JSON.stringify``."""
    return json.dumps(credential, ensure_ascii=False, separators=(",", ":"))


class IssuanceService:
    def __init__(
        self,
        certificates: CertificateRepository,
        signer: CredentialSigner,
        profile: CredentialProfile,
        clock: Clock,
        ids: CertificateIdGenerator,
        *,
        phone_region: str,
        metrics: Metrics = NO_METRICS,
        status_lists: StatusIndexes | None = None,
    ) -> None:
        """``status_lists``: new credentials get a Bitstring Status List entry (opt-in)."""
        self._certificates = certificates
        self._status_lists = status_lists
        self._metrics = metrics
        self._signer = signer
        self._profile = profile
        self._clock = clock
        self._ids = ids
        self._phone_region = phone_region

    # --- issuing ---------------------------------------------------------------------------

    def certify(
        self, requests: Sequence[AnyRequest], *, origins: Sequence[UploadRow] | None = None
    ) -> list[Issued]:
        """Sign and store every request, all or none. ``origins``: the upload row of each
        request, stored with its certificate (a resumed upload skips the rows it finds).

        Raises ``InvalidInput`` (bad contacts), ``DuplicateCertificate`` (409) when a live
        certificate exists for the same beneficiary, programme and dose.
        """
        mobiles = self._mobiles(requests)
        for request in requests:
            self._refuse_duplicate(request)
        sources = list(origins) if origins is not None else [None] * len(requests)
        for attempt in range(_ID_COLLISION_RETRIES):
            records = [
                self._record(r, m, origin=o)
                for r, m, o in zip(requests, mobiles, sources, strict=True)
            ]
            try:
                self._certificates.add(records)
            except DuplicateCertificate:
                raise
            except Conflict:
                # A certificateId collided with a stored one (one in 10^11): draw new ids.
                log.warning("certificate id collision, retrying", extra={"attempt": attempt})
                continue
            self._count(records)
            return [_issued(record) for record in records]
        raise Conflict("could not allocate unique certificate ids; retry the request")

    def correct(self, requests: Sequence[CertificationRequest]) -> list[Issued]:
        """DIVOC's correction: a new certificate for the same dose supersedes the live one."""
        mobiles = self._mobiles(requests)
        pairs: list[tuple[CertificateRecord, CertificateRecord]] = []
        for index, (request, mobile) in enumerate(zip(requests, mobiles, strict=True)):
            old = self._certificates.find_live(
                request.preEnrollmentCode,
                VACCINATION,
                request.programId,
                request.vaccination.dose,
            )
            if old is None:
                raise NotFound(
                    f"item {index}: no live certificate for this beneficiary, programme and "
                    f"dose {request.vaccination.dose} to correct"
                )
            pairs.append((old, self._record(request, mobile, previous=old.certificate_id)))
        self._certificates.replace_many(pairs)
        self._count([new for _, new in pairs])
        return [_issued(new) for _, new in pairs]

    def revoke(
        self, pre_enrollment_code: str, doses: Sequence[int] | None, *, reason: str
    ) -> list[CertificateRecord]:
        revoked = self._certificates.revoke(
            pre_enrollment_code, doses, at=self._clock.now(), reason=reason
        )
        if not revoked:
            raise NotFound("no live certificate to revoke for this beneficiary and doses")
        return revoked

    # --- reading ---------------------------------------------------------------------------

    def signed_credential(self, certificate_id: str) -> str:
        record = self._certificates.get(certificate_id)
        if record is None:
            raise NotFound("no certificate with this certificateId")
        return record.certificate

    def is_revoked(self, credential: Mapping[str, Any]) -> bool:
        """For verifier apps: is this credential revoked or superseded by a correction?

        Raises ``InvalidInput`` when the credential carries no certificateId and ``NotFound``
        when we never issued it.
        """
        certificate_id = _certificate_id_of(credential)
        record = self._certificates.get(certificate_id)
        if record is None:
            raise NotFound("no certificate with this certificateId")
        return not record.is_live

    # --- helpers ---------------------------------------------------------------------------

    def _mobiles(self, requests: Sequence[AnyRequest]) -> list[str | None]:
        mobiles: list[str | None] = []
        errors: list[FieldError] = []
        for index, request in enumerate(requests):
            mobile = None
            for position, contact in enumerate(request.recipient.contact):
                if not contact.startswith("tel:"):
                    continue
                try:
                    normalized = normalize_mobile(contact, self._phone_region)
                except ValueError as exc:
                    errors.append(FieldError(f"{index}.recipient.contact.{position}", str(exc)))
                    continue
                mobile = mobile or normalized
            mobiles.append(mobile)
        if errors:
            raise InvalidInput("invalid certification request", errors)
        return mobiles

    def _refuse_duplicate(self, request: AnyRequest) -> None:
        if isinstance(request, TestCertificationRequest):
            return  # a person may have many lab tests
        dose = request.vaccination.dose
        if self._certificates.find_live(
            request.preEnrollmentCode, VACCINATION, request.programId, dose
        ):
            raise DuplicateCertificate(request.preEnrollmentCode, request.programId, dose)

    def _count(self, records: Sequence[CertificateRecord]) -> None:
        for entity_type in {r.entity_type for r in records}:
            issued = sum(1 for r in records if r.entity_type == entity_type)
            self._metrics.certificates_issued(entity_type, issued)

    def _record(
        self,
        request: AnyRequest,
        mobile: str | None,
        *,
        previous: str | None = None,
        origin: UploadRow | None = None,
    ) -> CertificateRecord:
        now = self._clock.now()
        certificate_id = self._ids.new_certificate_id()
        credential: dict[str, Any]
        if isinstance(request, CertificationRequest):
            credential = vaccination_credential(
                request, certificate_id=certificate_id, issued_at=now, profile=self._profile
            )
            entity_type, dose, total = (
                VACCINATION,
                request.vaccination.dose,
                request.vaccination.totalDoses,
            )
        else:
            credential = lab_test_credential(
                request, certificate_id=certificate_id, issued_at=now, profile=self._profile
            )
            entity_type, dose, total = TEST, None, None
        if self._status_lists is not None:
            # The index is claimed before signing: a certificate that then fails to be
            # stored leaves an index no credential names, never one that two credentials do.
            credential["@context"] = [*credential["@context"], STATUS_LIST_V1]
            credential["credentialStatus"] = self._status_lists.allocate(certificate_id)
        signed = self._signer.sign(credential, created=now)
        meta = dict(request.meta)
        if previous:
            meta["previousCertificateId"] = previous
        if origin is not None:
            meta[UPLOAD_ROW_META] = origin.row
        return CertificateRecord(
            id=new_record_id(),
            certificate_id=certificate_id,
            pre_enrollment_code=request.preEnrollmentCode,
            entity_type=entity_type,
            program_id=request.programId,
            dose=dose,
            total_doses=total,
            name=request.recipient.name,
            dob=request.recipient.dob,
            gender=request.recipient.gender,
            mobile=mobile,
            contacts=tuple(request.recipient.contact),
            certificate=dump_signed(signed),
            key_id=self._signer.key_id,
            created_at=now,
            updated_at=now,
            meta=meta,
            upload_id=None if origin is None else origin.upload_id,
            previous_certificate_id=previous,
        )


def _issued(record: CertificateRecord) -> Issued:
    return Issued(
        pre_enrollment_code=record.pre_enrollment_code,
        certificate_id=record.certificate_id,
        dose=record.dose,
        program_id=record.program_id,
        previous_certificate_id=record.previous_certificate_id,
    )


def _certificate_id_of(credential: Mapping[str, Any]) -> str:
    evidence = credential.get("evidence")
    if isinstance(evidence, list) and evidence and isinstance(evidence[0], Mapping):
        certificate_id = evidence[0].get("certificateId")
        if isinstance(certificate_id, str | int) and str(certificate_id):
            return str(certificate_id)
    raise InvalidInput(
        "the credential has no evidence[0].certificateId",
        [FieldError("evidence.0.certificateId", "required")],
    )
