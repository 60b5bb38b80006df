"""EU DCC Document Signer certificates: the local CSCA and DSCs of the embedded default, and
configured DSC certificates in production."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certdist.errors import ConfigurationError
from certdist.signing.cose import certificate_kid
from certdist.signing.dsc import (
    CSCA_CERTIFICATE_FILE,
    CSCA_KEY_FILE,
    ensure_local_signers,
    load_signers,
    load_upload_signer,
)
from certdist.signing.keys import KeyFile, KeyStore, KeyUse
from tests.support.wallet_samples import write_upload_signer

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def new_key_file(directory: Path) -> Path:
    """A fresh P-256 private key in a 0600 PEM file."""
    path = directory / "dcc.pem"
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("keys")
    KeyStore.init_directory(directory, credential_algorithm="Ed25519", now=NOW)
    return directory


def test_local_ca_and_dsc_are_created_once(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    store = KeyStore.init_directory(keys_dir, credential_algorithm="Ed25519", now=NOW)
    signers = ensure_local_signers(keys_dir, store, country="IN", now=NOW)
    active = signers.active
    assert active.key_id == store.active(KeyUse.DCC).id
    assert stat.S_IMODE((keys_dir / CSCA_KEY_FILE).stat().st_mode) == 0o600
    ca = signers.ca
    assert ca is not None
    # The DSC certifies the DCC key and is signed by the local CSCA.
    assert (
        active.public_key.public_numbers() == store.active(KeyUse.DCC).public_key.public_numbers()
    )  # type: ignore[union-attr]
    active.certificate.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = active.certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_cert_sign
    assert (
        active.certificate.subject.get_attributes_for_oid(x509.NameOID.COUNTRY_NAME)[0].value
        == "IN"
    )
    assert active.kid == certificate_kid(active.der)
    assert signers.keys_for_kid(active.kid) == [active.public_key]
    assert signers.keys_for_kid(b"\x00" * 8) == []
    # Idempotent: a second start reuses the same certificates.
    before = {p.name: p.read_bytes() for p in keys_dir.iterdir() if p.is_file()}
    again = ensure_local_signers(keys_dir, KeyStore.load(keys_dir), country="IN", now=NOW)
    assert again.active.kid == active.kid
    assert {p.name: p.read_bytes() for p in keys_dir.iterdir() if p.is_file()} == before


def test_rotated_key_gets_its_own_dsc_and_the_old_one_still_verifies(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    store = KeyStore.init_directory(keys_dir, credential_algorithm="Ed25519", now=NOW)
    old = ensure_local_signers(keys_dir, store, country="IN", now=NOW).active
    store.rotate(KeyUse.DCC, NOW + timedelta(days=30))
    signers = ensure_local_signers(keys_dir, KeyStore.load(keys_dir), country="IN", now=NOW)
    assert signers.active.kid != old.kid
    retired = [s for s in signers.all() if s.kid == old.kid]
    assert len(retired) == 1
    assert retired[0].private_key is None  # verifies, never signs again
    assert signers.keys_for_kid(old.kid)
    assert signers.ca is not None
    signers.active.certificate.verify_directly_issued_by(signers.ca)


def test_configured_dsc_pairs_with_configured_key(store_dir: Path, tmp_path: Path) -> None:
    local = ensure_local_signers(store_dir, KeyStore.load(store_dir), country="IN", now=NOW)
    certificate = tmp_path / "dsc.der"
    certificate.write_bytes(local.active.der)  # DER is accepted as well as PEM
    key_path = tmp_path / "dcc.pem"
    key_path.write_bytes(
        (
            store_dir / next(p.name for p in store_dir.glob("dcc-*.pem") if "csca" not in p.name)
        ).read_bytes()
    )
    key_path.chmod(0o600)
    store = KeyStore.from_files([KeyFile(use=KeyUse.DCC, path=key_path)])
    signers = load_signers([certificate], store)
    assert signers.active.kid == local.active.kid
    assert signers.ca is None


def test_local_dsc_for_configured_key_files(store_dir: Path, tmp_path: Path) -> None:
    """Development with key files but no DSC: the local CSCA goes to a new directory."""
    store = KeyStore.from_files([KeyFile(use=KeyUse.DCC, path=new_key_file(tmp_path))])
    signers = ensure_local_signers(tmp_path / "new" / "keys", store, country="IN", now=NOW)
    assert signers.active.key_id == store.active(KeyUse.DCC).id
    assert (tmp_path / "new" / "keys" / CSCA_CERTIFICATE_FILE).is_file()


def test_configured_dsc_for_another_key_is_refused(store_dir: Path, tmp_path: Path) -> None:
    local = ensure_local_signers(store_dir, KeyStore.load(store_dir), country="IN", now=NOW)
    certificate = tmp_path / "dsc.pem"
    certificate.write_bytes(local.active.certificate.public_bytes(serialization.Encoding.PEM))
    store = KeyStore.from_files([KeyFile(use=KeyUse.DCC, path=new_key_file(tmp_path))])
    with pytest.raises(ConfigurationError, match="certifies no configured key"):
        load_signers([certificate], store)
    garbage = tmp_path / "garbage.crt"
    garbage.write_bytes(b"not a certificate")
    with pytest.raises(ConfigurationError, match=r"not an X\.509 certificate"):
        load_signers([garbage], store)
    with pytest.raises(ConfigurationError, match="no DSC certificate"):
        _ = load_signers([], store).active


def test_ca_certificate_file_is_written(store_dir: Path) -> None:
    ensure_local_signers(store_dir, KeyStore.load(store_dir), country="IN", now=NOW)
    ca = x509.load_pem_x509_certificate((store_dir / CSCA_CERTIFICATE_FILE).read_bytes())
    assert "CSCA" in ca.subject.rfc4514_string()


# --- the gateway upload certificate ------------------------------------------------------------


@pytest.mark.parametrize("use_rsa", [False, True], ids=["ec", "rsa"])
def test_an_upload_certificate_loads_with_its_key(tmp_path: Path, use_rsa: bool) -> None:
    certificate_file, key_file, certificate = write_upload_signer(tmp_path, use_rsa=use_rsa)
    signer = load_upload_signer(certificate_file, key_file)
    assert signer.certificate == certificate
    assert "private_key" not in repr(signer)


def test_an_upload_key_of_another_certificate_is_refused(tmp_path: Path) -> None:
    certificate_file, _, _ = write_upload_signer(tmp_path / "a")
    _, other_key, _ = write_upload_signer(tmp_path / "b")
    with pytest.raises(ConfigurationError, match="does not certify the key"):
        load_upload_signer(certificate_file, other_key)


def test_an_upload_key_others_can_read_is_refused(tmp_path: Path) -> None:
    certificate_file, key_file, _ = write_upload_signer(tmp_path)
    key_file.chmod(0o644)
    with pytest.raises(ConfigurationError, match="accessible by group or others"):
        load_upload_signer(certificate_file, key_file)


def test_an_upload_key_file_that_holds_no_key_is_refused(tmp_path: Path) -> None:
    certificate_file, key_file, _ = write_upload_signer(tmp_path)
    key_file.write_bytes(certificate_file.read_bytes())  # a certificate, not a key
    with pytest.raises(ConfigurationError, match="not an unencrypted PEM private key"):
        load_upload_signer(certificate_file, key_file)
