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
from certdist.formats.pdf import PdfRenderer
from certdist.formats.qr_code import DivocQrFormat
from certdist.formats.registry import FormatRegistry
from certdist.services.auth import (
    Authorizer,
    IssuerTrust,
    LocalTokenIssuer,
    RemoteJwks,
    StaticKeys,
    TokenVerifier,
)
from certdist.services.bulk import BulkIssuanceService
from certdist.services.clock import Clock, SystemClock
from certdist.services.distribution import DistributionService, RenderCache
from certdist.services.ids import CertificateIdGenerator, RandomCertificateIds
from certdist.services.issuance import IssuanceService
from certdist.signing.contexts import ContextLoader
from certdist.signing.keys import KeyFile, KeyStore, KeyUse
from certdist.signing.ldproof import CredentialSigner
from certdist.storage.database import Database

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

    def close(self) -> None:
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
            source: RemoteJwks | StaticKeys = RemoteJwks(entry.jwks_url)
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
    issuance = IssuanceService(
        database.certificates(),
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
    distribution = DistributionService(
        database.certificates(),
        database.audit(),
        certificate_formats(settings),
        clock,
        latest_rules=settings.entity_types,
        cache=RenderCache(settings.render_cache_bytes),
        phone_region=settings.default_phone_region,
    )
    return Services(
        settings=settings,
        clock=clock,
        database=database,
        keys=keys,
        issuance=issuance,
        bulk=BulkIssuanceService(issuance, database.uploads(), clock),
        tokens=TokenVerifier(trusted, clock),
        authorizer=Authorizer(settings.roles),
        local_issuer=local_issuer,
        distribution=distribution,
    )


def certificate_formats(settings: Settings) -> FormatRegistry:
    """Every format the service serves, built once per process (fonts parsed here)."""
    renderer = PdfRenderer(settings.pdf_template_dir, second_language=settings.pdf_second_language)
    form = settings.qr_payload_form
    return FormatRegistry(
        [
            SignedCredentialFormat(),
            DivocQrFormat(form=form),
            CertificatePdfFormat(renderer, form=form),
        ]
    )
