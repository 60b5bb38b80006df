"""The verifier's trust store: our own keys plus the foreign issuers of the ``verifier``
settings (DIVOC credential keys, SMART Health Card issuers, EU DSC certificates)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from jwcrypto import jwk

from certdist.config import ForeignShcIssuer, VerifierSettings
from certdist.errors import ConfigurationError, IssuerKeysUnavailable
from certdist.services.access import StaticKeys
from certdist.services.common import Fetch, RemoteKeySet, http_fetcher
from certdist.services.verification.remote import RemoteRevocationLists
from certdist.signing.keys import KeyStore
from certdist.signing.trust import (
    KeySetSource,
    RevocationListSource,
    TrustStore,
    load_certificates,
    load_credential_key,
)


def build_trust_store(
    section: VerifierSettings,
    own_shc_issuer: str,
    keys: KeyStore,
    own_document_signers: Sequence[x509.Certificate] = (),
    *,
    fetch: Fetch | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> TrustStore:
    """Our own keys (our SHC ``iss`` is the public URL; our DSCs) plus the issuers of the
    ``verifier`` settings. ``fetch`` and ``monotonic`` replace HTTP and the clock of remote
    JWKS and revocation lists (tests)."""
    configured = section
    remote = _Remote(
        configured,
        fetch
        or http_fetcher(
            timeout_seconds=configured.shc_fetch_timeout_seconds,
            max_bytes=configured.shc_fetch_max_bytes,
        ),
        monotonic,
    )
    return TrustStore(
        keys,
        own_shc_issuer=own_shc_issuer,
        own_document_signers=own_document_signers,
        credential_keys={
            k.id: load_credential_key(k.id, k.path) for k in configured.credential_keys
        },
        shc_issuers={issuer.iss: remote.jwks(issuer) for issuer in configured.shc_issuers},
        shc_revocation_lists={
            issuer.iss: [_read_json(path, issuer.iss) for path in issuer.crl_files]
            for issuer in configured.shc_issuers
        },
        shc_revocation_sources={
            issuer.iss: source
            for issuer in configured.shc_issuers
            if (source := remote.revocation_lists(issuer)) is not None
        },
        document_signers=[
            c for path in configured.dsc_certificates for c in load_certificates(path)
        ],
    )


class _Remote:
    """Builds the fetched sources of foreign SHC issuers, all sharing one fetch and clock."""

    def __init__(
        self, configured: VerifierSettings, fetch: Fetch, monotonic: Callable[[], float]
    ) -> None:
        self._configured = configured
        self._fetch = fetch
        self._monotonic = monotonic

    def jwks(self, issuer: ForeignShcIssuer) -> KeySetSource:
        if issuer.jwks_file is not None:
            return StaticKeys(
                jwk.JWKSet.from_json(json.dumps(_read_json(issuer.jwks_file, issuer.iss)))
            )
        return RemoteKeySet(
            issuer.jwks_url or issuer.iss.strip().rstrip("/") + "/.well-known/jwks.json",
            self._fetch,
            unavailable=_keys_unavailable,
            max_age_seconds=self._configured.shc_jwks_max_age_minutes * 60.0,
            min_refresh_seconds=self._configured.shc_fetch_retry_seconds,
            monotonic=self._monotonic,
        )

    def revocation_lists(self, issuer: ForeignShcIssuer) -> RevocationListSource | None:
        base = issuer.crl_base()
        if base is None:
            return None
        return RemoteRevocationLists(
            base,
            self._fetch,
            retry_seconds=self._configured.shc_fetch_retry_seconds,
            monotonic=self._monotonic,
        )


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


def _keys_unavailable() -> IssuerKeysUnavailable:
    return IssuerKeysUnavailable("the card issuer's keys could not be fetched")
