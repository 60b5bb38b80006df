"""The composition root: every service built once from the settings.

``create_app`` (web) and the CLI both call :func:`build_services`; nothing else constructs
repositories, keys or signers, so tests can swap any of them through the arguments.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from jwcrypto import jwk

from certdist.config import LOCAL_TOKEN_AUDIENCE, LOCAL_TOKEN_ISSUER, Settings
from certdist.domain.credential import CredentialProfile
from certdist.formats.certificate_pdf import CertificatePdfFormat
from certdist.formats.divoc_vc import SignedCredentialFormat
from certdist.formats.pdf import FontPaths, PdfRenderer
from certdist.formats.qr_code import DivocQrFormat
from certdist.formats.registry import FormatRegistry
from certdist.services.access.tokens import (
    Authorizer,
    IssuerTrust,
    KeySource,
    LocalTokenIssuer,
    StaticKeys,
    TokenVerifier,
    remote_jwks,
)
from certdist.services.common.clock import Clock, SystemClock
from certdist.services.common.hashing import KeyedHasher
from certdist.services.common.ratelimit import RateLimiter
from certdist.services.distribution.service import DistributionService, RenderCache
from certdist.services.distribution.wallet import (
    ShcRevocationList,
    WalletIssuers,
    WalletService,
    build_wallet_issuers,
    wallet_formats,
)
from certdist.services.facility.desk import FacilityDesk, build_facility_desk
from certdist.services.facility.printing import PrintService, build_printing
from certdist.services.integrations.digilocker import DigilockerService, build_digilocker
from certdist.services.integrations.partner import PartnerService, build_partner
from certdist.services.issuance.bulk import BulkIssuanceService
from certdist.services.issuance.ids import CertificateIdGenerator, RandomCertificateIds
from certdist.services.issuance.service import IssuanceService
from certdist.services.messaging.mail import MailSender, build_mail_sender
from certdist.services.messaging.notify import build_notifier
from certdist.services.messaging.outbox import BackgroundWorker, OutboxWorker, build_worker
from certdist.services.portal.service import CitizenPortal, build_citizen_portal
from certdist.services.sharing.links import SharingService, build_sharing
from certdist.services.sharing.mail import ShareMailService, build_share_mail
from certdist.services.verification import Verifier, build_verifier
from certdist.signing.app_secret import load_or_create_secret, load_secret
from certdist.signing.contexts import ContextLoader
from certdist.signing.keys import KeyFile, KeyStore, KeyUse
from certdist.signing.ldproof import CredentialSigner
from certdist.storage.database import Database
from certdist.storage.state import SharedState, SqlSharedState

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    clock: Clock
    database: Database
    keys: KeyStore
    issuance: IssuanceService
    bulk: BulkIssuanceService
    tokens: TokenVerifier
    authorizer: Authorizer
    local_issuer: LocalTokenIssuer | None
    distribution: DistributionService
    state: SharedState
    rate_limiter: RateLimiter
    hasher: KeyedHasher
    verifier: Verifier
    digilocker: DigilockerService | None  # None: disabled, its routes answer 404
    partner: PartnerService
    mail: MailSender  # what the outbox worker sends mail with
    sharing: SharingService
    share_mail: ShareMailService
    printing: PrintService
    portal: CitizenPortal  # OTP login, sessions, the citizen's certificates
    facility: FacilityDesk  # staff sign-in and printing one certificate
    wallet: WalletService  # SMART Health Card, EU DCC, FHIR; their keys and JWKS

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


def shared_state(settings: Settings, database: Database, clock: Clock) -> SharedState:
    """Redis when configured (many processes, DESIGN §5); otherwise the database."""
    if settings.redis_url:
        # Imported only when configured: the client library costs ~6 MB per process.
        from certdist.storage.redis_state import RedisSharedState

        return RedisSharedState(settings.redis_url, deadline_seconds=2.0)
    return SqlSharedState(database.transactions, clock.now)


def credential_profile(settings: Settings) -> CredentialProfile:
    return CredentialProfile(
        issuer=settings.credential_issuer,
        base_url=settings.certificate_base_url,
        vaccination_context=settings.vaccination_context,
        test_context=settings.test_context,
        did_prefix=settings.did_prefix,
        address_country=settings.address_country,
        vaccine_codes=settings.vaccine_codes,
    )


def _trusted_issuers(settings: Settings) -> list[IssuerTrust]:
    trusted = []
    for entry in settings.trusted_issuers:
        if entry.jwks_url:
            source: KeySource = remote_jwks(entry.jwks_url)
        elif entry.public_key_file:
            keyset = jwk.JWKSet()
            keyset.add(jwk.JWK.from_pem(entry.public_key_file.read_bytes()))
            source = StaticKeys(keyset)
        else:
            continue
        trusted.append(
            IssuerTrust(
                issuer=entry.issuer,
                audience=entry.audience,
                keys=source,
                client_id=entry.client_id,
                algorithms=tuple(entry.algorithms),
            )
        )
    return trusted


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    ids: CertificateIdGenerator | None = None,
    migrate: bool = True,
) -> Services:
    settings.check()
    clock = clock or SystemClock()
    database = Database(
        settings.resolved_database_url, deadline_seconds=settings.database_deadline_seconds
    )
    if migrate:
        database.migrate()
    keys = open_keys(settings, clock)
    loader = ContextLoader(aliases=settings.context_aliases)
    signer = CredentialSigner(keys.active(KeyUse.CREDENTIAL), loader)
    # Notifications are enqueued in the same transaction as the certificates they announce.
    notifier = build_notifier(settings, clock)
    issuance = IssuanceService(
        database.certificates(companions=notifier.messages_for if notifier else None),
        signer,
        credential_profile(settings),
        clock,
        ids or RandomCertificateIds(),
        phone_region=settings.default_phone_region,
    )
    local_issuer = None
    trusted = _trusted_issuers(settings)
    if settings.local_token_issuer and not settings.is_production:
        token_key = jwk.JWK.from_pyca(keys.active(KeyUse.TOKEN).private_key)
        local_issuer = LocalTokenIssuer(
            token_key, issuer=LOCAL_TOKEN_ISSUER, audience=LOCAL_TOKEN_AUDIENCE, clock=clock
        )
        trusted.append(local_issuer.trust())
    renderer = pdf_renderer(settings)
    hasher = KeyedHasher(open_secret(settings))  # before the wallet: SHC rids are keyed hashes
    wallet_issuers = build_wallet_issuers(settings, keys, clock, hasher=hasher)
    card_revocations = ShcRevocationList(database.certificates(), wallet_issuers.shc.revocation_id)
    formats = certificate_formats(settings, renderer, wallet=wallet_issuers)
    distribution = DistributionService(
        database.certificates(),
        database.audit(),
        formats,
        clock,
        latest_rules=settings.entity_types,
        cache=RenderCache(settings.render_cache_bytes),
        phone_region=settings.default_phone_region,
    )
    state = shared_state(settings, database, clock)
    rate_limiter = RateLimiter(state)
    sharing = build_sharing(settings, database, distribution, hasher, rate_limiter, clock)
    tokens = TokenVerifier(trusted, clock)
    authorizer = Authorizer(settings.roles)
    return Services(
        settings=settings,
        clock=clock,
        database=database,
        keys=keys,
        issuance=issuance,
        bulk=BulkIssuanceService(issuance, database.uploads(), clock),
        tokens=tokens,
        authorizer=authorizer,
        local_issuer=local_issuer,
        distribution=distribution,
        state=state,
        rate_limiter=rate_limiter,
        hasher=hasher,
        verifier=build_verifier(
            settings,
            keys,
            database.certificates(),
            clock,
            loader,
            own_document_signers=[s.certificate for s in wallet_issuers.document_signers.all()],
            own_cards=card_revocations,
        ),
        digilocker=build_digilocker(settings, distribution, database, hasher, clock),
        partner=build_partner(settings, distribution, database, rate_limiter, clock),
        mail=build_mail_sender(settings),
        sharing=sharing,
        share_mail=build_share_mail(
            settings, database, sharing, distribution, hasher, rate_limiter, clock
        ),
        printing=build_printing(settings, database, renderer, clock),
        portal=build_citizen_portal(
            settings, database, distribution, formats, state, rate_limiter, hasher, clock
        ),
        facility=build_facility_desk(
            settings,
            distribution,
            trusted,
            tokens,
            authorizer,
            state,
            rate_limiter,
            hasher,
            clock,
        ),
        wallet=WalletService(
            distribution,
            wallet_issuers,
            keys,
            revocations=card_revocations,
            renderer=renderer,
            phone_region=settings.default_phone_region,
        ),
    )


def outbox_worker(services: Services) -> OutboxWorker:
    """A worker that sends the outbox's mail and SMS (``certdist worker``, or embedded)."""
    return build_worker(
        services.settings, services.database, services.mail, services.portal.sms, services.clock
    )


