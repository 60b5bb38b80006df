"""DIVOC's issuance API under ``/divoc/api``: certify, correct, revoke, read, bulk upload."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Form, Path, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from certdist.domain.models import TEST, VACCINATION, Upload
from certdist.domain.requests import (
    PRE_ENROLLMENT_CODE_PATTERN,
    CertificationRequest,
    TestCertificationRequest,
)
from certdist.domain.roles import Permission, Principal
from certdist.errors import FieldError, InvalidInput, NotFound
from certdist.services.issuance import errors_csv
from certdist.web.deps import ServicesDep, caller_with
from certdist.web.errors import error_responses

router = APIRouter(prefix="/divoc/api", tags=["issuance"])

CodePath = Annotated[
    str, Path(pattern=PRE_ENROLLMENT_CODE_PATTERN, description="Beneficiary id", examples=["1112"])
]
CertificateIdPath = Annotated[
    str, Path(pattern=r"^[0-9A-Za-z\-]{1,64}$", examples=["906357492030"])
]
Issuer = Annotated[Principal, Depends(caller_with(Permission.ISSUE))]
#: ``_check_batch`` refuses an empty list (with its own message, so not ``min_length``).
_AT_LEAST_ONE = {"minItems": 1}

_EXAMPLE_REQUEST: dict[str, Any] = {
    "preEnrollmentCode": "1112",
    "programId": "1234",
    "recipient": {
        "name": "Bhaya Mitra",
        "dob": "1994-11-30",
        "gender": "Male",
        "nationality": "Indian",
        "identity": "did:in.gov.uidai.aadhaar:2342343334",
        "contact": ["tel:9880414889"],
        "address": {
            "addressLine1": "444, 2nd Street",
            "district": "Bengaluru",
            "state": "Karnataka",
            "pincode": "560034",
        },
    },
    "vaccination": {
        "name": "Covishield",
        "batch": "MB3428BX",
        "manufacturer": "Serum Institute of India",
        "date": "2021-05-02T10:21:18.646Z",
        "effectiveStart": "2021-05-02",
        "effectiveUntil": "2022-05-02",
        "dose": 1,
        "totalDoses": 2,
    },
    "vaccinator": {"name": "Sooraj Singh"},
    "facility": {
        "name": "ABC Medical Center",
        "address": {
            "addressLine1": "123, Koramangala",
            "district": "Bengaluru South",
            "state": "Karnataka",
            "pincode": "560034",
        },
    },
}


class IssuedCertificate(BaseModel):
    preEnrollmentCode: str
    certificateId: str
    programId: str
    dose: int | None = None
    previousCertificateId: str | None = None


class UploadSummary(BaseModel):
    id: str
    filename: str
    entityType: str
    status: str
    createdAt: str
    finishedAt: str | None
    totalRows: int
    succeeded: int
    failed: int

    @classmethod
    def of(cls, upload: Upload) -> UploadSummary:
        return cls(
            id=upload.id,
            filename=upload.filename,
            entityType=upload.entity_type,
            status=upload.status.value,
            createdAt=upload.created_at.isoformat(),
            finishedAt=upload.finished_at.isoformat() if upload.finished_at else None,
            totalRows=upload.total_rows,
            succeeded=upload.succeeded,
            failed=upload.failed,
        )


class RowError(BaseModel):
    row: int
    preEnrollmentCode: str
    errors: list[dict[str, str]]


def _check_batch(services: ServicesDep, count: int) -> None:
    if count == 0:
        raise InvalidInput("the body must contain at least one request")
    if count > services.settings.max_batch_items:
        raise InvalidInput(f"at most {services.settings.max_batch_items} requests per call")


@router.post(
    "/v1/certify",
    response_model=list[IssuedCertificate],
    response_model_exclude_none=True,
    summary="Issue vaccination certificates",
    responses=error_responses(409),
)
def certify(
    services: ServicesDep,
    _: Issuer,
    requests: Annotated[
        list[CertificationRequest],
        Body(examples=[[_EXAMPLE_REQUEST]], json_schema_extra=_AT_LEAST_ONE),
    ],
) -> list[dict[str, Any]]:
    """Sign and store one certificate per request, all or none. 409 if a live certificate
    exists for the same beneficiary, programme and dose (send a correction instead)."""
    _check_batch(services, len(requests))
    return [issued.as_json() for issued in services.issuance.certificates.certify(requests)]


@router.post(
    "/v1/test/certify",
    response_model=list[IssuedCertificate],
    response_model_exclude_none=True,
    summary="Issue lab test certificates",
    responses=error_responses(409),
)
def certify_tests(
    services: ServicesDep,
    _: Issuer,
    requests: Annotated[list[TestCertificationRequest], Body(json_schema_extra=_AT_LEAST_ONE)],
) -> list[dict[str, Any]]:
    _check_batch(services, len(requests))
    return [issued.as_json() for issued in services.issuance.certificates.certify(requests)]


@router.put(
    "/v1/certificate",
    response_model=list[IssuedCertificate],
    response_model_exclude_none=True,
    summary="Correct certificates",
    responses=error_responses(409),
)
def correct(
    services: ServicesDep,
    _: Annotated[Principal, Depends(caller_with(Permission.CORRECT))],
    requests: Annotated[
        list[CertificationRequest],
        Body(examples=[[_EXAMPLE_REQUEST]], json_schema_extra=_AT_LEAST_ONE),
    ],
) -> list[dict[str, Any]]:
    """Issue a new certificate for the same dose; the live one is marked superseded by it
    (its id is returned as ``previousCertificateId``) and is never served again."""
    _check_batch(services, len(requests))
    return [issued.as_json() for issued in services.issuance.certificates.correct(requests)]


@router.delete(
    "/v1/certificates/{preEnrollmentCode}",
    summary="Revoke certificates",
    responses=error_responses(404),
)
def revoke(
    services: ServicesDep,
    _: Annotated[Principal, Depends(caller_with(Permission.REVOKE))],
    preEnrollmentCode: CodePath,
    doses: Annotated[
        list[str] | None, Query(description="Doses to revoke: 1,2 or repeated")
    ] = None,
    allDoses: bool = False,
) -> dict[str, Any]:
    """Revoke the named doses (``doses=1,2``) or every dose (``allDoses=true``)."""
    selected = _parse_doses(doses)
    if selected is None and not allDoses:
        raise InvalidInput(
            "name the doses to revoke or set allDoses=true", [FieldError("doses", "required")]
        )
    revoked = services.issuance.certificates.revoke(
        preEnrollmentCode, None if allDoses else selected, reason="revoked by API"
    )
    return {"revoked": [{"certificateId": r.certificate_id, "dose": r.dose} for r in revoked]}


def _parse_doses(values: list[str] | None) -> list[int] | None:
    if not values:
        return None
    doses = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part.isdigit() or not 1 <= int(part) <= 20:
                raise InvalidInput(
                    "doses must be numbers from 1 to 20", [FieldError("doses", "invalid")]
                )
            doses.append(int(part))
    return doses


@router.get(
    "/v1/certificates/{certificateId}",
    summary="The signed credential",
    responses={
        200: {"content": {"application/json": {}}, "description": "The signed W3C credential"},
        **error_responses(404),
    },
)
def signed_credential(
    services: ServicesDep,
    _: Annotated[Principal, Depends(caller_with(Permission.READ_SIGNED))],
    certificateId: CertificateIdPath,
) -> Response:
    """The exact JSON text that was signed, byte for byte."""
    return Response(
        services.issuance.certificates.signed_credential(certificateId),
        media_type="application/json",
    )


@router.post(
    "/v1/certificate/revoked",
    summary="Revocation check for verifier apps",
    responses={200: {"description": "Revoked"}, 404: {"description": "Not revoked"}},
)
def revocation_check(
    services: ServicesDep, credential: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Public, as in DIVOC: 200 when the credential is revoked (or superseded by a
    correction), 404 when it is not."""
    if not services.issuance.certificates.is_revoked(credential):
        raise NotFound("certificate is not revoked")
    return {"revoked": True}


