"""Bearer tokens: verify every claim (DIVOC checked only the signature), then the role.

Tokens are Keycloak-style JWTs (RS256 / ES256). Roles come from ``realm_access.roles`` and
``resource_access.<client>.roles``. A local issuer mints tokens for the embedded default;
only non-production settings ever trust it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from jwcrypto import jwk, jws, jwt
from jwcrypto.common import JWException

from certdist.domain.roles import Permission, Principal
from certdist.errors import AuthenticationFailed, PermissionDenied
from certdist.services.common import Clock, Fetch, RemoteKeySet, http_fetcher

log = logging.getLogger(__name__)

LEEWAY_SECONDS = 30
MAX_TOKEN_BYTES = 16 * 1024


class KeySource(Protocol):
    def keys(self, *, refresh: bool = False) -> jwk.JWKSet: ...


@dataclass
class StaticKeys:
    """Keys configured from PEM files or embedded."""

    keyset: jwk.JWKSet

    def keys(self, *, refresh: bool = False) -> jwk.JWKSet:
        return self.keyset


#: Bearer-token keys: a JWKS is a few KB; the provider answers in well under a second.
_JWKS_TIMEOUT_SECONDS = 5.0
_JWKS_MAX_BYTES = 1024 * 1024


def remote_jwks(
    url: str, *, fetch: Fetch | None = None, min_refresh_seconds: float = 60.0
) -> RemoteKeySet:
    """A token issuer's JWKS endpoint, cached; fetched again on an unknown key (the provider
    rotated its keys) at most once per ``min_refresh_seconds``."""
    return RemoteKeySet(
        url,
        fetch or http_fetcher(timeout_seconds=_JWKS_TIMEOUT_SECONDS, max_bytes=_JWKS_MAX_BYTES),
        unavailable=lambda: AuthenticationFailed("the token issuer's keys are unavailable"),
        min_refresh_seconds=min_refresh_seconds,
    )


@dataclass(frozen=True)
class IssuerTrust:
    issuer: str
    audience: str
    keys: KeySource
    client_id: str | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256")


class TokenVerifier:
    """Verifies bearer tokens; remembers the ones it verified.

    API clients send the same token with every request, and a signature check costs more
    than serving a cached certificate, so a verified token is remembered until it expires
    (at most ``remember_seconds``, so a key withdrawn from an issuer's JWKS stops working
    soon after). Only tokens that passed every check are remembered, by their SHA-256 (32
    bytes instead of the ~600-byte token, and no bearer secret kept in memory), at most
    ``remember`` of them.
    """

    def __init__(
        self,
        issuers: Sequence[IssuerTrust],
        clock: Clock,
        *,
        remember: int = 10_000,
        remember_seconds: float = 300.0,
    ) -> None:
        self._issuers = {trust.issuer: trust for trust in issuers}
        self._clock = clock
        self._remember = remember
        self._remember_seconds = remember_seconds
        self._verified: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str) -> Principal:
        """The caller behind a bearer token. Raises ``AuthenticationFailed`` with the reason."""
        now = self._clock.now().timestamp()
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        with self._lock:
            hit = self._verified.get(key)
            if hit is not None and now < hit[1]:
                return hit[0]
        if not token or len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
            raise AuthenticationFailed("malformed bearer token")
        unverified = _unverified_claims(token)
        trust = self._issuers.get(str(unverified.get("iss", "")))
        if trust is None:
            raise AuthenticationFailed("token issuer is not trusted")
        claims = self._verified_claims(token, trust)
        self._check_claims(claims, trust)
        principal = _principal(claims, trust)
        if self._remember:
            until = min(float(claims["exp"]), now + self._remember_seconds)
            with self._lock:
                self._verified[key] = (principal, until)
                while len(self._verified) > self._remember:
                    self._verified.popitem(last=False)
        return principal

    def _verified_claims(self, token: str, trust: IssuerTrust) -> dict[str, Any]:
        for refresh in (False, True):
            try:
                verified = jwt.JWT(
                    jwt=token,
                    key=trust.keys.keys(refresh=refresh),
                    algs=list(trust.algorithms),
                    expected_type="JWS",
                    check_claims=False,
                )
            except jws.InvalidJWSSignature as exc:
                raise AuthenticationFailed("token signature does not verify") from exc
            except (jwt.JWTMissingKey, jws.InvalidJWSObject) as exc:
                if refresh:
                    # jwcrypto reports a key set where no key verifies as a missing key.
                    raise AuthenticationFailed("token signature does not verify") from exc
                continue
            except (JWException, ValueError) as exc:
                raise AuthenticationFailed("token does not verify") from exc
            claims = json.loads(verified.claims)
            if not isinstance(claims, dict):
                raise AuthenticationFailed("token claims are not an object")
            return claims
        raise AuthenticationFailed("token signature does not verify")

    def _check_claims(self, claims: Mapping[str, Any], trust: IssuerTrust) -> None:
        now = self._clock.now().timestamp()
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            raise AuthenticationFailed("token has no expiry")
        if now > exp + LEEWAY_SECONDS:
            raise AuthenticationFailed("token has expired")
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and now + LEEWAY_SECONDS < nbf:
            raise AuthenticationFailed("token is not valid yet")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if trust.audience not in audiences:
            raise AuthenticationFailed("token is for another audience")


def _unverified_claims(token: str) -> dict[str, Any]:
    try:
        parsed = jws.JWS()
        parsed.deserialize(token)
        claims = json.loads(parsed.objects["payload"])
    except (JWException, ValueError, KeyError, TypeError) as exc:
        raise AuthenticationFailed("malformed bearer token") from exc
    if not isinstance(claims, dict):
        raise AuthenticationFailed("malformed bearer token")
    return claims


def _principal(claims: Mapping[str, Any], trust: IssuerTrust) -> Principal:
    roles: set[str] = set()
    realm = claims.get("realm_access")
    if isinstance(realm, dict):
        roles.update(r for r in realm.get("roles", []) if isinstance(r, str))
    resources = claims.get("resource_access")
    client = trust.client_id or trust.audience
    if isinstance(resources, dict) and isinstance(resources.get(client), dict):
        roles.update(r for r in resources[client].get("roles", []) if isinstance(r, str))
    subject = str(claims.get("sub", ""))
    mobile = claims.get("mobile") or claims.get("phone_number")
    return Principal(
        subject=subject,
        username=str(claims.get("preferred_username") or subject),
        roles=frozenset(roles),
        mobile=str(mobile) if mobile else None,
        issuer=trust.issuer,
    )


class Authorizer:
    """Which roles grant which permission (configurable)."""

    def __init__(self, roles: Mapping[Permission, Sequence[str]]) -> None:
        self._roles = {permission: tuple(names) for permission, names in roles.items()}

    def check(self, principal: Principal, permission: Permission) -> None:
        self.first_granted(principal, (permission,))

    def first_granted(self, principal: Principal, permissions: Sequence[Permission]) -> Permission:
        """The first of ``permissions`` its roles grant; ``PermissionDenied`` if none."""
        for permission in permissions:
            if principal.has_any(self._roles.get(permission, ())):
                return permission
        names = " or ".join(repr(p.value) for p in permissions)
        raise PermissionDenied(f"this action needs the {names} permission")


class LocalTokenIssuer:
    """Mints tokens for the embedded default (``certdist token``). Never trusted in production."""

    def __init__(self, key: jwk.JWK, *, issuer: str, audience: str, clock: Clock) -> None:
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._clock = clock

    def trust(self) -> IssuerTrust:
        public = jwk.JWK(**self._key.export_public(as_dict=True))
        public.update(kid=self._key.thumbprint())
        keyset = jwk.JWKSet()
        keyset.add(public)
        return IssuerTrust(
            issuer=self._issuer,
            audience=self._audience,
            keys=StaticKeys(keyset),
            algorithms=("ES256",),
        )

    def mint(
        self,
        roles: Sequence[str],
        *,
        username: str,
        mobile: str | None = None,
        lifetime: timedelta = timedelta(hours=12),
    ) -> str:
        now = int(self._clock.now().timestamp())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": username,
            "preferred_username": username,
            "iat": now,
            "exp": now + int(lifetime.total_seconds()),
            "realm_access": {"roles": list(roles)},
        }
        if mobile:
            claims["mobile"] = mobile
        token = jwt.JWT(
            header={"alg": "ES256", "typ": "JWT", "kid": self._key.thumbprint()}, claims=claims
        )
        token.make_signed_token(self._key)
        serialized: str = token.serialize()
        return serialized
