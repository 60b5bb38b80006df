"""Building the trust capability: what we publish, and the importer of foreign lists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from certdist.config import VerifierSettings, WalletSettings
from certdist.services.common import Fetch, Infrastructure, http_fetcher
from certdist.services.trust.importer import TrustImporter
from certdist.services.trust.publish import TrustPublisher
from certdist.storage.trust_imports import TrustImports


@dataclass(frozen=True)
class Trust:
    publisher: TrustPublisher
    importer: TrustImporter


def wire(
    verifier: VerifierSettings,
    wallet: WalletSettings,
    infrastructure: Infrastructure,
    *,
    document_signers: Sequence[x509.Certificate],
    upload_certificates: Sequence[x509.Certificate] = (),
    fetch: Fetch | None = None,
) -> Trust:
    """``document_signers``: our DSCs, active and retired; ``upload_certificates``: the
    gateway upload certificate, when configured. ``fetch`` replaces HTTP (tests);
    by default URL imports have the limits of the verifier's other fetches."""
    site = infrastructure.site
    return Trust(
        publisher=TrustPublisher(
            site.public_url,
            infrastructure.keys,
            document_signers,
            country=wallet.dcc_country,
            upload_certificates=upload_certificates,
        ),
        importer=TrustImporter(
            TrustImports.in_data_dir(site.data_dir),
            fetch
            or http_fetcher(
                timeout_seconds=verifier.shc_fetch_timeout_seconds,
                max_bytes=verifier.shc_fetch_max_bytes,
            ),
            infrastructure.clock,
        ),
    )
