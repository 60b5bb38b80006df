"""Wallets: certificates issued as SD-JWT VCs over OpenID for Verifiable Credential Issuance
1.0 (pre-authorized code flow with a transaction code sent by SMS)."""

from certdist.services.openid4vci.credentials import CredentialService
from certdist.services.openid4vci.metadata import (
    CONFIGURATIONS,
    CREDENTIAL_PATH,
    NONCE_PATH,
    OFFER_PATH,
    PRE_AUTHORIZED_GRANT,
    TOKEN_PATH,
    IssuerMetadata,
)
from certdist.services.openid4vci.offers import OFFER_SCHEME, CreatedOffer, OfferService
from certdist.services.openid4vci.wiring import OpenId4Vci, wire

__all__ = [
    "CONFIGURATIONS",
    "CREDENTIAL_PATH",
    "NONCE_PATH",
    "OFFER_PATH",
    "OFFER_SCHEME",
    "PRE_AUTHORIZED_GRANT",
    "TOKEN_PATH",
    "CreatedOffer",
    "CredentialService",
    "IssuerMetadata",
    "OfferService",
    "OpenId4Vci",
    "wire",
]
