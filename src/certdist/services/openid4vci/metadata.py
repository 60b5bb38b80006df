"""Our Credential Issuer Metadata (OpenID4VCI 1.0, section 12.2) and OAuth 2.0 Authorization
Server Metadata (RFC 8414): the Credential Issuer is its own authorization server, so the
metadata has no ``authorization_servers`` and both documents name the public URL.

One credential configuration per certificate kind, both SD-JWT VCs (``dc+sd-jwt``) bound
to a JWK the wallet proves with an ES256 ``jwt`` proof; their ``vct`` is where the type
metadata is served (``formats.sd_jwt_vc.VCT_PATHS``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from certdist.domain.models import TEST, VACCINATION
from certdist.formats.sd_jwt_vc import TYP as SD_JWT_VC_FORMAT
from certdist.formats.sd_jwt_vc_types import credential_display, openid4vci_claims
from certdist.services.openid4vci.proofs import PROOF_ALGORITHMS

PRE_AUTHORIZED_GRANT: Final = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
#: Where each endpoint is, under the public URL (``web/routes/openid4vci.py``).
TOKEN_PATH: Final = "/openid4vci/token"  # noqa: S105 (a path, not a secret)
NONCE_PATH: Final = "/openid4vci/nonce"
CREDENTIAL_PATH: Final = "/openid4vci/credential"
OFFER_PATH: Final = "/openid4vci/offers/"
#: Credential configuration id -> certificate kind.
CONFIGURATIONS: Final = {
    "vaccination_sd_jwt_vc": VACCINATION,
    "lab_test_sd_jwt_vc": TEST,
}
CONFIGURATION_OF_KIND: Final = {kind: name for name, kind in CONFIGURATIONS.items()}
#: The display of the Credential Issuer, per language.
IssuerNames = Sequence[tuple[str, str]]


class IssuerMetadata:
    """The two metadata documents of ``public_url``."""

    def __init__(
        self,
        public_url: str,
        *,
        vct: Callable[[str], str],
        issuer_names: IssuerNames,
        batch_size: int,
    ) -> None:
        self.issuer = public_url.rstrip("/")
        self._vct = vct
        self._names = issuer_names
        self._batch_size = batch_size

    def url(self, path: str) -> str:
        return self.issuer + path

    def credential_issuer(self) -> dict[str, Any]:
        return {
            "credential_issuer": self.issuer,
            "credential_endpoint": self.url(CREDENTIAL_PATH),
            "nonce_endpoint": self.url(NONCE_PATH),
            "batch_credential_issuance": {"batch_size": self._batch_size},
            "display": [{"name": name, "locale": locale} for locale, name in self._names],
            "credential_configurations_supported": {
                name: self._configuration(kind) for name, kind in CONFIGURATIONS.items()
            },
        }

    def authorization_server(self) -> dict[str, Any]:
        # Only the pre-authorized code grant: RFC 8414's response_types_supported may then be
        # left out (OpenID4VCI 1.0, section 12.3).
        return {
            "issuer": self.issuer,
            "token_endpoint": self.url(TOKEN_PATH),
            "grant_types_supported": [PRE_AUTHORIZED_GRANT],
            "pre-authorized_grant_anonymous_access_supported": True,
            "token_endpoint_auth_methods_supported": ["none"],
        }

    def _configuration(self, kind: str) -> dict[str, Any]:
        # The same names and labels as the type metadata at the vct (one description).
        metadata = {"display": credential_display(kind), "claims": openid4vci_claims(kind)}
        return {
            "format": SD_JWT_VC_FORMAT,
            "scope": CONFIGURATION_OF_KIND[kind],
            "vct": self._vct(kind),
            "cryptographic_binding_methods_supported": ["jwk"],
            "credential_signing_alg_values_supported": ["ES256"],
            "proof_types_supported": {
                "jwt": {"proof_signing_alg_values_supported": list(PROOF_ALGORITHMS)}
            },
            "credential_metadata": metadata,
        }
