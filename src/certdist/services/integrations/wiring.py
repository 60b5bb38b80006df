"""Building the integrations: the DigiLocker issuer API and the partner API."""

from __future__ import annotations

from dataclasses import dataclass

from certdist.config import DigilockerSettings, PartnerSettings
from certdist.services.common import Infrastructure
from certdist.services.distribution import Distribution
from certdist.services.integrations.digilocker import (
    DigilockerOptions,
    DigilockerService,
    load_api_key,
)
from certdist.services.integrations.partner import PartnerLimits, PartnerService


@dataclass(frozen=True)
class Integrations:
    digilocker: DigilockerService | None  # None: disabled, its routes answer 404
    partner: PartnerService


def wire(
    digilocker: DigilockerSettings,
    partner: PartnerSettings,
    infrastructure: Infrastructure,
    *,
    distribution: Distribution,
) -> Integrations:
    return Integrations(
        digilocker=_digilocker(digilocker, infrastructure, distribution),
        partner=PartnerService(
            infrastructure.database.certificates(),
            distribution.certificates,
            infrastructure.database.integrations(),
            infrastructure.rate_limiter,
            infrastructure.clock,
            limits=PartnerLimits(
                requests_per_window=partner.requests_per_window,
                misses_per_window=partner.misses_per_window,
                window_seconds=partner.window_seconds,
            ),
            phone_region=infrastructure.site.phone_region,
        ),
    )


def _digilocker(
    section: DigilockerSettings, infrastructure: Infrastructure, distribution: Distribution
) -> DigilockerService | None:
    """The service, or None when DigiLocker is disabled (its routes then answer 404)."""
    site = infrastructure.site
    api_key = load_api_key(section, production=site.production)
    if api_key is None:
        return None
    options = DigilockerOptions(
        api_key=api_key,
        hmac_encoding=section.hmac_encoding,
        issuer_id=section.issuer_id,
        doc_type=section.doc_type,
        tracking_id_element=section.tracking_id_element,
        mobile_element=section.mobile_element,
        max_clock_skew_seconds=section.max_clock_skew_seconds,
        naive_ts_offset_minutes=section.naive_ts_offset_minutes,
        phone_region=site.phone_region,
    )
    return DigilockerService(
        distribution.certificates,
        infrastructure.database.certificates(),
        infrastructure.database.integrations(),
        infrastructure.hasher,
        infrastructure.clock,
        options,
    )
