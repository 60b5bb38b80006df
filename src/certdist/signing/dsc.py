"""EU DCC Document Signer certificates (DSC) for the DCC signing keys.

An EU DCC names its signer by the ``kid`` of a Document Signer certificate, which a country's
signing CA (CSCA) issues for the DCC key. Two sources:

* the embedded default (development): :func:`ensure_local_signers` creates, once, a local
  signing CA (key and self-signed certificate) and a DSC for every DCC key in the key
  directory, and keeps them there as ``dcc-csca-key.pem``, ``dcc-csca.crt`` and
  ``dcc-dsc-<key id>.crt``; a rotated DCC key gets its own DSC at the next start, and the
  retired key's DSC stays, so what it signed keeps verifying;
* production: :func:`load_signers` reads the DSC certificates a national CSCA issued, from
  configured files, and pairs each with the configured DCC key whose public key it certifies.

A country's **upload certificate** (the DCC Gateway's ``UPLOAD`` type) signs what the
country hands to the gateway, revocation batches among them: :func:`load_upload_signer`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import NameOID

from certdist.errors import ConfigurationError
from certdist.signing.cose import certificate_kid
from certdist.signing.keyfiles import (
    directory_lock,
    read_key_file,
    require_private_mode,
    write_new_file,
)
from certdist.signing.keys import KeyStore, KeyUse, PublicKey, PublicKeyInfo

__all__ = [
    "DocumentSigner",
    "DocumentSigners",
    "UploadSigner",
    "ensure_local_signers",
    "load_signers",
    "load_upload_signer",
]

CSCA_KEY_FILE: Final = "dcc-csca-key.pem"
CSCA_CERTIFICATE_FILE: Final = "dcc-csca.crt"
_CSCA_YEARS: Final = 10
_DSC_YEARS: Final = 2


@dataclass(frozen=True)
class DocumentSigner:
    """One DSC and the DCC key it certifies (private half only for keys that still sign)."""

    certificate: x509.Certificate
    key_id: str
    private_key: ec.EllipticCurvePrivateKey | None = field(repr=False, compare=False)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def kid(self) -> bytes:
        """The EU DCC key id: the first 8 bytes of SHA-256 of the certificate DER."""
        return certificate_kid(self.der)

    @property
    def public_key(self) -> PublicKey:
        key = self.certificate.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        return key

    def valid_at(self, instant: datetime) -> bool:
        certificate = self.certificate
        return certificate.not_valid_before_utc <= instant <= certificate.not_valid_after_utc


class DocumentSigners:
    """Every DSC of the deployment; the one of the active DCC key signs."""

    def __init__(self, signers: Iterable[DocumentSigner], *, ca: x509.Certificate | None) -> None:
        self._signers = list(signers)
        self.ca = ca

    @property
    def active(self) -> DocumentSigner:
        signer = next((s for s in self._signers if s.private_key is not None), None)
        if signer is None:
            raise ConfigurationError("no DSC certificate for the active EU DCC key is configured")
        return signer

    def all(self) -> list[DocumentSigner]:
        return list(self._signers)

    def keys_for_kid(self, kid: bytes) -> list[PublicKey]:
        """Public keys of our DSCs with this ``kid`` (usable by ``verify_hc1``)."""
        return [s.public_key for s in self._signers if s.kid == kid]


def ensure_local_signers(
    keys_dir: Path, keys: KeyStore, *, country: str, now: datetime
) -> DocumentSigners:
    """The local CSCA and a DSC for each DCC key in ``keys_dir``, created when missing."""
    keys_dir = Path(keys_dir)
    # Also when the keys themselves come from configured files (development only).
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with directory_lock(keys_dir):
        ca_key, ca_certificate = _local_ca(keys_dir, country, now)
        signers = []
        for info in _dcc_keys(keys):
            path = keys_dir / f"dcc-dsc-{_suffix(info.id)}.crt"
            if path.exists():
                certificate = _read_certificate(path)
            else:
                certificate = _issue_dsc(info, ca_key, ca_certificate, country, now)
                write_new_file(path, certificate.public_bytes(serialization.Encoding.PEM))
            signers.append(_signer(certificate, info, keys))
    return DocumentSigners(signers, ca=ca_certificate)


def load_signers(certificate_files: Sequence[Path], keys: KeyStore) -> DocumentSigners:
    """Configured DSC certificates, each paired with the configured DCC key it certifies."""
    by_public_key = {_spki(info.pem): info for info in _dcc_keys(keys)}
    signers = []
    for path in certificate_files:
        certificate = _read_certificate(Path(path))
        info = by_public_key.get(_spki_of(certificate.public_key()))
        if info is None:
            raise ConfigurationError(
                f"DSC certificate {path} certifies no configured key with use 'dcc'"
            )
        signers.append(_signer(certificate, info, keys))
    return DocumentSigners(signers, ca=None)


@dataclass(frozen=True)
class UploadSigner:
    """The country's gateway upload certificate and its private key (EC or RSA)."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = field(repr=False)


