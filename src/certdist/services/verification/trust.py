"""The verifier's trust store: our own keys plus the foreign issuers of the ``verifier``
settings (DIVOC credential keys, SMART Health Card issuers, EU DSC certificates)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
from certdist.storage.trust_imports import TrustImport


def build_trust_store(
    section: VerifierSettings,
    own_shc_issuer: str,
    keys: KeyStore,
    own_document_signers: Sequence[x509.Certificate] = (),
    *,
    imported: Sequence[TrustImport] = (),
    fetch: Fetch | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> TrustStore:
    """Our own keys (our SHC ``iss`` is the public URL; our DSCs) plus the issuers of the
    ``verifier`` settings and the imported trust lists (``certdist trust import``; an
    issuer the settings name keeps its configured source). ``fetch`` and ``monotonic``
    replace HTTP and the clock of remote JWKS and revocation lists (tests)."""
    configured = section
    shc_issuers: list[ForeignShcIssuer | _ImportedIssuer] = [
        *configured.shc_issuers,
        *_imported_shc_issuers(configured, imported),
    ]
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
        shc_issuers={issuer.iss: remote.jwks(issuer) for issuer in shc_issuers},
        shc_revocation_lists={
            issuer.iss: [_read_json(path, issuer.iss) for path in issuer.crl_files]
            for issuer in configured.shc_issuers
        },
        shc_revocation_sources={
            issuer.iss: source
            for issuer in shc_issuers
            if (source := remote.revocation_lists(issuer)) is not None
        },
        document_signers=[
            *(c for path in configured.dsc_certificates for c in load_certificates(path)),
            *(x509.load_der_x509_certificate(d) for i in imported for d in i.document_signers),
        ],
    )


def _imported_shc_issuers(
    configured: VerifierSettings, imported: Sequence[TrustImport]
) -> list[_ImportedIssuer]:
    """Imported SMART Health Card issuers the settings do not name (first import wins)."""
    seen = {issuer.iss.strip().rstrip("/") for issuer in configured.shc_issuers}
    found = []
    for record in imported:
        for iss, jwks in record.shc_issuers.items():
            if iss.rstrip("/") not in seen:
                seen.add(iss.rstrip("/"))
                found.append(_ImportedIssuer(iss, jwks))
    return found


@dataclass(frozen=True)
class _ImportedIssuer:
    """A SMART Health Card issuer of an imported directory: its keys, or None (fetched)."""

    iss: str
    keys: Mapping[str, Any] | None

    def crl_base(self) -> str | None:
        # Keys fetched from the issuer: so are its revocation lists; imported keys: offline.
        return self.iss.rstrip("/") + "/.well-known/crl" if self.keys is None else None


class _Remote:
    """Builds the fetched sources of foreign SHC issuers, all sharing one fetch and clock."""

    def __init__(
        self, configured: VerifierSettings, fetch: Fetch, monotonic: Callable[[], float]
    ) -> None:
        self._configured = configured
        self._fetch = fetch
        self._monotonic = monotonic

    def jwks(self, issuer: ForeignShcIssuer | _ImportedIssuer) -> KeySetSource:
        if isinstance(issuer, _ImportedIssuer):
            if issuer.keys is not None:
                return StaticKeys(jwk.JWKSet.from_json(json.dumps(issuer.keys)))
            issuer = ForeignShcIssuer(iss=issuer.iss)
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

    def revocation_lists(
        self, issuer: ForeignShcIssuer | _ImportedIssuer
    ) -> RevocationListSource | None:
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
