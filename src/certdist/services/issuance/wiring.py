"""Building the issuance capability from its settings view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from certdist.domain.credential import CredentialProfile
from certdist.errors import ConfigurationError
from certdist.services.common import Infrastructure
from certdist.services.issuance.bulk import STALE_AFTER, BulkIssuanceService
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


def wire(
    profile: CredentialProfile,
    infrastructure: Infrastructure,
    *,
    contexts: ContextLoader,
    ids: CertificateIdGenerator | None = None,
    companions: CompanionMessages | None = None,
    bulk_stale_after: timedelta = STALE_AFTER,
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
            certificates, database.uploads(), infrastructure.clock, stale_after=bulk_stale_after
        ),
        status_lists=status_lists,
        token_status_lists=token_status_lists(infrastructure),
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
