"""Building the access capability from its settings view."""

from __future__ import annotations

from dataclasses import dataclass

from jwcrypto import jwk

from certdist.config import LOCAL_TOKEN_AUDIENCE, LOCAL_TOKEN_ISSUER, AccessSection, TrustedIssuer
from certdist.domain.roles import Permission
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
    trusted = [trust for entry in section.trusted_issuers if (trust := _trust(entry))]
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


def _trust(entry: TrustedIssuer) -> IssuerTrust | None:
    if entry.jwks_url:
        source: KeySource = remote_jwks(entry.jwks_url)
    elif entry.public_key_file:
        keyset = jwk.JWKSet()
        keyset.add(jwk.JWK.from_pem(entry.public_key_file.read_bytes()))
        source = StaticKeys(keyset)
    else:
        return None
    return IssuerTrust(
        issuer=entry.issuer,
        audience=entry.audience,
        keys=source,
        client_id=entry.client_id,
        algorithms=tuple(entry.algorithms),
    )
