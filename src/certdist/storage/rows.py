"""Converting between ``CertificateRecord`` and a row of the ``certificates`` table.

Kept apart from the queries so the mapping — the one place that knows every column — is
easy to check against ``schema.py`` when a column is added.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from certdist.domain.models import CertificateRecord


def certificate_values(record: CertificateRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "pre_enrollment_code": record.pre_enrollment_code,
        "certificate_id": record.certificate_id,
        "entity_type": record.entity_type,
        "program_id": record.program_id,
        "dose": record.dose,
        "total_doses": record.total_doses,
        "name": record.name,
        "dob": record.dob,
        "gender": record.gender,
        "mobile": record.mobile,
        "contacts": list(record.contacts),
        "certificate": record.certificate,
        "key_id": record.key_id,
        "meta": dict(record.meta),
        "upload_id": record.upload_id,
        "previous_certificate_id": record.previous_certificate_id,
        "superseded_by": record.superseded_by,
        "revoked_at": record.revoked_at,
        "revocation_reason": record.revocation_reason,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def certificate_record(row: Mapping[Any, Any]) -> CertificateRecord:
    return CertificateRecord(
        id=row["id"],
        certificate_id=row["certificate_id"],
        pre_enrollment_code=row["pre_enrollment_code"],
        entity_type=row["entity_type"],
        program_id=row["program_id"],
        dose=row["dose"],
        total_doses=row["total_doses"],
        name=row["name"],
        dob=row["dob"],
        gender=row["gender"],
        mobile=row["mobile"],
        contacts=tuple(row["contacts"]),
        certificate=row["certificate"],
        key_id=row["key_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        meta=row["meta"],
        upload_id=row["upload_id"],
        previous_certificate_id=row["previous_certificate_id"],
        superseded_by=row["superseded_by"],
        revoked_at=row["revoked_at"],
        revocation_reason=row["revocation_reason"],
    )
