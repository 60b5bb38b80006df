"""Our trust material as other verifiers read it: the credential keys' DID document and
PEM, and our EU Document Signer Certificates as a DCC Gateway trust list and a GDHCN DID
document (shapes in :mod:`certdist.formats.trust_lists`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from cryptography import x509

from certdist.formats.trust_lists import (
    credential_did_document,
    dcc_trust_list,
    did_web,
    gdhcn_did_document,
)
from certdist.signing.keys import KeyStore, KeyUse, PublicKeyInfo

#: The path of the GDHCN-shaped document: ``did:web:<host>:trust:eu-dcc`` resolves to
#: ``/trust/eu-dcc/did.json``.
GDHCN_DID_PATH: Final = ("trust", "eu-dcc")


class TrustPublisher:
    """Builds every published document from the key store at the time of the request, so
    a key rotated in this process appears at once."""

    def __init__(
        self,
        public_url: str,
        keys: KeyStore,
        document_signers: Sequence[x509.Certificate],
        *,
        country: str,
        upload_certificates: Sequence[x509.Certificate] = (),
    ) -> None:
        self._public_url = public_url
        self._keys = keys
        self._signers = tuple(document_signers)
        self._uploads = tuple(upload_certificates)
        self._country = country

    @property
    def did(self) -> str:
        return did_web(self._public_url)

    def did_document(self) -> dict[str, Any]:
        """``/.well-known/did.json``: every credential key, active and retired."""
        return credential_did_document(self.did, self._credential_keys())

    def credential_keys_pem(self, *, active_only: bool = False) -> str:
        """The credential keys' PEMs, each after a line naming its verificationMethod (text
        outside the PEM blocks is allowed and ignored by PEM readers, RFC 7468 §2)."""
        keys = [k for k in self._credential_keys() if k.active or not active_only]
        return "".join(
            f"verificationMethod: {k.id} ({'active' if k.active else 'retired'})\n{k.pem}"
            for k in keys
        )

    def eu_trust_list(self) -> list[dict[str, Any]]:
        return dcc_trust_list(self._signers, self._country, uploads=self._uploads)

    def gdhcn_did_document(self) -> dict[str, Any]:
        return gdhcn_did_document(
            did_web(self._public_url, *GDHCN_DID_PATH), self.did, self._signers
        )

    def _credential_keys(self) -> list[PublicKeyInfo]:
        return [k for k in self._keys.public_keys() if k.use is KeyUse.CREDENTIAL]
