"""Trust material: our keys published in the shapes other verifiers read (a ``did:web``
DID document, PEM, the EU DCC Gateway trust list, a WHO GDHCN DID document), and foreign
trust lists imported for our verifier."""

from certdist.services.trust.importer import ImportSummary, TrustImporter, TrustListFormat
from certdist.services.trust.publish import TrustPublisher
from certdist.services.trust.wiring import Trust, wire

__all__ = [
    "ImportSummary",
    "Trust",
    "TrustImporter",
    "TrustListFormat",
    "TrustPublisher",
    "wire",
]
