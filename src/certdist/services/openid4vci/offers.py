"""Credential Offers and the token endpoint: the authorization-server half of the
pre-authorized code flow (OpenID4VCI 1.0, sections 3.5, 4 and 6).

An offer is made by someone already allowed to read the certificate (the citizen after the
portal's OTP login, or a certificate API client). It holds a random pre-authorized code
(256 bits, single-use, :attr:`OpenId4VciSettings.offer_seconds`) and asks for a 6-digit
transaction code, which goes by SMS to the mobile number the certificate is registered to:
a photo of the QR code alone gets nobody the credential. The offer itself is served by
reference (``credential_offer_uri``), so the QR stays small.

The token request redeems the code once: the transaction code must match (after
``tx_code_attempts`` wrong ones the code is void), and the code is taken from the shared
state atomically, so two wallets racing with the same code get one token between them.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from certdist.config import OpenId4VciSettings
from certdist.domain.models import TEST, VACCINATION
from certdist.domain.roles import Permission, Principal
from certdist.errors import DeliveryFailed, InvalidInput, NotFound, OAuthError
from certdist.services.common import Clock, RateLimiter
from certdist.services.distribution import DistributionService
from certdist.services.messaging import SmsSender
from certdist.services.openid4vci.grants import Grant, GrantStore
from certdist.services.openid4vci.metadata import (
    CONFIGURATION_OF_KIND,
    OFFER_PATH,
    PRE_AUTHORIZED_GRANT,
    IssuerMetadata,
)

OFFER_SCHEME: Final = "openid-credential-offer://"
TX_CODE_LENGTH: Final = 6
#: The kinds an SD-JWT VC is issued for, in the order a beneficiary's certificate is chosen.
OFFERED_KINDS: Final = (VACCINATION, TEST)
_TX_CODE_DESCRIPTION: Final = "The 6-digit code sent by SMS to the mobile number registered"


@dataclass(frozen=True)
class CreatedOffer:
    """What the maker of an offer shows the holder: the QR's text (``link``), the offer's
    URL, and the last digits of the number the transaction code went to."""

    offer_uri: str
    link: str
    configuration_id: str
    tx_code_sent_to: str
    expires_in: int


class OfferService:
    def __init__(
        self,
        grants: GrantStore,
        certificates: DistributionService,
        metadata: IssuerMetadata,
        sms: SmsSender,
        limiter: RateLimiter,
        clock: Clock,
        settings: OpenId4VciSettings,
        *,
        default_language: str,
    ) -> None:
        self._grants = grants
        self._certificates = certificates
        self._metadata = metadata
        self._sms = sms
        self._limiter = limiter
        self._clock = clock
        self._settings = settings
        self._default_language = default_language

    def create(
        self,
        pre_enrollment_code: str,
        *,
        caller: Principal,
        permission: Permission,
        entity_type: str | None = None,
        language: str | None = None,
    ) -> CreatedOffer:
        """An offer of the beneficiary's latest certificate of ``entity_type`` (by default
        the first of :data:`OFFERED_KINDS` they have). The caller must already be allowed to
        read it: the web layer checks the recipient's ownership or the API client's role."""
        kind, mobile = self._certificate(pre_enrollment_code, entity_type)
        self._limiter.hit(
            "openid4vci-offer",
            self._grants.digest(pre_enrollment_code),
            limit=self._settings.offers_per_beneficiary_per_day,
            window_seconds=86_400,
        )
        ttl = self._settings.offer_seconds
        code = secrets.token_urlsafe(32)
        tx_code = f"{secrets.randbelow(10**TX_CODE_LENGTH):0{TX_CODE_LENGTH}d}"
        configuration_id = CONFIGURATION_OF_KIND[kind]
        offer_id = secrets.token_urlsafe(24)
        grant = Grant(
            pre_enrollment_code=pre_enrollment_code,
            entity_type=kind,
            configuration_id=configuration_id,
            actor=caller.username,
            actor_issuer=caller.issuer,
            permission=permission.value,
            tx_code=self._grants.digest(code + tx_code),
            offer_id=offer_id,
        )
        offer = {
            "credential_issuer": self._metadata.issuer,
            "credential_configuration_ids": [configuration_id],
            "grants": {
                PRE_AUTHORIZED_GRANT: {
                    "pre-authorized_code": code,
                    "tx_code": {
                        "input_mode": "numeric",
                        "length": TX_CODE_LENGTH,
                        "description": _TX_CODE_DESCRIPTION,
                    },
                }
            },
        }
        self._grants.put_grant("code", code, grant, ttl)
        self._grants.put_offer(offer_id, offer, ttl)
        try:
            self._sms.send(mobile, self._tx_code_text(tx_code, language))
        except DeliveryFailed:
            # Without its transaction code the offer is of no use: take it back.
            self._grants.forget_grant("code", code)
            self._grants.forget_offer(offer_id)
            raise
        offer_uri = self._metadata.url(OFFER_PATH + offer_id)
        return CreatedOffer(
            offer_uri=offer_uri,
            link=f"{OFFER_SCHEME}?credential_offer_uri={quote(offer_uri, safe='')}",
            configuration_id=configuration_id,
            tx_code_sent_to="******" + mobile[-4:],
            expires_in=ttl,
        )

    def offer(self, offer_id: str) -> dict[str, Any]:
        """The Credential Offer behind a ``credential_offer_uri`` (NotFound once redeemed or
        expired)."""
        offer = self._grants.offer(offer_id)
        if offer is None:
            raise NotFound("no such credential offer (used or expired)")
        return offer

    def token(self, form: Mapping[str, str]) -> dict[str, Any]:
        """The token endpoint (RFC 6749 section 5.1 answer), or the OAuth error."""
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is missing")
        if grant_type != PRE_AUTHORIZED_GRANT:
            raise OAuthError(
                "unsupported_grant_type", f"only the grant type {PRE_AUTHORIZED_GRANT} is supported"
            )
        code = form.get("pre-authorized_code")
        if not code:
            raise OAuthError("invalid_request", "pre-authorized_code is missing")
        tx_code = form.get("tx_code")
        if not tx_code:
            raise OAuthError("invalid_request", "tx_code is missing: this offer requires one")
        grant = self._grants.grant("code", code)
        if grant is None:
            raise OAuthError("invalid_grant", "the pre-authorized code is unknown, used or expired")
        if not hmac.compare_digest(self._grants.digest(code + tx_code), grant.tx_code):
            self._count_wrong_tx_code(code)
            raise OAuthError("invalid_grant", "the transaction code is wrong")
        redeemed = self._grants.take_grant("code", code)
        if redeemed is None:
            raise OAuthError("invalid_grant", "the pre-authorized code is unknown, used or expired")
        self._grants.forget_grant("tx-fail", code)
        self._grants.forget_offer(redeemed.offer_id)
        access_token = secrets.token_urlsafe(32)
        ttl = self._settings.token_seconds
        self._grants.put_grant("token", access_token, redeemed, ttl)
        return {"access_token": access_token, "token_type": "Bearer", "expires_in": ttl}

    def _certificate(self, pre_enrollment_code: str, entity_type: str | None) -> tuple[str, str]:
        kinds = (entity_type,) if entity_type else OFFERED_KINDS
        for kind in kinds:
            if kind not in CONFIGURATION_OF_KIND:
                raise InvalidInput(
                    "wallet credentials are issued for vaccination and lab-test certificates"
                )
            try:
                bundle = self._certificates.bundle(pre_enrollment_code, kind)
            except NotFound:
                continue
            mobile = bundle.latest.mobile
            if not mobile:
                raise InvalidInput(
                    "the certificate has no mobile number to send the transaction code to"
                )
            return kind, mobile
        raise NotFound("no certificate for this beneficiary")

    def _count_wrong_tx_code(self, code: str) -> None:
        remaining = self._grants.remaining("code", code) or 1.0
        if self._grants.count("tx-fail", code, remaining) >= self._settings.tx_code_attempts:
            self._grants.forget_grant("code", code)

    def _tx_code_text(self, tx_code: str, language: str | None) -> str:
        texts = self._settings.tx_code_texts
        template = (
            texts.get(language or "")
            or texts.get(self._default_language)
            or next(iter(texts.values()))
        )
        minutes = max(1, self._settings.offer_seconds // 60)
        return template.replace("{code}", tx_code).replace("{minutes}", str(minutes))
