"""Access: bearer tokens verified claim by claim, roles mapped to permissions, and the
development token issuer."""

from certdist.services.access.tokens import (
    Authorizer,
    IssuerTrust,
    LocalTokenIssuer,
    StaticKeys,
    TokenVerifier,
)
from certdist.services.access.wiring import Access, wire

__all__ = [
    "Access",
    "Authorizer",
    "IssuerTrust",
    "LocalTokenIssuer",
    "StaticKeys",
    "TokenVerifier",
    "wire",
]
