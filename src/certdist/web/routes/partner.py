"""The partner API under ``/cert/external`` (DIVOC's paths), for tokens with the partner role.

A wrong mobile number and an unknown beneficiary id are the same 404 with the same body.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from certdist.domain.requests import PRE_ENROLLMENT_CODE_PATTERN
from certdist.domain.roles import Permission, Principal
from certdist.web.deps import ServicesDep, caller_with
from certdist.web.documents import private_document

router = APIRouter(prefix="/cert/external", tags=["partner"])

PartnerCaller = Annotated[Principal, Depends(caller_with(Permission.PARTNER))]


class PartnerLookup(BaseModel):
    # Extra keys are ignored: DIVOC's partner clients may send more than these two.
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"mobile": "9000000001", "beneficiaryId": "DEMO0001"}]},
    )

    mobile: str = Field(min_length=4, max_length=20, pattern=r"^\+?[0-9 \-]+$")
    beneficiaryId: str = Field(pattern=PRE_ENROLLMENT_CODE_PATTERN)


class PartnerCertificateOut(BaseModel):
    certificateId: str
    preEnrollmentCode: str
    entityType: str
    programId: str
    dose: int | None
    totalDoses: int | None
    issuedAt: datetime
    certificate: str = Field(description="The signed credential, byte for byte as signed")


class PartnerCertificates(BaseModel):
    certificates: list[PartnerCertificateOut]


_COMMON: dict[int | str, dict[str, Any]] = {
    403: {"description": "The token lacks the partner role"},
    404: {"description": "No live certificate for this beneficiary id and mobile number"},
    429: {"description": "Too many calls from this partner (see Retry-After)"},
}


@router.post("/api/certificates", response_model=PartnerCertificates, responses=_COMMON)
async def partner_certificates(
    services: ServicesDep, caller: PartnerCaller, lookup: PartnerLookup, response: Response
) -> PartnerCertificates:
    """The beneficiary's live signed certificates, latest first, when ``mobile`` is the
    number they are registered to."""
    found = services.integrations.partner.certificates(caller, lookup.mobile, lookup.beneficiaryId)
    response.headers["Cache-Control"] = "no-store"  # names and dates of birth
    return PartnerCertificates(
        certificates=[
            PartnerCertificateOut(
                certificateId=c.certificate_id,
                preEnrollmentCode=c.pre_enrollment_code,
                entityType=c.entity_type,
                programId=c.program_id,
                dose=c.dose,
                totalDoses=c.total_doses,
                issuedAt=c.issued_at,
                certificate=c.signed_credential,
            )
            for c in found
        ]
    )


@router.post(
    "/pdf/certificate",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The PDF"}, **_COMMON},
)
async def partner_certificate_pdf(
    services: ServicesDep, caller: PartnerCaller, lookup: PartnerLookup
) -> Response:
    """The PDF of the latest vaccination certificate, as the certificate API serves it."""
    artifact = services.integrations.partner.pdf(caller, lookup.mobile, lookup.beneficiaryId)
    return private_document(artifact)
