"""Issuance: signing certificates one by one or from bulk CSV uploads, correcting and
revoking them, and the demo family of the embedded default."""

from certdist.services.issuance.bulk import BulkIssuanceService
from certdist.services.issuance.ids import (
    CertificateIdGenerator,
    RandomCertificateIds,
    SequentialCertificateIds,
)
from certdist.services.issuance.service import IssuanceService
from certdist.services.issuance.wiring import Issuance, credential_profile, wire

__all__ = [
    "BulkIssuanceService",
    "CertificateIdGenerator",
    "Issuance",
    "IssuanceService",
    "RandomCertificateIds",
    "SequentialCertificateIds",
    "credential_profile",
    "wire",
]
