"""A "foreign" EU DCC issuer: a self-signed Document Signer Certificate (and its key) this
service was never configured with, an ``HC1:`` it signed, and its certificate in the trust
list shapes other networks publish, built here field by field from the specifications (the
DCC Gateway's trust list entry; a WHO GDHCN DID document) rather than by the code under test.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certdist.formats.eu_dcc import DccIssuer
from certdist.signing.dsc import DocumentSigner
from certdist.signing.jose import p256_jwk
from tests.support import wallet_samples


@dataclass(frozen=True)
class ForeignIssuer:
    signer: DocumentSigner
    hc1: str

    @property
    def der(self) -> bytes:
        return self.signer.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def kid(self) -> str:
        """Base64 of the first 8 bytes of SHA-256 of the DER (the EU DCC kid)."""
        return base64.b64encode(hashlib.sha256(self.der).digest()[:8]).decode()

    def eu_trust_list(self, **changes: Any) -> list[dict[str, Any]]:
        """The DCC Gateway's ``GET /trustList`` answer holding this DSC (and a CSCA entry,
        which an importer of signers skips)."""
        entry = {
            "kid": self.kid,
            "timestamp": "2026-01-01T00:00:00Z",
            "country": "SE",
            "certificateType": "DSC",
            "thumbprint": hashlib.sha256(self.der).hexdigest(),
            "signature": "",
            "rawData": base64.b64encode(self.der).decode(),
            **changes,
        }
        csca = {**entry, "certificateType": "CSCA", "rawData": "not even base64!"}
        return [csca, entry]

    def gdhcn_did(self) -> dict[str, Any]:
        """An embedded GDHCN trust list (DCC domain, participant XXA, usage DSC)."""
        did = "did:web:tng-cdn.example:v2:trustlist:DCC:XXA:DSC"
        public = self.signer.public_key
        assert isinstance(public, ec.EllipticCurvePublicKey)
        return {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": did,
            "verificationMethod": [
                "did:web:tng-cdn.example:v2:trustlist:DCC:XXB:DSC",  # a reference: skipped
                {
                    "id": f"{did}#{self.kid}",
                    "type": "JsonWebKey2020",
                    "controller": did,
                    "publicKeyJwk": {
                        **p256_jwk(public),
                        "kid": self.kid,
                        "x5c": [base64.b64encode(self.der).decode()],
                    },
                },
            ],
        }


def foreign_issuer(now: datetime) -> ForeignIssuer:
    """A DSC valid from a month before ``now`` for a year, and a vaccination DCC it signed."""
    signer = wallet_samples.document_signer_valid(
        now - timedelta(days=30), now + timedelta(days=365)
    )
    issuer = DccIssuer(wallet_samples.PROFILE, signer, lambda: now)
    return ForeignIssuer(signer, issuer.hc1(wallet_samples.bundle(), wallet_samples.DCC_NAMES))
