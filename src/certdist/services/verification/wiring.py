"""Building the verifier from the ``verifier`` settings."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509

from certdist.config import VerifierSettings
from certdist.services.common import Fetch, Infrastructure, http_fetcher, sd_jwt_rid_seal
from certdist.services.verification.detect import ImageLimits
from certdist.services.verification.eu_dcc import check_hc1
from certdist.services.verification.fhir import check_fhir
from certdist.services.verification.pdf import PdfLimits
from certdist.services.verification.sd_jwt_vc import SdJwtVcChecker
from certdist.services.verification.shc import check_shc
from certdist.services.verification.status_list import (
    OwnStatusLists,
    OwnTokenStatusLists,
    StatusListChecker,
)
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
    own_status_lists: OwnStatusLists | None = None,
    own_token_status_lists: OwnTokenStatusLists | None = None,
    fetch: Fetch | None = None,
) -> Verifier:
    """``own_document_signers``, ``own_cards`` and ``own_dccs``: our EU DCC signers, our
    SMART Health Card revocation list and our EU DCC revocation batches, so our own
    certificates verify without configuration. ``own_status_lists``: our Bitstring Status
    Lists and ``own_token_status_lists`` our Token Status Lists, read directly; other
    issuers' lists are fetched (``fetch`` replaces HTTP in
    tests) and kept ``status_list_max_age_seconds``."""
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
        checkers=FormatCheckers(
            hc1=check_hc1,
            shc=check_shc,
            fhir=check_fhir,
            sd_jwt_vc=SdJwtVcChecker(sd_jwt_rid_seal(infrastructure.hasher).open),
        ),
        enforce_effective_until=section.enforce_effective_until,
        image_limits=ImageLimits(section.max_image_bytes, section.max_image_pixels),
        # A PDF upload shares the photo's byte limit (one limit for the upload routes).
        pdf_limits=PdfLimits(max_bytes=section.max_image_bytes),
        own_cards=own_cards,
        own_dccs=own_dccs,
        status_lists=StatusListChecker(
            own_status_lists,
            fetch
            or http_fetcher(
                timeout_seconds=section.shc_fetch_timeout_seconds,
                max_bytes=section.shc_fetch_max_bytes,
            ),
            max_age_seconds=section.status_list_max_age_seconds,
            retry_seconds=section.shc_fetch_retry_seconds,
            https_only=infrastructure.site.production,
            own_tokens=own_token_status_lists,
        ),
    )
