"""Stored records of certdist, as plain immutable values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from certdist.errors import FieldError

VACCINATION = "VaccinationCertificate"
TEST = "TestCertificate"


@dataclass(frozen=True)
class CertificateRecord:
    """One signed certificate as stored.

    ``certificate`` is the exact JSON text that was signed and is served byte for byte.
    A record is *live* while it is neither revoked nor superseded by a correction; only live
    records are ever served to citizens.
    """

    id: str
    certificate_id: str
    pre_enrollment_code: str
    entity_type: str
    program_id: str
    dose: int | None
    total_doses: int | None
    name: str
    dob: date | None
    gender: str
    mobile: str | None
    contacts: tuple[str, ...]
    certificate: str
    key_id: str
    created_at: datetime
    updated_at: datetime
    meta: Mapping[str, Any] = field(default_factory=dict)
    upload_id: str | None = None
    previous_certificate_id: str | None = None
    superseded_by: str | None = None
    revoked_at: datetime | None = None
    revocation_reason: str | None = None

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.superseded_by is None


class UploadStatus(StrEnum):
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class Upload:
    """A bulk CSV upload and its running totals."""

    id: str
    filename: str
    entity_type: str
    uploaded_by: str
    created_at: datetime
    status: UploadStatus
    total_rows: int = 0
    succeeded: int = 0
    failed: int = 0
    finished_at: datetime | None = None


@dataclass(frozen=True)
class UploadJob:
    """The work left of an upload still processing, as held by one process's lease.

    ``next_record`` counts the CSV records (non-blank lines, or lines the CSV reader refused)
    whose outcome is stored: the certificates, the totals on ``upload`` and the row errors.
    ``attempts`` counts the claims; with ``claimed_by`` it names this holder's lease."""

    upload: Upload
    program_id: str
    csv: bytes
    total_rows: int
    next_record: int
    attempts: int
    claimed_by: str | None
    lease_expires_at: datetime


@dataclass(frozen=True)
class UploadRow:
    """Where a certificate issued by a bulk upload came from (stored with the certificate, so
    an upload resumed after a crash knows which of its rows were already issued)."""

    upload_id: str
    row: int


@dataclass(frozen=True)
class UploadRowError:
    """Why one row of an upload was not issued. ``row`` counts the header as row 1."""

    upload_id: str
    row: int
    pre_enrollment_code: str
    errors: tuple[FieldError, ...]


@dataclass(frozen=True)
class Download:
    """One delivered certificate, for the append-only audit."""

    id: str
    at: datetime
    actor: str
    issuer: str
    permission: str
    certificate_id: str
    pre_enrollment_code: str
    format: str
