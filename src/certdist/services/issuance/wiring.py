"""Building the issuance capability from its settings view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from certdist.domain.credential import CredentialProfile
from certdist.errors import ConfigurationError
from certdist.services.common import Infrastructure, JobRunner
from certdist.services.issuance.bulk import LEASE, MAX_ATTEMPTS, BulkIssuanceService
from certdist.services.issuance.ids import CertificateIdGenerator, RandomCertificateIds
from certdist.services.issuance.service import IssuanceService
from certdist.services.issuance.status_lists import StatusLists
from certdist.services.issuance.token_status_lists import TokenStatusLists
from certdist.signing.contexts import ContextLoader
from certdist.signing.keys import KeyUse
from certdist.signing.ldproof import CredentialSigner
from certdist.storage.outbox import CompanionMessages


@dataclass(frozen=True)
class Issuance:
    certificates: IssuanceService  # issue, correct, revoke one certificate at a time
    bulk: BulkIssuanceService  # CSV uploads, row by row
    status_lists: StatusLists | None  # Bitstring Status Lists, when the deployment opted in
    #: Token Status Lists of the SD-JWT VCs (always on): ``allocate`` once per issued copy.
    token_status_lists: TokenStatusLists
    bulk_poll_seconds: float = 30.0

    def start_upload_jobs(self) -> JobRunner:
        """The background thread that resumes uploads whose process died."""
        self.bulk.carry_on()
        runner = JobRunner(self.bulk, poll_seconds=self.bulk_poll_seconds, name="bulk-uploads")
        runner.start()
        return runner


def wire(
    profile: CredentialProfile,
    infrastructure: Infrastructure,
    *,
    contexts: ContextLoader,
    ids: CertificateIdGenerator | None = None,
    companions: CompanionMessages | None = None,
    bulk_lease: timedelta = LEASE,
    bulk_max_attempts: int = MAX_ATTEMPTS,
    bulk_poll_seconds: float = 30.0,
) -> Issuance:
    """``companions``: the messages (notifications) stored in the same transaction as each
    batch of new certificates, so none is announced that was not stored, nor stored silently."""
    database = infrastructure.database
    signer = CredentialSigner(infrastructure.keys.active(KeyUse.CREDENTIAL), contexts)
    status_lists = None
    if profile.status_list_size is not None:
        status_lists = StatusLists(
            database.status_lists(),
            database.certificates(),
            signer,
            infrastructure.clock,
            public_url=infrastructure.site.public_url,
            issuer=profile.issuer,
            size=profile.status_list_size,
        )
    certificates = IssuanceService(
        database.certificates(companions=companions),
        signer,
        profile,
        infrastructure.clock,
        ids or RandomCertificateIds(),
        phone_region=infrastructure.site.phone_region,
        metrics=infrastructure.metrics,
        status_lists=status_lists,
    )
    return Issuance(
        certificates=certificates,
        bulk=BulkIssuanceService(
            certificates,
            database.uploads(),
            database.upload_jobs(),
            infrastructure.clock,
            lease=bulk_lease,
            max_attempts=bulk_max_attempts,
        ),
        status_lists=status_lists,
        token_status_lists=token_status_lists(infrastructure),
        bulk_poll_seconds=bulk_poll_seconds,
    )


def token_status_lists(infrastructure: Infrastructure) -> TokenStatusLists:
    """Signed with the SD-JWT VC issuer key (the SMART Health Card key, see
    ``services.distribution.wallet``), as the credentials whose status they carry."""
    key = infrastructure.keys.active(KeyUse.SHC).private_key
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError("the SMART Health Card key must be EC P-256")
    return TokenStatusLists(
        infrastructure.database.token_status_lists(),
        infrastructure.database.certificates(),
        key,
        infrastructure.clock,
        public_url=infrastructure.site.public_url,
    )