async def _start_upload(
    services: ServicesDep,
    principal: Principal,
    file: UploadFile,
    entity_type: str,
    program_id: str,
    tasks: BackgroundTasks,
) -> UploadSummary:
    data = await file.read()
    upload = services.issuance.bulk.start(
        file.filename or "upload.csv", entity_type, principal.username, data, program_id=program_id
    )
    tasks.add_task(services.issuance.bulk.run, upload.id)
    return UploadSummary.of(upload)


@router.post(
    "/v1/bulkCertify", response_model=UploadSummary, summary="Bulk vaccination upload (CSV)"
)
async def bulk_certify(
    services: ServicesDep,
    principal: Issuer,
    file: UploadFile,
    tasks: BackgroundTasks,
    programId: Annotated[str, Form(max_length=64)] = "",
) -> UploadSummary:
    """A CSV in DIVOC's column layout. Rows are issued in the background; follow progress at
    ``/v1/certify/uploads`` and per-row errors at ``/v1/certify/uploads/{id}/errors``."""
    return await _start_upload(services, principal, file, VACCINATION, programId, tasks)


@router.post(
    "/v1/test/bulkCertify", response_model=UploadSummary, summary="Bulk lab test upload (CSV)"
)
async def bulk_certify_tests(
    services: ServicesDep,
    principal: Issuer,
    file: UploadFile,
    tasks: BackgroundTasks,
    programId: Annotated[str, Form(max_length=64)] = "",
) -> UploadSummary:
    return await _start_upload(services, principal, file, TEST, programId, tasks)


@router.get("/v1/certify/uploads", response_model=list[UploadSummary], summary="My uploads")
def uploads(services: ServicesDep, principal: Issuer) -> list[UploadSummary]:
    return [UploadSummary.of(u) for u in services.issuance.bulk.uploads_of(principal.username)]


UploadId = Annotated[str, Path(pattern=r"^[0-9a-f\-]{36}$")]


@router.get(
    "/v1/certify/uploads/{uploadId}/errors",
    response_model=list[RowError],
    summary="Rows that failed",
    responses=error_responses(404),
)
def upload_errors(services: ServicesDep, principal: Issuer, uploadId: UploadId) -> list[RowError]:
    return [
        RowError(
            row=e.row,
            preEnrollmentCode=e.pre_enrollment_code,
            errors=[{"field": f.location, "message": f.message} for f in e.errors],
        )
        for e in services.issuance.bulk.row_errors(uploadId, uploaded_by=principal.username)
    ]


@router.get(
    "/v1/certify/uploads/{uploadId}/errors.csv",
    summary="Rows that failed, as CSV",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **error_responses(404),
    },
)
def upload_errors_csv(services: ServicesDep, principal: Issuer, uploadId: UploadId) -> Response:
    """One line per field error (row, preEnrollmentCode, field, message) to open in a
    spreadsheet; cells that would start a formula are prefixed with an apostrophe."""
    errors = services.issuance.bulk.row_errors(uploadId, uploaded_by=principal.username)
    return Response(
        errors_csv(errors),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="upload-{uploadId}-errors.csv"'},
    )
