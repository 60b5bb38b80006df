"""Repository protocols the services depend on.

Every query names ``pre_enrollment_code`` or goes through the certificate-id lookup table,
so the same code runs on one SQLite file and on PostgreSQL hash-partitioned by that column.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple, Protocol

from certdist.domain.models import (
    CertificateRecord,
    Download,
    Upload,
    UploadRowError,
    UploadStatus,
)


class WithdrawnCertificate(NamedTuple):
    """A certificate no longer live: revoked, or (``revoked`` False) superseded by a
    correction."""

    certificate_id: str
    revoked: bool


class WithdrawnCertificates(NamedTuple):
    total: int  # every withdrawn certificate of the type, however many ``newest`` holds
    newest: list[WithdrawnCertificate]  # most recently withdrawn first


class CertificateRepository(Protocol):
    def add(self, records: Sequence[CertificateRecord]) -> None:
        """Store new certificates atomically: all of them or none.

        Raises ``DuplicateCertificate`` when a live certificate already exists for the same
        (pre_enrollment_code, entity_type, program_id, dose), or when two records in
        ``records`` collide with each other. Dose ``None`` never collides. Re-adding records
        that are already stored exactly as given is a no-op, so a retry after a lost commit
        acknowledgement neither fails nor duplicates.
        """

    def replace(self, old: CertificateRecord, new: CertificateRecord) -> None:
        """A correction, atomically: store ``new`` and mark ``old`` superseded by it.

        Raises ``Conflict`` when ``old`` is no longer live (a concurrent correction won).
        """

    def replace_many(self, pairs: Sequence[tuple[CertificateRecord, CertificateRecord]]) -> None:
        """Several ``(old, new)`` corrections in one transaction: all of them or none.

        Raises ``Conflict`` when any ``old`` is no longer live, and ``DuplicateCertificate`` or
        ``Conflict`` as ``add`` does when the new records collide.
        """

    def get(self, certificate_id: str) -> CertificateRecord | None:
        """The certificate with this id, live or not (through the lookup table)."""

    def for_beneficiary(
        self, pre_enrollment_code: str, *, include_inactive: bool = False
    ) -> list[CertificateRecord]:
        """The beneficiary's certificates, oldest first."""

    def for_mobile(self, mobile: str) -> list[CertificateRecord]:
        """Live certificates registered to this E.164 mobile number."""

    def find_live(
        self, pre_enrollment_code: str, entity_type: str, program_id: str, dose: int | None
    ) -> CertificateRecord | None: ...

    def revoke(
        self,
        pre_enrollment_code: str,
        doses: Sequence[int] | None,
        *,
        at: datetime,
        reason: str,
    ) -> list[CertificateRecord]:
        """Revoke the live certificates of the beneficiary (only the named doses unless
        ``doses`` is None) and return them as revoked."""

    def is_revoked(self, certificate_id: str) -> bool:
        """True if the certificate is revoked (superseded certificates are not revoked)."""

    def withdrawn(self, entity_type: str, *, limit: int) -> WithdrawnCertificates:
        """The certificates of that type that were revoked or superseded, at most ``limit``
        of them, most recently withdrawn first (revocation lists are built from these)."""

    def ping(self) -> None:
        """Raise ``StorageUnavailable`` unless the database answers within its deadline."""


class UploadRepository(Protocol):
    def create(self, upload: Upload) -> None: ...

    def finish(
        self,
        upload_id: str,
        *,
        status: UploadStatus,
        total_rows: int,
        succeeded: int,
        failed: int,
        at: datetime,
    ) -> None: ...

    def fail_abandoned(self, *, before: datetime, at: datetime) -> int:
        """Fail the uploads processing with no sign of life since ``before`` and no job to
        resume them (uploads from before migration 0013)."""

    def add_errors(self, errors: Sequence[UploadRowError]) -> None: ...

    def get(self, upload_id: str) -> Upload | None: ...

    def list(self, *, uploaded_by: str | None = None, limit: int = 100) -> list[Upload]:
        """Newest first; only that user's uploads when ``uploaded_by`` is given."""

    def errors(self, upload_id: str) -> builtins.list[UploadRowError]:
        """Row errors of the upload, by row number."""


class DownloadAudit(Protocol):
    """Append-only: there is no way to change or remove an entry."""

    def record(self, download: Download) -> None: ...

    def for_beneficiary(self, pre_enrollment_code: str, *, limit: int = 100) -> list[Download]:
        """Newest first."""
