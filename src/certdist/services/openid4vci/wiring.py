"""Building the OpenID4VCI capability: offers and tokens, nonces and credentials, metadata."""

from __future__ import annotations

from dataclasses import dataclass

from certdist.config import OpenId4VciSettings
from certdist.services.common import Infrastructure
from certdist.services.distribution import Distribution
from certdist.services.messaging import Messaging
from certdist.services.openid4vci.credentials import CredentialService, StatusAllocator
from certdist.services.openid4vci.grants import GrantStore
from certdist.services.openid4vci.metadata import IssuerMetadata
from certdist.services.openid4vci.offers import OfferService


@dataclass(frozen=True)
class OpenId4Vci:
    metadata: IssuerMetadata  # /.well-known/openid-credential-issuer, oauth-authorization-server
    offers: OfferService  # credential offers (tx_code by SMS) and the token endpoint
    credentials: CredentialService  # the nonce and credential endpoints


def wire(
    section: OpenId4VciSettings,
    infrastructure: Infrastructure,
    *,
    distribution: Distribution,
    messaging: Messaging,
    status: StatusAllocator | None = None,
) -> OpenId4Vci:
    """``status``: a Token Status List entry per issued copy (None: no ``status`` claim)."""
    clock = infrastructure.clock
    grants = GrantStore(infrastructure.state, infrastructure.hasher)
    issuer = distribution.issuers.sd_jwt_vc
    metadata = IssuerMetadata(
        infrastructure.site.public_url,
        vct=issuer.vct,
        issuer_names=list(section.issuer_names.items()),
        batch_size=section.batch_size,
    )
    offers = OfferService(
        grants,
        distribution.certificates,
        metadata,
        messaging.sms,
        infrastructure.rate_limiter,
        clock,
        section,
        default_language=messaging.sms_settings.default_language,
    )
    credentials = CredentialService(
        grants,
        distribution.certificates,
        issuer,
        clock,
        infrastructure.rate_limiter,
        section,
        audience=metadata.issuer,
        status=status or (lambda _certificate_id: None),
    )
    return OpenId4Vci(metadata, offers, credentials)
