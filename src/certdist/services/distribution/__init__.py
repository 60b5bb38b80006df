"""Distribution: a beneficiary's latest certificate in any format (signed credential, QR,
PDF, SMART Health Card, EU DCC, FHIR), the render cache, and the wallet keys and revocation
list that verifiers fetch."""

from certdist.services.distribution.dcc_revocation import DccRevocationBatches, SignedBatch
from certdist.services.distribution.service import (
    Artifact,
    BeneficiarySummary,
    DistributionService,
    RenderCache,
)
from certdist.services.distribution.wallet import (
    ShcRevocationList,
    WalletIssuers,
    WalletService,
)
from certdist.services.distribution.wiring import (
    Distribution,
    certificate_formats,
    pdf_renderer,
    wire,
)

__all__ = [
    "Artifact",
    "BeneficiarySummary",
    "DccRevocationBatches",
    "Distribution",
    "DistributionService",
    "RenderCache",
    "ShcRevocationList",
    "SignedBatch",
    "WalletIssuers",
    "WalletService",
    "certificate_formats",
    "pdf_renderer",
    "wire",
]
