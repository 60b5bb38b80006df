"""Building the sharing capability: share links and the e-mails a citizen sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from certdist.config import MailSettings
from certdist.services.common import Infrastructure
from certdist.services.distribution import Distribution
from certdist.services.messaging import Messaging
from certdist.services.sharing.health_links import HealthLinkService
from certdist.services.sharing.links import SharingService
from certdist.services.sharing.mail import ShareMailService


@dataclass(frozen=True)
class Sharing:
    links: SharingService  # share links: create, open, withdraw, access log
    mail: ShareMailService  # a certificate or a link sent by e-mail through the outbox
    health_links: HealthLinkService  # SMART Health Links on top of share links


def wire(
    section: MailSettings,
    infrastructure: Infrastructure,
    *,
    distribution: Distribution,
    messaging: Messaging,
    time_zone: tzinfo,
) -> Sharing:
    """``section``: the mail settings, which hold the daily limits of sharing; ``time_zone``:
    where a link's expiry is told in its e-mail."""
    database, clock = infrastructure.database, infrastructure.clock
    hasher, limiter = infrastructure.hasher, infrastructure.rate_limiter
    links = SharingService(
        database.share_links(),
        database.certificates(),
        distribution.certificates,
        hasher,
        limiter,
        clock,
        public_url=infrastructure.site.public_url,
        links_per_day=section.share_links_per_account_per_day,
    )
    mail = ShareMailService(
        database.outbox(),
        links,
        distribution.certificates,
        messaging.templates,
        hasher,
        limiter,
        clock,
        default_language=section.default_language,
        per_account_per_day=section.share_mail_per_account_per_day,
        per_recipient_per_day=section.share_mail_per_recipient_per_day,
        time_zone=time_zone,
    )
    health_links = HealthLinkService(
        links,
        database.share_links(),
        distribution.certificates,
        distribution.formats,
        infrastructure.state,
        hasher,
        clock,
        public_url=infrastructure.site.public_url,
        phone_region=infrastructure.site.phone_region,
    )
    return Sharing(links=links, mail=mail, health_links=health_links)
