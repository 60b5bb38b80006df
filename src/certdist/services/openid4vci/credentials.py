"""The nonce and credential endpoints: the Credential Issuer half of OpenID4VCI 1.0
(sections 7 and 8).

A Credential Request carries the access token of a redeemed offer and one ``jwt`` proof
per copy wanted (at most ``batch_size``). Every proof is checked (:mod:`.proofs`), then
each distinct ``c_nonce`` is spent, atomically across processes: a replayed request fails
with ``invalid_nonce`` and issues nothing. Each copy is an SD-JWT VC bound to its own
proof's key (``cnf``), with its own salts, decoys, sealed ``rid`` and status list entry, so
copies shown to different verifiers cannot be linked by anything in them. An access token
fetches at most ``batch_size`` copies in all, and every delivery is written to the
download audit in the name of the offer's maker.

The certificate is read when the credential is issued: a certificate revoked since the
offer gets ``credential_request_denied``; one corrected since then is issued as corrected.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Final

from certdist.config import OpenId4VciSettings
from certdist.errors import InsufficientScope, InvalidAccessToken, NotFound, OAuthError
from certdist.formats.sd_jwt_vc import SdJwtVcIssuer, StatusReference
from certdist.services.common import Clock, RateLimiter
from certdist.services.distribution import DistributionService
from certdist.services.openid4vci.grants import GrantStore
from certdist.services.openid4vci.metadata import CONFIGURATIONS
from certdist.services.openid4vci.proofs import KeyProof, check_proof

#: What the download audit's format column says for an SD-JWT VC sent to a wallet.
AUDIT_LABEL: Final = "sd-jwt-vc"
#: A Token Status List entry for a new copy of a certificate, or None (no status list).
StatusAllocator = Callable[[str], StatusReference | None]


class CredentialService:
    def __init__(
        self,
        grants: GrantStore,
        certificates: DistributionService,
        issuer: SdJwtVcIssuer,
        clock: Clock,
        limiter: RateLimiter,
        settings: OpenId4VciSettings,
        *,
        audience: str,
        status: StatusAllocator,
    ) -> None:
        self._limiter = limiter
        self._grants = grants
        self._certificates = certificates
        self._issuer = issuer
        self._clock = clock
        self._settings = settings
        self._audience = audience
        self._status = status

    def nonce(self, client: str) -> dict[str, str]:
        """A fresh ``c_nonce``; ``client`` is the caller's address, whose nonces per minute
        are limited (each one is stored until used or expired)."""
        self._limiter.hit(
            "openid4vci-nonce",
            client,
            limit=self._settings.nonces_per_client_per_minute,
            window_seconds=60,
        )
        c_nonce = secrets.token_urlsafe(24)
        self._grants.put_nonce(c_nonce, self._settings.nonce_seconds)
        return {"c_nonce": c_nonce}

    def issue(self, access_token: str | None, request: object) -> dict[str, Any]:
        """The Credential Response for a request (its JSON body, parsed), or the error."""
        if not access_token:
            raise InvalidAccessToken("no bearer access token")
        grant = self._grants.grant("token", access_token)
        if grant is None:
            raise InvalidAccessToken("the access token is unknown or expired")
        if not isinstance(request, Mapping):
            raise OAuthError("invalid_credential_request", "the body must be a JSON object")
        configuration_id = _configuration_id(request)
        if configuration_id != grant.configuration_id:
            raise InsufficientScope(f"the access token is for {grant.configuration_id}")
        proofs = self._proofs(request.get("proofs"))
        for nonce in dict.fromkeys(proof.nonce for proof in proofs):
            if not self._grants.spend_nonce(nonce):
                raise OAuthError(
                    "invalid_nonce", "the c_nonce is unknown, used or expired: get a new one"
                )
        remaining = self._grants.remaining("token", access_token) or 1.0
        for _ in proofs:
            if self._grants.count("issued", access_token, remaining) > self._settings.batch_size:
                raise OAuthError(
                    "credential_request_denied",
                    f"an access token fetches at most {self._settings.batch_size} credentials",
                )
        try:
            bundle = self._certificates.bundle(grant.pre_enrollment_code, grant.entity_type)
        except NotFound:
            raise OAuthError(
                "credential_request_denied", "the certificate is no longer valid"
            ) from None
        certificate_id = bundle.latest.certificate_id
        credentials = [
            self._issuer.issue(bundle, holder_jwk=proof.jwk, status=self._status(certificate_id))
            for proof in proofs
        ]
        self._certificates.record_view(
            bundle, AUDIT_LABEL, caller=grant.principal(), permission=grant.audit_permission
        )
        return {"credentials": [{"credential": credential} for credential in credentials]}

    def _proofs(self, proofs: object) -> list[KeyProof]:
        if not isinstance(proofs, Mapping) or not proofs:
            raise OAuthError("invalid_proof", "proofs is missing: send one jwt proof per copy")
        if set(proofs) != {"jwt"}:
            raise OAuthError("invalid_proof", "proofs must hold exactly one proof type, jwt")
        jwts = proofs["jwt"]
        if not isinstance(jwts, list) or not jwts:
            raise OAuthError("invalid_proof", "proofs.jwt must be a non-empty array")
        if len(jwts) > self._settings.batch_size:
            raise OAuthError(
                "invalid_credential_request",
                f"at most {self._settings.batch_size} proofs (batch_size) in one request",
            )
        now = self._clock.now()
        max_age = timedelta(seconds=self._settings.nonce_seconds)
        checked = [
            check_proof(jwt, audience=self._audience, now=now, max_age=max_age, position=i)
            for i, jwt in enumerate(jwts)
        ]
        keys = [tuple(sorted(proof.jwk.items())) for proof in checked]
        if len(set(keys)) != len(keys):
            # Each key binds at most one credential (section 8.3).
            raise OAuthError("invalid_proof", "two proofs are for the same key")
        return checked


def _configuration_id(request: Mapping[str, Any]) -> str:
    if "credential_identifier" in request:
        raise OAuthError(
            "invalid_credential_request",
            "credential_identifier is not used here (no credential_identifiers were issued): "
            "send credential_configuration_id",
        )
    configuration_id = request.get("credential_configuration_id")
    if not isinstance(configuration_id, str) or not configuration_id:
        raise OAuthError("invalid_credential_request", "credential_configuration_id is missing")
    if configuration_id not in CONFIGURATIONS:
        raise OAuthError(
            "unknown_credential_configuration",
            f"no credential configuration {configuration_id[:64]!r}",
        )
    return configuration_id
