"""Building the verifier from the ``verifier`` settings."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509

from certdist.config import VerifierSettings
from certdist.services.common import Infrastructure
from certdist.services.verification.detect import ImageLimits
from certdist.services.verification.eu_dcc import check_hc1
from certdist.services.verification.fhir import check_fhir
from certdist.services.verification.pdf import PdfLimits
from certdist.services.verification.shc import check_shc
from certdist.services.verification.trust import build_trust_store
from certdist.services.verification.verifier import (
    FormatCheckers,
    OwnCardRevocations,
    OwnDccRevocations,
    Verifier,
)
from certdist.signing.contexts import ContextLoader
from certdist.storage.trust_imports import TrustImports


def wire(
    section: VerifierSettings,
    infrastructure: Infrastructure,
    *,
    contexts: ContextLoader,
    own_document_signers: Sequence[x509.Certificate] = (),
    own_cards: OwnCardRevocations | None = None,
    own_dccs: OwnDccRevocations | None = None,
) -> Verifier:
    """``own_document_signers``, ``own_cards`` and ``own_dccs``: our EU DCC signers, our
    SMART Health Card revocation list and our EU DCC revocation batches, so our own
    certificates verify without configuration."""
    return Verifier(
        build_trust_store(
            section,
            infrastructure.site.public_url,
            infrastructure.keys,
            own_document_signers,
            imported=TrustImports.in_data_dir(infrastructure.site.data_dir).all(),
        ),
        infrastructure.database.certificates(),
        infrastructure.clock,
        contexts,
        checkers=FormatCheckers(hc1=check_hc1, shc=check_shc, fhir=check_fhir),
        enforce_effective_until=section.enforce_effective_until,
        image_limits=ImageLimits(section.max_image_bytes, section.max_image_pixels),
        # A PDF upload shares the photo's byte limit (one limit for the upload routes).
        pdf_limits=PdfLimits(max_bytes=section.max_image_bytes),
        own_cards=own_cards,
        own_dccs=own_dccs,
    )
