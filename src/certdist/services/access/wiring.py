"""Building the access capability from its settings view."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jwcrypto import jwk

from certdist.config import LOCAL_TOKEN_AUDIENCE, LOCAL_TOKEN_ISSUER, AccessSection, TrustedIssuer
from certdist.domain.roles import Permission
from certdist.errors import ConfigurationError
from certdist.services.access.tokens import (
    Authorizer,
    IssuerTrust,
    KeySource,
    LocalTokenIssuer,
    StaticKeys,
    TokenVerifier,
    remote_jwks,
)
from certdist.services.common import Infrastructure
from certdist.signing.keys import KeyUse


@dataclass(frozen=True)
class Access:
    """Who is calling and what they may do."""

    tokens: TokenVerifier
    authorizer: Authorizer
    trusted: tuple[IssuerTrust, ...]  # every token issuer trusted, the local one included
    local_issuer: LocalTokenIssuer | None  # development only: ``certdist token``
    section: AccessSection

    def roles_for(self, permission: Permission) -> tuple[str, ...]:
        return self.section.roles_for(permission)


def wire(section: AccessSection, infrastructure: Infrastructure) -> Access:
    trusted = [issuer_trust(entry) for entry in section.trusted_issuers]
    local_issuer = None
    if section.local_token_issuer and not infrastructure.site.production:
        key = jwk.JWK.from_pyca(infrastructure.keys.active(KeyUse.TOKEN).private_key)
        local_issuer = LocalTokenIssuer(
            key,
            issuer=LOCAL_TOKEN_ISSUER,
            audience=LOCAL_TOKEN_AUDIENCE,
            clock=infrastructure.clock,
        )
        trusted.append(local_issuer.trust())
    return Access(
        tokens=TokenVerifier(trusted, infrastructure.clock),
        authorizer=Authorizer(section.roles),
        trusted=tuple(trusted),
        local_issuer=local_issuer,
        section=section,
    )


def issuer_trust(entry: TrustedIssuer) -> IssuerTrust:
    """What the token verifier needs of one configured issuer (its keys are read now)."""
    if entry.jwks_url:
        source: KeySource = remote_jwks(entry.jwks_url)
    else:
        assert entry.public_key_file is not None  # the settings require one of the two
        source = StaticKeys(_public_key(entry.public_key_file, entry.issuer))
    return IssuerTrust(
        issuer=entry.issuer,
        audience=entry.audience,
        keys=source,
        client_id=entry.client_id,
        algorithms=tuple(entry.algorithms),
    )


def _public_key(path: Path, issuer: str) -> jwk.JWKSet:
    """The PEM public key of a trusted issuer, as a key set; ConfigurationError if unusable."""
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise ConfigurationError(
            f"cannot read the public key of trusted issuer {issuer!r} ({path}): {error.strerror}"
        ) from None
    try:
        key = jwk.JWK.from_pem(pem)
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"{path} (trusted issuer {issuer!r}) is not a PEM public key"
        ) from None
    keyset = jwk.JWKSet()
    keyset.add(key)
    return keyset
