"""The key store: directory layout and modes, loading, rotation, configured files."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from certdist.errors import ConfigurationError
from certdist.signing.keys import (
    KeyAlgorithm,
    KeyFile,
    KeyStore,
    KeyUse,
    SigningKey,
    default_key_id,
)
from certdist.signing.ldproof import sign_credential, verify_credential

from .samples import CredentialFactory

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=90)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(directory: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(directory.iterdir())}


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    return tmp_path / "state" / "keys"


def test_init_creates_private_files(keys_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_chmod(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("keys are created with their final mode, never chmod-ed")

    monkeypatch.setattr(os, "chmod", no_chmod)
    store = KeyStore.init_directory(keys_dir, now=NOW)
    monkeypatch.undo()

    assert mode(keys_dir) == 0o700
    manifest = json.loads((keys_dir / "keys.json").read_text())
    assert manifest["format"] == "certdist-keys/1"
    records = manifest["keys"]
    assert [r["use"] for r in records] == ["credential", "shc", "dcc", "token"]
    assert [r["algorithm"] for r in records] == ["RSA", "EC-P256", "EC-P256", "EC-P256"]
    assert all(r["active"] and r["created"] == "2024-05-01T12:00:00Z" for r in records)
    for record in records:
        path = keys_dir / record["file"]
        assert mode(path) == 0o600
        assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
        assert re.fullmatch(r"did:certdist:[0-9a-f]{16}", record["id"])
    assert mode(keys_dir / "keys.json") == 0o600
    assert {k.id for k in store.public_keys()} == {r["id"] for r in records}
    assert isinstance(store.active(KeyUse.CREDENTIAL).private_key, rsa.RSAPrivateKey)
    assert isinstance(store.active("shc").private_key, ec.EllipticCurvePrivateKey)


def test_init_is_idempotent(keys_dir: Path) -> None:
    first = KeyStore.init_directory(keys_dir, now=NOW)
    before = snapshot(keys_dir)
    second = KeyStore.init_directory(keys_dir, now=LATER)
    assert snapshot(keys_dir) == before
    assert [k.id for k in second.public_keys()] == [k.id for k in first.public_keys()]


def test_init_fills_in_only_missing_uses(keys_dir: Path) -> None:
    KeyStore.init_directory(keys_dir, now=NOW)
    manifest = json.loads((keys_dir / "keys.json").read_text())
    kept = [r for r in manifest["keys"] if r["use"] != "token"]
    manifest["keys"] = kept
    (keys_dir / "keys.json").write_text(json.dumps(manifest))
    store = KeyStore.init_directory(keys_dir, now=LATER)
    assert [k.id for k in store.public_keys()][:3] == [r["id"] for r in kept]
    assert store.active("token").created_at == LATER


def test_init_with_ed25519_credential_key(keys_dir: Path) -> None:
    store = KeyStore.init_directory(keys_dir, credential_algorithm="Ed25519", now=NOW)
    key = store.active(KeyUse.CREDENTIAL)
    assert key.algorithm is KeyAlgorithm.ED25519
    assert isinstance(key.private_key, ed25519.Ed25519PrivateKey)


@pytest.mark.parametrize("algorithm", ["EC-P256", "DSA"])
def test_init_refuses_other_credential_algorithms(keys_dir: Path, algorithm: str) -> None:
    with pytest.raises(ConfigurationError):
        KeyStore.init_directory(keys_dir, credential_algorithm=algorithm, now=NOW)


def test_init_needs_an_aware_time(keys_dir: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        KeyStore.init_directory(keys_dir, now=datetime(2024, 5, 1))


def test_load_round_trip(keys_dir: Path, vaccination_credential: CredentialFactory) -> None:
    created = KeyStore.init_directory(keys_dir, now=NOW)
    loaded = KeyStore.load(keys_dir)
    assert loaded.public_keys() == created.public_keys()
    key = loaded.active(KeyUse.CREDENTIAL)
    assert key == created.active(KeyUse.CREDENTIAL)
    assert key.created_at == NOW
    signed = sign_credential(vaccination_credential(), key, created=NOW)
    assert verify_credential(signed, created.public_key) == key.id


def test_rotate_keeps_old_keys_verifying(
    keys_dir: Path, vaccination_credential: CredentialFactory
) -> None:
    store = KeyStore.init_directory(keys_dir, now=NOW)
    old = store.active(KeyUse.CREDENTIAL)
    old_signed = sign_credential(vaccination_credential(), old, created=NOW)

    new = store.rotate(KeyUse.CREDENTIAL, LATER)
    assert new.id != old.id
    assert new.active
    assert new.created_at == LATER
    assert store.active(KeyUse.CREDENTIAL) == new
    retired = store.get(old.id)
    assert retired is not None
    assert not retired.active
    new_signed = sign_credential(vaccination_credential(), new, created=LATER)

    for current in (store, KeyStore.load(keys_dir)):  # also after a restart
        assert verify_credential(old_signed, current.public_key) == old.id
        assert verify_credential(new_signed, current.public_key) == new.id
        states = {k.id: k.active for k in current.public_keys() if k.use is KeyUse.CREDENTIAL}
        assert states == {old.id: False, new.id: True}
    assert mode(keys_dir / "keys.json") == 0o600
    assert not [p for p in keys_dir.iterdir() if p.name.endswith(".tmp")]


def test_rotate_can_change_algorithm(keys_dir: Path) -> None:
    store = KeyStore.init_directory(keys_dir, now=NOW)
    key = store.rotate("credential", LATER, algorithm="Ed25519")
    assert key.algorithm is KeyAlgorithm.ED25519
    with pytest.raises(ConfigurationError):
        store.rotate("credential", LATER, algorithm="EC-P256")
    with pytest.raises(ConfigurationError, match="unknown key use"):
        store.rotate("email", LATER)


def test_group_readable_key_is_refused(keys_dir: Path) -> None:
    KeyStore.init_directory(keys_dir, now=NOW)
    record = json.loads((keys_dir / "keys.json").read_text())["keys"][0]
    (keys_dir / record["file"]).chmod(0o640)
    with pytest.raises(ConfigurationError, match="accessible by group or others"):
        KeyStore.load(keys_dir)


@pytest.mark.parametrize(
    "content",
    [
        "{ not json",
        "[]",
        '{"format": "something-else/1", "keys": []}',
        '{"format": "certdist-keys/1", "keys": [{"id": "x"}]}',
    ],
)
def test_corrupt_manifest_is_refused(keys_dir: Path, content: str) -> None:
    KeyStore.init_directory(keys_dir, now=NOW)
    (keys_dir / "keys.json").write_text(content)
    with pytest.raises(ConfigurationError, match="manifest"):
        KeyStore.load(keys_dir)
    with pytest.raises(ConfigurationError, match="manifest"):
        KeyStore.init_directory(keys_dir, now=NOW)  # never silently replaced


def test_missing_manifest_or_key_file(keys_dir: Path) -> None:
    with pytest.raises(ConfigurationError, match="no key manifest"):
        KeyStore.load(keys_dir)
    KeyStore.init_directory(keys_dir, now=NOW)
    record = json.loads((keys_dir / "keys.json").read_text())["keys"][1]
    (keys_dir / record["file"]).unlink()
    with pytest.raises(ConfigurationError, match="cannot read key file"):
        KeyStore.load(keys_dir)


def test_corrupt_key_file(keys_dir: Path) -> None:
    KeyStore.init_directory(keys_dir, now=NOW)
    record = json.loads((keys_dir / "keys.json").read_text())["keys"][0]
    (keys_dir / record["file"]).write_text("-----BEGIN PRIVATE KEY-----\ngarbage\n")
    with pytest.raises(ConfigurationError, match="not an unencrypted PEM private key"):
        KeyStore.load(keys_dir)


@pytest.mark.parametrize("file_name", ["../outside.pem", "/etc/passwd", ".hidden.pem"])
def test_manifest_cannot_point_outside_the_directory(keys_dir: Path, file_name: str) -> None:
    KeyStore.init_directory(keys_dir, now=NOW)
    manifest = json.loads((keys_dir / "keys.json").read_text())
    manifest["keys"][0]["file"] = file_name
    (keys_dir / "keys.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigurationError, match="must name a plain file"):
        KeyStore.load(keys_dir)


def test_manifest_algorithm_must_match_the_file(keys_dir: Path) -> None:
    KeyStore.init_directory(keys_dir, now=NOW)
    manifest = json.loads((keys_dir / "keys.json").read_text())
    manifest["keys"][0]["algorithm"] = "Ed25519"
    (keys_dir / "keys.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigurationError, match="holds a RSA key, not Ed25519"):
        KeyStore.load(keys_dir)


# --- configured files (production) -----------------------------------------------------------


def write_pem(path: Path, data: bytes, file_mode: int = 0o600) -> Path:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return path


def private_pem(key: Any, traditional: bool = False) -> bytes:
    fmt = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if traditional
        else serialization.PrivateFormat.PKCS8
    )
    pem: bytes = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    return pem


def public_pem(key: Any) -> bytes:
    pem: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem


def test_from_files_with_a_retired_public_only_key(
    tmp_path: Path, vaccination_credential: CredentialFactory
) -> None:
    retired_private = rsa.generate_private_key(65537, 2048)
    retired_key = SigningKey(
        "did:india", KeyUse.CREDENTIAL, KeyAlgorithm.RSA, retired_private, True, NOW
    )
    old_signed = sign_credential(vaccination_credential(), retired_key, created=NOW)

    current = rsa.generate_private_key(65537, 2048)
    shc = ec.generate_private_key(ec.SECP256R1())
    store = KeyStore.from_files(
        [
            KeyFile(
                KeyUse.CREDENTIAL,
                write_pem(tmp_path / "old.pub.pem", public_pem(retired_private), 0o644),
                id="did:india",
                active=False,
            ),
            KeyFile(
                KeyUse.CREDENTIAL,
                write_pem(tmp_path / "current.pem", private_pem(current, traditional=True)),
                id="did:india:2",
                created_at=LATER,
            ),
            KeyFile(KeyUse.SHC, write_pem(tmp_path / "shc.pem", private_pem(shc))),
        ]
    )
    assert verify_credential(old_signed, store.public_key) == "did:india"
    assert store.get("did:india") is None  # public only: can verify, cannot sign
    active = store.active(KeyUse.CREDENTIAL)
    assert active.id == "did:india:2"
    assert active.created_at == LATER
    new_signed = sign_credential(vaccination_credential(), active, created=LATER)
    assert verify_credential(new_signed, store.public_key) == "did:india:2"
    assert store.active("shc").id == default_key_id(shc.public_key())
    assert store.active("shc").created_at is None
    infos = {info.id: info for info in store.public_keys()}
    assert infos["did:india"].pem.encode() == public_pem(retired_private)
    assert not infos["did:india"].active
    with pytest.raises(ConfigurationError, match="no active dcc signing key"):
        store.active(KeyUse.DCC)
    with pytest.raises(ConfigurationError, match="rotate keys in the configuration"):
        store.rotate(KeyUse.CREDENTIAL, LATER)


def test_from_files_refuses_world_readable_private_keys(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    path = write_pem(tmp_path / "key.pem", private_pem(key), 0o644)
    path.chmod(0o644)  # in case the umask removed the bits
    with pytest.raises(ConfigurationError, match="accessible by group or others"):
        KeyStore.from_files([KeyFile(KeyUse.CREDENTIAL, path)])


def test_from_files_consistency_checks(tmp_path: Path) -> None:
    one = write_pem(tmp_path / "one.pem", private_pem(ed25519.Ed25519PrivateKey.generate()))
    two = write_pem(tmp_path / "two.pem", private_pem(ed25519.Ed25519PrivateKey.generate()))
    public = write_pem(
        tmp_path / "pub.pem", public_pem(ed25519.Ed25519PrivateKey.generate()), 0o644
    )
    with pytest.raises(ConfigurationError, match="more than one active credential key"):
        KeyStore.from_files([KeyFile(KeyUse.CREDENTIAL, one), KeyFile(KeyUse.CREDENTIAL, two)])
    with pytest.raises(ConfigurationError, match="share the id"):
        KeyStore.from_files(
            [
                KeyFile(KeyUse.CREDENTIAL, one, id="k"),
                KeyFile(KeyUse.TOKEN, two, id="k"),
            ]
        )
    with pytest.raises(ConfigurationError, match="only its public key"):
        KeyStore.from_files([KeyFile(KeyUse.CREDENTIAL, public)])


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: rsa.generate_private_key(65537, 1024), "shorter than 2048"),  # noqa: S505
        (lambda: ec.generate_private_key(ec.SECP384R1()), "not on P-256"),
    ],
)
def test_from_files_refuses_weak_or_odd_keys(tmp_path: Path, make: Any, reason: str) -> None:
    path = write_pem(tmp_path / "key.pem", private_pem(make()))
    with pytest.raises(ConfigurationError, match=reason):
        KeyStore.from_files([KeyFile(KeyUse.CREDENTIAL, path)])


def test_from_files_refuses_non_keys(tmp_path: Path) -> None:
    path = write_pem(tmp_path / "cert.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n")
    with pytest.raises(ConfigurationError, match="neither a PEM private nor public key"):
        KeyStore.from_files([KeyFile(KeyUse.DCC, path)])
    with pytest.raises(ConfigurationError, match="cannot read key file"):
        KeyStore.from_files([KeyFile(KeyUse.DCC, tmp_path / "missing.pem")])


def test_signing_key_repr_hides_the_private_key(keys_dir: Path) -> None:
    key = KeyStore.init_directory(keys_dir, now=NOW).active(KeyUse.TOKEN)
    assert "private_key" not in repr(key)
    assert key.public_pem().startswith("-----BEGIN PUBLIC KEY-----")
    assert key.id == default_key_id(key.public_key)


def test_manifest_with_unknown_use_is_refused(keys_dir: Path) -> None:
    KeyStore.init_directory(keys_dir, now=NOW)
    manifest = json.loads((keys_dir / "keys.json").read_text())
    manifest["keys"][0]["use"] = "email"
    (keys_dir / "keys.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigurationError, match="unknown use or algorithm"):
        KeyStore.load(keys_dir)


def test_concurrent_init_agrees_on_one_key_set(keys_dir: Path) -> None:
    """Worker processes starting together must not each create (and sign with) own keys."""
    keys_dir.parent.mkdir(parents=True)
    script = (
        "import sys; from datetime import UTC, datetime; from pathlib import Path\n"
        "from certdist.signing.keys import KeyStore\n"
        "store = KeyStore.init_directory(Path(sys.argv[1]), now=datetime.now(UTC))\n"
        "print(store.active('credential').id)\n"
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(keys_dir)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    ids = {worker.communicate(timeout=120)[0].strip() for worker in workers}
    assert len(ids) == 1
    assert ids == {KeyStore.load(keys_dir).active("credential").id}
    assert len(list(keys_dir.glob("credential-*.pem"))) == 1
