"""The verifier's trust store: which public keys vouch for which certificates.

Every format names its signer in its own way, and a key is trusted only for the format it
was configured for (an EU Document Signer key never verifies a DIVOC credential):

* **DIVOC credentials** name a ``verificationMethod``: our credential keys (the active one
  and every retired one, so old certificates keep verifying) and foreign deployments' PEM
  keys configured under their id (``did:india``).
* **SMART Health Cards** name an issuer URL (``iss``) and a ``kid`` (the RFC 7638 thumbprint):
  our SHC keys under our own ``iss``, and configured issuers' JWKS (a file, or a URL fetched
  when first needed). Keys are fetched only for configured issuers: the ``iss`` of a card is
  untrusted input and never chooses a URL to contact. A foreign issuer's revocation lists
  are its configured files, or, for a key whose JWK carries ``crlVersion``, the list its
  :class:`RevocationListSource` holds at that version (a file for the key wins).
* **EU DCC** names a ``kid``, the first 8 bytes of SHA-256 of the Document Signer
  Certificate's DER: our own DSC and configured DSC files (PEM or DER).

Lookups return keys; the format code checks signatures with them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwcrypto import jwk
from jwcrypto.common import JWException

from certdist.errors import (
    CertdistError,
    ConfigurationError,
    IssuerKeysUnavailable,
)
from certdist.signing.cose import certificate_kid
from certdist.signing.jose import thumbprint
from certdist.signing.keys import KeyFile, KeyStore, KeyUse, PublicKey

__all__ = [
    "KeySetSource",
    "RevocationListSource",
    "ShcRevocations",
    "TrustStore",
    "dsc_kid",
    "load_certificates",
    "load_credential_key",
]

log = logging.getLogger(__name__)


class KeySetSource(Protocol):
    """A JWKS, static or fetched (``certdist.services.access.tokens`` has both kinds)."""

    def keys(self, *, refresh: bool = False) -> jwk.JWKSet: ...


@dataclass(frozen=True)
class ShcRevocations:
    """The revocation lists a foreign card is checked against.

    ``unknown`` says why they may be incomplete: the issuer announced a list (``crlVersion``)
    that could not be fetched or read. A list held may still be there (an older version):
    a card it names is revoked whatever newer lists say, as rids are never taken back.
    """

    lists: tuple[Mapping[str, Any], ...] = ()
    unknown: str | None = None


class RevocationListSource(Protocol):
    """One issuer's revocation lists fetched from its URL (``services.verification``)."""

    def revocations(self, kid: str, version: int) -> ShcRevocations:
        """The list of key ``kid`` at ``version`` (the JWK's ``crlVersion``) or later."""
        ...


def dsc_kid(certificate: x509.Certificate) -> bytes:
    """The EU DCC ``kid`` of a Document Signer Certificate."""
    return certificate_kid(certificate.public_bytes(serialization.Encoding.DER))


