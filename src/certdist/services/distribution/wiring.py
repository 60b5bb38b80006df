"""Building the distribution capability: the PDF renderer, every certificate format, the
certificate reads and the health-wallet service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from certdist.config import DocumentSection, WalletSettings
from certdist.formats.certificate_pdf import CertificatePdfFormat
from certdist.formats.divoc_vc import SignedCredentialFormat
from certdist.formats.pdf import FontPaths, PdfRenderer
from certdist.formats.qr_code import DivocQrFormat
from certdist.formats.registry import FormatRegistry
from certdist.services.common import Infrastructure
from certdist.services.distribution.dcc_revocation import DccRevocationBatches
from certdist.services.distribution.service import DistributionService, RenderCache
from certdist.services.distribution.wallet import (
    ShcRevocationList,
    WalletIssuers,
    WalletService,
    build_wallet_issuers,
    wallet_formats,
)


@dataclass(frozen=True)
class Distribution:
    certificates: DistributionService  # the latest certificate of a beneficiary, any format
    wallet: WalletService  # SMART Health Card, EU DCC, FHIR; their keys and JWKS
    formats: FormatRegistry
    renderer: PdfRenderer  # fonts parsed once per process; printing shares it
    issuers: WalletIssuers
    card_revocations: ShcRevocationList
    dcc_revocations: DccRevocationBatches  # EU DCC revocation batches (gateway form)


def pdf_renderer(section: DocumentSection) -> PdfRenderer:
    """The process's PDF renderer (fonts parsed here), shared by every service that prints."""
    fonts = FontPaths.for_language(
        section.pdf_second_language,
        section.pdf_font_dir,
        files=dict(section.pdf_font_files),
        fallbacks=section.pdf_font_fallbacks,
    )
    return PdfRenderer(
        section.pdf_template_dir, second_language=section.pdf_second_language, fonts=fonts
    )


def certificate_formats(
    section: DocumentSection,
    renderer: PdfRenderer | None = None,
    *,
    wallet: WalletIssuers | None = None,
) -> FormatRegistry:
    """Every format the service serves (``wallet``: the health-wallet formats, which need
    their signing keys)."""
    renderer = renderer or pdf_renderer(section)
    form = section.qr_payload_form
    return FormatRegistry(
        [
            SignedCredentialFormat(),
            DivocQrFormat(form=form),
            CertificatePdfFormat(renderer, form=form),
            *(wallet_formats(wallet, renderer) if wallet is not None else []),
        ]
    )


def wire(
    section: DocumentSection, wallet: WalletSettings, infrastructure: Infrastructure
) -> Distribution:
    database = infrastructure.database
    site = infrastructure.site
    renderer = pdf_renderer(section)
    issuers = build_wallet_issuers(
        wallet,
        site,
        infrastructure.keys,
        infrastructure.clock,
        hasher=infrastructure.hasher,
        vaccine_codes=section.vaccine_codes,
    )
    card_revocations = ShcRevocationList(database.certificates(), issuers.shc.revocation_id)
    formats = certificate_formats(section, renderer, wallet=issuers)
    certificates = DistributionService(
        database.certificates(),
        database.audit(),
        formats,
        infrastructure.clock,
        latest_rules=section.entity_types,
        cache=RenderCache(section.render_cache_bytes),
        phone_region=site.phone_region,
        metrics=infrastructure.metrics,
    )
    return Distribution(
        certificates=certificates,
        wallet=WalletService(
            certificates,
            issuers,
            infrastructure.keys,
            revocations=card_revocations,
            renderer=renderer,
            phone_region=site.phone_region,
        ),
        formats=formats,
        renderer=renderer,
        issuers=issuers,
        card_revocations=card_revocations,
        dcc_revocations=DccRevocationBatches(
            database.certificates(),
            issuers.document_signers,
            infrastructure.clock,
            country=wallet.dcc_country,
            validity=timedelta(days=wallet.dcc_validity_days),
            upload=issuers.upload_signer,
        ),
    )
