"""The composition root: the infrastructure opened once, then every capability wired.

``create_app`` (web) and the CLI both call :func:`build_services`; nothing else opens the
database, the keys or the shared state, so tests can swap the clock and the certificate ids
through its arguments. Each capability package under :mod:`certdist.services` exposes one
``wire()`` that takes only its own settings section and the :class:`Infrastructure`; the
order below is the order of their dependencies (see ``docs/architecture.md``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from certdist.config import Settings, SiteSection, metrics_dir
from certdist.services import (
    access,
    distribution,
    facility,
    integrations,
    issuance,
    messaging,
    openid4vci,
    operations,
    portal,
    sharing,
    trust,
    verification,
)
from certdist.services.common import (
    Clock,
    Infrastructure,
    KeyedHasher,
    PrometheusMetrics,
    RateLimiter,
    SystemClock,
)
from certdist.services.issuance import CertificateIdGenerator
from certdist.services.verification import Verifier
from certdist.signing.app_secret import load_or_create_secret, load_secret
from certdist.signing.contexts import ContextLoader
from certdist.signing.keys import KeyFile, KeyStore, KeyUse
from certdist.storage.database import Database
from certdist.storage.state import SharedState, SqlSharedState

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Every capability of one process, built once by :func:`build_services`."""

    settings: Settings
    infrastructure: Infrastructure
    access: access.Access
    issuance: issuance.Issuance
    distribution: distribution.Distribution
    messaging: messaging.Messaging
    portal: portal.CitizenPortal
    sharing: sharing.Sharing
    facility: facility.Facility
    integrations: integrations.Integrations
    openid4vci: openid4vci.OpenId4Vci
    trust: trust.Trust
    verifier: Verifier
    operations: operations.Operations

    # The infrastructure, named directly for the callers that need one piece of it.
    @property
    def clock(self) -> Clock:
        return self.infrastructure.clock

    @property
    def database(self) -> Database:
        return self.infrastructure.database

    @property
    def keys(self) -> KeyStore:
        return self.infrastructure.keys

    @property
    def hasher(self) -> KeyedHasher:
        return self.infrastructure.hasher

    @property
    def state(self) -> SharedState:
        return self.infrastructure.state

    def close(self) -> None:
        close = getattr(self.state, "close", None)  # a Redis client's connection pool
        if callable(close):
            close()
        self.database.dispose()


def open_keys(settings: Settings, clock: Clock) -> KeyStore:
    """Production loads configured key files; the embedded default generates its own once."""
    if settings.keys:
        return KeyStore.from_files(
            KeyFile(use=KeyUse(entry.use), path=entry.path, id=entry.id, active=entry.active)
            for entry in settings.keys
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return KeyStore.init_directory(
        settings.keys_dir, credential_algorithm=settings.credential_key_algorithm, now=clock.now()
    )


def open_secret(settings: Settings) -> bytes:
    if settings.secret_key_file is not None:
        return load_secret(settings.secret_key_file)
    return load_or_create_secret(settings.keys_dir)


def shared_state(redis_url: str | None, database: Database, clock: Clock) -> SharedState:
    """Redis when configured (several processes share OTP codes, sessions and counters
    through it); otherwise the database."""
    if redis_url:
        # Imported only when configured: the client library costs ~6 MB per process.
        from certdist.storage.redis_state import RedisSharedState

        return RedisSharedState(redis_url, deadline_seconds=2.0)
    return SqlSharedState(database.transactions, clock.now)


def open_infrastructure(settings: Settings, clock: Clock, *, migrate: bool) -> Infrastructure:
    metrics = PrometheusMetrics(metrics_dir())
    database = Database(
        settings.resolved_database_url,
        deadline_seconds=settings.database_deadline_seconds,
        replica_url=settings.database_replica_url,
        on_replica_fallback=metrics.replica_fallback,
    )
    if migrate:
        database.migrate()
    state = shared_state(settings.redis_url, database, clock)
    site: SiteSection = settings.site
    return Infrastructure(
        site=site,
        clock=clock,
        database=database,
        state=state,
        rate_limiter=RateLimiter(state),
        hasher=KeyedHasher(open_secret(settings)),
        keys=open_keys(settings, clock),
        metrics=metrics,
    )


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    ids: CertificateIdGenerator | None = None,
    migrate: bool = True,
) -> Services:
    settings.check()
    infra = open_infrastructure(settings, clock or SystemClock(), migrate=migrate)
    contexts = ContextLoader(aliases=settings.context_aliases)
    messages = messaging.wire(settings.mail, settings.sms, infra)
    notifier = messages.notifier
    documents = distribution.wire(settings.documents, settings.wallet, infra)
    callers = access.wire(settings.access, infra)
    own_signers = [s.certificate for s in documents.issuers.document_signers.all()]
    upload = documents.issuers.upload_signer
    upload_certificates = [] if upload is None else [upload.certificate]
    issuing = issuance.wire(
        settings.credentials,
        infra,
        contexts=contexts,
        ids=ids,
        # Notifications are stored in the transaction of the certificates they announce.
        companions=notifier.messages_for if notifier else None,
        bulk_lease=timedelta(seconds=settings.bulk_stale_after_seconds),
        bulk_max_attempts=settings.bulk_max_attempts,
        bulk_poll_seconds=settings.bulk_poll_seconds,
    )
    return Services(
        settings=settings,
        infrastructure=infra,
        access=callers,
        issuance=issuing,
        distribution=documents,
        messaging=messages,
        portal=portal.wire(settings.portal, infra, distribution=documents, messaging=messages),
        sharing=sharing.wire(
            settings.mail,
            infra,
            distribution=documents,
            messaging=messages,
            time_zone=settings.site.time_zone,
        ),
        facility=facility.wire(
            settings.printing, settings.documents, infra, access=callers, distribution=documents
        ),
        integrations=integrations.wire(
            settings.digilocker, settings.partner, infra, distribution=documents
        ),
        openid4vci=openid4vci.wire(
            settings.openid4vci,
            infra,
            distribution=documents,
            messaging=messages,
            # Each issued copy gets its own Token Status List index (unlinkable copies).
            status=issuing.token_status_lists.allocate,
        ),
        trust=trust.wire(
            settings.verifier,
            settings.wallet,
            infra,
            document_signers=own_signers,
            upload_certificates=upload_certificates,
        ),
        verifier=verification.wire(
            settings.verifier,
            infra,
            contexts=contexts,
            own_document_signers=own_signers,
            own_cards=documents.card_revocations,
            own_dccs=documents.dcc_revocations,
            own_status_lists=issuing.status_lists,
            own_token_status_lists=issuing.token_status_lists,
        ),
        operations=operations.wire(settings.metrics, settings.readiness, infra, messaging=messages),
    )