def load_certificates(path: Path) -> list[x509.Certificate]:
    """Every certificate in a PEM file (one or more) or a DER file."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ConfigurationError(f"cannot read certificate file {path}: {error.strerror}") from None
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise ConfigurationError(f"{path} holds no PEM or DER X.509 certificate") from None


def load_credential_key(key_id: str, path: Path) -> PublicKey:
    """A foreign DIVOC credential key from a PEM public key file (checked as our own are)."""
    store = KeyStore.from_files([KeyFile(KeyUse.CREDENTIAL, Path(path), id=key_id, active=False)])
    key = store.public_key(key_id)
    assert key is not None  # from_files stored it under this id
    return key


class TrustStore:
    """Looks up the keys that may have signed a certificate (see the module docstring)."""

    def __init__(
        self,
        own_keys: KeyStore | None = None,
        *,
        own_shc_issuer: str | None = None,
        own_document_signers: Iterable[x509.Certificate] = (),
        credential_keys: Mapping[str, PublicKey] | None = None,
        shc_issuers: Mapping[str, KeySetSource] | None = None,
        shc_revocation_lists: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        shc_revocation_sources: Mapping[str, RevocationListSource] | None = None,
        document_signers: Iterable[x509.Certificate] = (),
    ) -> None:
        self._own = own_keys
        self._own_shc_issuer = _issuer_url(own_shc_issuer) if own_shc_issuer else None
        self._foreign_credential_keys = dict(credential_keys or {})
        self._shc_issuers = {
            _issuer_url(iss): source for iss, source in (shc_issuers or {}).items()
        }
        self._shc_revocations = {
            _issuer_url(iss): tuple(lists) for iss, lists in (shc_revocation_lists or {}).items()
        }
        self._shc_revocation_sources = {
            _issuer_url(iss): source for iss, source in (shc_revocation_sources or {}).items()
        }
        if self._own_shc_issuer in self._shc_issuers:
            raise ConfigurationError("a configured SHC issuer has this service's own iss")
        own_signers = list(own_document_signers)
        self._own_dsc_kids = {dsc_kid(c) for c in own_signers}
        self._signers: dict[bytes, list[x509.Certificate]] = {}
        for certificate in (*own_signers, *document_signers):
            self._signers.setdefault(dsc_kid(certificate), []).append(certificate)
        self._own_uses: dict[str, KeyUse] = {}
        self._thumbprints: dict[str, str] = {}  # own SHC key id -> RFC 7638 thumbprint
        self._lock = threading.Lock()
        if own_keys is not None:
            clash = set(self._foreign_credential_keys) & set(self._own_key_uses())
            if clash:
                raise ConfigurationError(f"foreign credential keys reuse our key ids {clash}")

    # --- DIVOC credentials -----------------------------------------------------------------

    def credential_key(self, verification_method: str) -> PublicKey | None:
        """The key behind a proof's verificationMethod; a ``verify_credential`` resolver."""
        own = self._own_key(KeyUse.CREDENTIAL, verification_method)
        if own is not None:
            return own
        return self._foreign_credential_keys.get(verification_method)

    def is_own_credential_key(self, verification_method: str) -> bool:
        """True for a key of this service: only then is our revocation list authoritative."""
        return self._own_key(KeyUse.CREDENTIAL, verification_method) is not None

    # --- SMART Health Cards ----------------------------------------------------------------

    def shc_keys(self, iss: str, kid: str) -> list[PublicKey]:
        """The ES256 keys of issuer ``iss`` with thumbprint ``kid`` (none if not trusted).

        Raises :class:`IssuerKeysUnavailable` when a configured issuer's keys cannot be fetched.
        """
        issuer = _issuer_url(iss)
        if self._own_shc_issuer is not None and issuer == self._own_shc_issuer:
            return self._own_shc_keys(kid)
        source = self._shc_issuers.get(issuer)
        if source is None:
            return []
        try:
            found = _jwk_by_kid(source.keys(), kid)
            if found is None:  # the issuer may have added a key since we fetched
                found = _jwk_by_kid(source.keys(refresh=True), kid)
        except (CertdistError, JWException, OSError, ValueError) as error:
            log.warning("SMART Health Card issuer keys unavailable", extra={"iss": issuer})
            raise IssuerKeysUnavailable("the card issuer's keys could not be fetched") from error
        if found is None:
            return []
        key = _public_key_of(found)
        return [key] if key is not None else []

    def shc_revocations(self, iss: str, kid: str) -> ShcRevocations:
        """The revocation lists of a foreign issuer's key ``kid`` (see the module docstring).

        Call it after :meth:`shc_keys` found the key: the JWK is then in the cache.
        """
        issuer = _issuer_url(iss)
        files = self._shc_revocations.get(issuer, ())
        source = self._shc_revocation_sources.get(issuer)
        if source is None or any(crl.get("kid") == kid for crl in files):
            return ShcRevocations(files)
        try:
            version = self._crl_version(issuer, kid)
        except ValueError as problem:
            return ShcRevocations(files, str(problem))
        if version is None:  # the issuer keeps no revocation list for this key
            return ShcRevocations(files)
        fetched = source.revocations(kid, version)
        return ShcRevocations((*files, *fetched.lists), fetched.unknown)

    def is_own_shc_issuer(self, iss: str) -> bool:
        return self._own_shc_issuer is not None and _issuer_url(iss) == self._own_shc_issuer

    def trusted_shc_issuers(self) -> list[str]:
        own = [self._own_shc_issuer] if self._own_shc_issuer else []
        return [*own, *self._shc_issuers]

    # --- EU DCC ----------------------------------------------------------------------------

    def document_signers(self, kid: bytes) -> Sequence[x509.Certificate]:
        """The Document Signer Certificates with this ``kid`` (usually one)."""
        return tuple(self._signers.get(bytes(kid), ()))

    def dcc_keys(self, kid: bytes) -> list[PublicKey]:
        """The public keys for a DCC ``kid``; a ``verify_hc1`` resolver."""
        keys = (certificate.public_key() for certificate in self.document_signers(kid))
        return [
            key for key in keys if isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)
        ]

    def is_own_document_signer(self, kid: bytes) -> bool:
        return bytes(kid) in self._own_dsc_kids

    # --- internals -------------------------------------------------------------------------

    def _crl_version(self, issuer: str, kid: str) -> int | None:
        """The JWK's ``crlVersion``; ValueError when it cannot be known."""
        source = self._shc_issuers.get(issuer)
        try:
            found = _jwk_by_kid(source.keys(), kid) if source is not None else None
        except (CertdistError, JWException, OSError, ValueError):
            raise ValueError("the issuer's keys could not be fetched") from None
        version = found.get("crlVersion") if found is not None else None
        if version is None:
            return None
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise ValueError("the key's crlVersion is not a whole number")
        return version

    def _own_key_uses(self, *, refresh: bool = False) -> Mapping[str, KeyUse]:
        with self._lock:
            if refresh or not self._own_uses:
                own = self._own.public_keys() if self._own is not None else []
                self._own_uses = {info.id: info.use for info in own}
            return self._own_uses

    def _own_key(self, use: KeyUse, key_id: str) -> PublicKey | None:
        if self._own is None:
            return None
        known = self._own_key_uses().get(key_id)
        if known is None:  # a key rotated in this process since we looked
            known = self._own_key_uses(refresh=True).get(key_id)
        if known is not use:
            return None
        return self._own.public_key(key_id)

    def _own_shc_keys(self, kid: str) -> list[PublicKey]:
        # A key rotated in this process since we looked is found on the second pass.
        return self._own_shc_keys_in(kid, refresh=False) or self._own_shc_keys_in(kid, refresh=True)

    def _own_shc_keys_in(self, kid: str, *, refresh: bool) -> list[PublicKey]:
        found: list[PublicKey] = []
        for key_id, use in self._own_key_uses(refresh=refresh).items():
            if use is not KeyUse.SHC:
                continue
            key = self._own.public_key(key_id) if self._own is not None else None
            if isinstance(key, ec.EllipticCurvePublicKey) and self._thumbprint(key_id, key) == kid:
                found.append(key)
        return found

    def _thumbprint(self, key_id: str, key: ec.EllipticCurvePublicKey) -> str:
        known = self._thumbprints.get(key_id)
        if known is None:
            known = thumbprint(key)
            self._thumbprints[key_id] = known
        return known


def _issuer_url(iss: str) -> str:
    # Issuers publish "https://x/issuer" but cards sometimes carry a trailing slash.
    return iss.strip().rstrip("/")


def _jwk_by_kid(keyset: jwk.JWKSet, kid: str) -> jwk.JWK | None:
    found = keyset.get_key(kid)
    if found is not None:
        return found
    # A key without "kid" is known by its thumbprint, which is what cards carry.
    for key in keyset["keys"]:
        if not key.get("kid") and key.thumbprint() == kid:
            return key
    return None


def _public_key_of(key: jwk.JWK) -> PublicKey | None:
    if key.get("kty") != "EC" or key.get("crv") != "P-256":
        return None  # SMART Health Cards are ES256 only
    public = key.get_op_key("verify")
    if isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        return public
    return None
