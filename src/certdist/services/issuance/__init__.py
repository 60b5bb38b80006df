"""Issuance: signing certificates one by one or from bulk CSV uploads, correcting and
revoking them, and the demo family of the embedded default."""

from certdist.services.issuance.bulk import BulkIssuanceService, errors_csv, read_csv
from certdist.services.issuance.demo import DEMO_MOBILE, seed_demo
from certdist.services.issuance.ids import (
    CertificateIdGenerator,
    RandomCertificateIds,
    SequentialCertificateIds,
)
from certdist.services.issuance.service import AnyRequest, IssuanceService
from certdist.services.issuance.status_lists import StatusLists
from certdist.services.issuance.token_status_lists import TokenStatusLists
from certdist.services.issuance.wiring import Issuance, wire

__all__ = [
    "DEMO_MOBILE",
    "AnyRequest",
    "BulkIssuanceService",
    "CertificateIdGenerator",
    "Issuance",
    "IssuanceService",
    "RandomCertificateIds",
    "SequentialCertificateIds",
    "StatusLists",
    "TokenStatusLists",
    "errors_csv",
    "read_csv",
    "seed_demo",
    "wire",
]