def start_outbox_worker(services: Services) -> BackgroundWorker:
    poll = services.settings.mail.worker_poll_seconds
    return BackgroundWorker(outbox_worker(services), poll_seconds=poll).start()


def pdf_renderer(settings: Settings) -> PdfRenderer:
    """The process's PDF renderer (fonts parsed here), shared by every service that prints."""
    fonts = FontPaths.for_language(
        settings.pdf_second_language,
        settings.pdf_font_dir,
        files=settings.pdf_font_files,
        fallbacks=settings.pdf_font_fallbacks,
    )
    return PdfRenderer(
        settings.pdf_template_dir, second_language=settings.pdf_second_language, fonts=fonts
    )


def certificate_formats(
    settings: Settings,
    renderer: PdfRenderer | None = None,
    *,
    wallet: WalletIssuers | None = None,
) -> FormatRegistry:
    """Every format the service serves, built once per process (``wallet``: the health-wallet
    formats, which need their signing keys)."""
    renderer = renderer or pdf_renderer(settings)
    form = settings.qr_payload_form
    return FormatRegistry(
        [
            SignedCredentialFormat(),
            DivocQrFormat(form=form),
            CertificatePdfFormat(renderer, form=form),
            *(wallet_formats(wallet, renderer) if wallet is not None else []),
        ]
    )