def load_upload_signer(certificate_file: Path, key_file: Path) -> UploadSigner:
    """The upload certificate and the private key it certifies (PEM, unencrypted, 0600)."""
    certificate = _read_certificate(Path(certificate_file))
    data, mode = read_key_file(Path(key_file))
    require_private_mode(Path(key_file), mode)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"{key_file} is not an unencrypted PEM private key (the upload key)"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ConfigurationError(f"the upload key {key_file} must be an EC or RSA key")
    if _spki_of(key.public_key()) != _spki_of(certificate.public_key()):
        raise ConfigurationError(
            f"the upload certificate {certificate_file} does not certify the key in {key_file}"
        )
    return UploadSigner(certificate, key)


# --- internals ---------------------------------------------------------------------------------


def _dcc_keys(keys: KeyStore) -> list[PublicKeyInfo]:
    return [info for info in keys.public_keys() if info.use is KeyUse.DCC]


def _signer(certificate: x509.Certificate, info: PublicKeyInfo, keys: KeyStore) -> DocumentSigner:
    if _spki_of(certificate.public_key()) != _spki(info.pem):
        raise ConfigurationError(f"the DSC certificate for key {info.id!r} certifies another key")
    signing = keys.get(info.id) if info.active else None
    private = signing.private_key if signing is not None else None
    if private is not None and not isinstance(private, ec.EllipticCurvePrivateKey):
        raise ConfigurationError(f"EU DCC key {info.id!r} must be an EC P-256 key")
    return DocumentSigner(certificate, info.id, private)


def _local_ca(
    keys_dir: Path, country: str, now: datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key_path, certificate_path = keys_dir / CSCA_KEY_FILE, keys_dir / CSCA_CERTIFICATE_FILE
    if key_path.exists() and certificate_path.exists():
        data, mode = read_key_file(key_path)
        require_private_mode(key_path, mode)
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigurationError(f"{key_path} is not an EC private key")
        return key, _read_certificate(certificate_path)
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(country, "certdist local CSCA (development only)")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * _CSCA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signer=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_new_file(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    write_new_file(certificate_path, certificate.public_bytes(serialization.Encoding.PEM))
    return key, certificate


def _issue_dsc(
    info: PublicKeyInfo,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_certificate: x509.Certificate,
    country: str,
    now: datetime,
) -> x509.Certificate:
    public_key = serialization.load_pem_public_key(info.pem.encode())
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise ConfigurationError(f"EU DCC key {info.id!r} must be an EC P-256 key")
    return (
        x509.CertificateBuilder()
        .subject_name(_name(country, f"certdist DSC {_suffix(info.id)}"))
        .issuer_name(ca_certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * _DSC_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signer=True), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _key_usage(*, signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signer,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signer,
        crl_sign=not signer,
        encipher_only=False,
        decipher_only=False,
    )


def _name(country: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _read_certificate(path: Path) -> x509.Certificate:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigurationError(f"cannot read certificate {path}: {error.strerror}") from None
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise ConfigurationError(f"{path} is not an X.509 certificate (PEM or DER)") from None


def _suffix(key_id: str) -> str:
    """A file-name-safe short form of a key id (``did:certdist:ab12...`` → ``ab12...``)."""
    tail = key_id.rsplit(":", 1)[-1]
    if tail.isalnum():
        return tail
    return hashlib.sha256(key_id.encode()).hexdigest()[:16]


def _spki(pem: str) -> bytes:
    return _spki_of(serialization.load_pem_public_key(pem.encode()))


def _spki_of(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
