"""The partner API: other government and consumer apps fetch a citizen's certificates.

A partner sends the beneficiary id **and** the mobile number the citizen gave it; both must
match a live certificate. A wrong mobile number and an unknown beneficiary id get the same
``NotFound`` (same status, same body) after the same work — one indexed query and one
constant-time comparison per certificate — so the API cannot be used to learn which
beneficiary ids exist (DIVOC's answers told them apart). Each partner has a call budget and a
smaller budget of lookups that found nothing, which is what guessing produces.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import datetime

from certdist.domain.models import VACCINATION, CertificateRecord
from certdist.domain.phone import normalize_mobile
from certdist.domain.roles import Permission, Principal
from certdist.errors import InvalidInput, NotFound, RateLimited
from certdist.formats.registry import CertificateBundle
from certdist.services.common import Clock, RateLimiter
from certdist.services.distribution import Artifact, DistributionService
from certdist.services.integrations.calls import record_call
from certdist.storage.integrations import SqlIntegrationRepository
from certdist.storage.repository import CertificateRepository

log = logging.getLogger(__name__)

CHANNEL_CERTIFICATES = "partner-certificates"
CHANNEL_PDF = "partner-pdf"
NOT_FOUND_MESSAGE = "no certificate for this beneficiary id and mobile number"


@dataclass(frozen=True)
class PartnerLimits:
    requests_per_window: int
    misses_per_window: int
    window_seconds: int


@dataclass(frozen=True)
class PartnerCertificate:
    certificate_id: str
    pre_enrollment_code: str
    entity_type: str
    program_id: str
    dose: int | None
    total_doses: int | None
    issued_at: datetime
    signed_credential: str


class PartnerService:
    def __init__(
        self,
        certificates: CertificateRepository,
        distribution: DistributionService,
        integrations: SqlIntegrationRepository,
        rate_limiter: RateLimiter,
        clock: Clock,
        *,
        limits: PartnerLimits,
        phone_region: str,
    ) -> None:
        self._certificates = certificates
        self._distribution = distribution
        self._integrations = integrations
        self._limiter = rate_limiter
        self._clock = clock
        self._limits = limits
        self._phone_region = phone_region

    def certificates(
        self, caller: Principal, mobile: str, beneficiary_id: str
    ) -> list[PartnerCertificate]:
        """The beneficiary's live certificates, latest first (highest dose, then newest)."""
        records = self._matching(CHANNEL_CERTIFICATES, caller, mobile, beneficiary_id)
        records.sort(key=_latest_first, reverse=True)
        delivered = []
        for record in records:
            # Through the distribution service, so each one is in the download audit.
            artifact = self._distribution.render(
                CertificateBundle(latest=record),
                "json",
                caller=caller,
                permission=Permission.PARTNER,
            )
            delivered.append(
                PartnerCertificate(
                    certificate_id=record.certificate_id,
                    pre_enrollment_code=record.pre_enrollment_code,
                    entity_type=record.entity_type,
                    program_id=record.program_id,
                    dose=record.dose,
                    total_doses=record.total_doses,
                    issued_at=record.created_at,
                    signed_credential=artifact.content.decode("utf-8"),
                )
            )
        self._audit(CHANNEL_CERTIFICATES, caller, "delivered", records[0].certificate_id)
        return delivered

    def pdf(self, caller: Principal, mobile: str, beneficiary_id: str) -> Artifact:
        """The PDF of the latest vaccination certificate, as the certificate API renders it."""
        records = self._matching(CHANNEL_PDF, caller, mobile, beneficiary_id, VACCINATION)
        bundle = self._distribution.bundle(beneficiary_id, VACCINATION)
        if bundle.latest not in records:
            # The latest certificate carries another number (a correction changed it).
            self._miss(CHANNEL_PDF, caller)
        artifact = self._distribution.render(
            bundle, "pdf", caller=caller, permission=Permission.PARTNER
        )
        self._audit(CHANNEL_PDF, caller, "delivered", bundle.latest.certificate_id)
        return artifact

    def _matching(
        self,
        channel: str,
        caller: Principal,
        mobile: str,
        beneficiary_id: str,
        entity_type: str | None = None,
    ) -> list[CertificateRecord]:
        """Live certificates of ``beneficiary_id`` registered to ``mobile``; ``NotFound``
        (counted as a miss) when there are none, whatever the reason."""
        key = _partner_key(caller)
        window = self._limits.window_seconds
        try:
            self._limiter.hit(
                "partner", key, limit=self._limits.requests_per_window, window_seconds=window
            )
            self._limiter.peek(
                "partner-miss", key, limit=self._limits.misses_per_window, window_seconds=window
            )
        except RateLimited:
            self._audit(channel, caller, "rate-limited", None)
            raise
        try:
            presented = normalize_mobile(mobile, self._phone_region).encode()
        except ValueError as exc:
            self._audit(channel, caller, "invalid-mobile", None)
            raise InvalidInput("mobile is not a valid phone number") from exc
        matched = []
        for record in self._certificates.for_beneficiary(beneficiary_id):
            same_mobile = hmac.compare_digest((record.mobile or "").encode(), presented)
            wanted_type = entity_type is None or record.entity_type == entity_type
            if same_mobile and record.is_live and wanted_type:
                matched.append(record)
        if not matched:
            self._miss(channel, caller)
        return matched

    def _miss(self, channel: str, caller: Principal) -> None:
        self._audit(channel, caller, "not-found", None)
        self._limiter.hit(
            "partner-miss",
            _partner_key(caller),
            limit=self._limits.misses_per_window + 1,  # peek refuses at the limit already
            window_seconds=self._limits.window_seconds,
        )
        raise NotFound(NOT_FOUND_MESSAGE)

    def _audit(
        self, channel: str, caller: Principal, outcome: str, certificate_id: str | None
    ) -> None:
        record_call(
            self._integrations,
            self._clock,
            channel=channel,
            actor=_partner_key(caller),
            outcome=outcome,
            certificate_id=certificate_id,
        )
        log.info("partner call", extra={"channel": channel, "outcome": outcome})


def _partner_key(caller: Principal) -> str:
    return f"{caller.issuer}|{caller.username}"


def _latest_first(record: CertificateRecord) -> tuple[object, ...]:
    return (record.dose or 0, record.updated_at, record.created_at, record.certificate_id)
