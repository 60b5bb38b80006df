"""The verifier's trust store from the settings: our own keys plus ``settings.verifier``'s
foreign issuers (DIVOC credential keys, SMART Health Card issuers, EU DSC certificates)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from jwcrypto import jwk

from certdist.config import ForeignShcIssuer, Settings
from certdist.errors import ConfigurationError
from certdist.services.auth import RemoteJwks, StaticKeys
from certdist.signing.keys import KeyStore
from certdist.signing.trust import KeySetSource, TrustStore, load_certificates, load_credential_key


def trust_store_from_settings(
    settings: Settings, keys: KeyStore, own_document_signers: Sequence[x509.Certificate] = ()
) -> TrustStore:
    """Our own keys (our SHC ``iss`` is the public URL; our DSCs) plus ``settings.verifier``'s
    issuers."""
    configured = settings.verifier
    return TrustStore(
        keys,
        own_shc_issuer=settings.public_url,
        own_document_signers=own_document_signers,
        credential_keys={
            k.id: load_credential_key(k.id, k.path) for k in configured.credential_keys
        },
        shc_issuers={issuer.iss: _jwks_source(issuer) for issuer in configured.shc_issuers},
        shc_revocation_lists={
            issuer.iss: [_read_json(path, issuer.iss) for path in issuer.crl_files]
            for issuer in configured.shc_issuers
        },
        document_signers=[
            c for path in configured.dsc_certificates for c in load_certificates(path)
        ],
    )


def _jwks_source(issuer: ForeignShcIssuer) -> KeySetSource:
    if issuer.jwks_file is not None:
        return StaticKeys(
            jwk.JWKSet.from_json(json.dumps(_read_json(issuer.jwks_file, issuer.iss)))
        )
    return RemoteJwks(issuer.jwks_url or issuer.iss.rstrip("/") + "/.well-known/jwks.json")


def _read_json(path: Path, iss: str) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigurationError(
            f"verifier.shc_issuers: cannot read {path} for {iss}: {error}"
        ) from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"verifier.shc_issuers: {path} for {iss} is not a JSON object")
    return document
