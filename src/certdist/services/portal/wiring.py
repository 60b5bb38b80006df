"""Building the citizen portal: OTP login, sessions, and the citizen's certificates."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from certdist.config import PortalSettings
from certdist.services.common import Infrastructure
from certdist.services.distribution import Distribution
from certdist.services.messaging import Messaging, OtpTexts
from certdist.services.portal.otp import OtpService
from certdist.services.portal.service import PortalService
from certdist.services.portal.sessions import SessionService


@dataclass
class CitizenPortal:
    """The portal's services, built together (``Services.portal``)."""

    otp: OtpService
    sessions: SessionService
    certificates: PortalService


def wire(
    section: PortalSettings,
    infrastructure: Infrastructure,
    *,
    distribution: Distribution,
    messaging: Messaging,
) -> CitizenPortal:
    state, limiter, hasher = (
        infrastructure.state,
        infrastructure.rate_limiter,
        infrastructure.hasher,
    )
    clock = infrastructure.clock
    certificates = PortalService(
        infrastructure.database.certificates(),
        distribution.certificates,
        distribution.formats,
        limiter,
        hasher,
        require_birth_year=section.require_birth_year,
        birth_year_attempts=section.birth_year_attempts,
    )
    # SMS leave from a small pool of threads, so no answer waits for (or reveals, by its
    # timing) a message being sent; pending messages are still sent at shutdown.
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sms")
    sms = messaging.sms_settings
    otp = OtpService(
        state=state,
        limiter=limiter,
        hasher=hasher,
        sender=messaging.sms,
        texts=OtpTexts(
            sms.texts,
            sms.default_language,
            urlsplit(infrastructure.site.public_url).hostname or "localhost",
        ),
        is_registered=certificates.is_registered,
        clock=clock,
        limits=section,
        phone_region=infrastructure.site.phone_region,
        dispatch=lambda job: _submit(pool, job),
        metrics=infrastructure.metrics,
    )
    sessions = SessionService(
        state,
        hasher,
        clock,
        idle_seconds=section.session_idle_seconds,
        absolute_seconds=section.session_absolute_seconds,
    )
    return CitizenPortal(otp, sessions, certificates)


def _submit(pool: ThreadPoolExecutor, job: Callable[[], None]) -> None:
    pool.submit(job)
