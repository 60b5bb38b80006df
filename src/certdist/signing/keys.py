"""Signing keys: what each is for, where it lives, and which one signs today.

Every signed format has its own key (:class:`KeyUse`): W3C credentials (RSA like DIVOC, or
Ed25519), SMART Health Cards, EU DCC and session tokens (EC P-256). Exactly one key per use
is *active* and signs; retired keys stay in the store so certificates they signed keep
verifying, which is why :meth:`KeyStore.rotate` never deletes anything.

Two ways to fill a store:

* :meth:`KeyStore.init_directory` / :meth:`KeyStore.load` for a managed directory: PKCS#8
  PEM files (mode 0600, created that way rather than chmod-ed afterwards, so there is no
  moment when a key is readable by others) and a ``keys.json`` manifest.
* :meth:`KeyStore.from_files` for production, where keys come from configured paths
  (secret mounts, HSM-exported files); a public-key-only entry verifies certificates signed
  by a key whose private half is gone.

Private key files readable or writable by group or others are refused: a key that others
could read must be treated as leaked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, TypeAlias

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from certdist.errors import ConfigurationError
from certdist.signing.keyfiles import (
    MANIFEST_NAME,
    directory_lock,
    read_key_file,
    read_manifest,
    require_private_mode,
    write_manifest,
    write_new_file,
)

__all__ = [
    "KeyAlgorithm",
    "KeyFile",
    "KeyStore",
    "KeyUse",
    "PrivateKey",
    "PublicKey",
    "PublicKeyInfo",
    "SigningKey",
    "default_key_id",
]

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey: TypeAlias = rsa.RSAPublicKey | ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey

_RSA_BITS: Final = 2048


class KeyUse(StrEnum):
    """What a key signs."""

    CREDENTIAL = "credential"  # W3C verifiable credentials (DIVOC linked-data proofs)
    SHC = "shc"  # SMART Health Cards (ES256)
    DCC = "dcc"  # EU Digital COVID Certificates (ES256)
    TOKEN = "token"  # noqa: S105 - a key use, not a secret: tokens certdist issues


class KeyAlgorithm(StrEnum):
    """Key algorithms certdist generates and accepts."""

    RSA = "RSA"
    ED25519 = "Ed25519"
    EC_P256 = "EC-P256"


_DEFAULT_ALGORITHM: Final[Mapping[KeyUse, KeyAlgorithm]] = {
    KeyUse.CREDENTIAL: KeyAlgorithm.RSA,
    KeyUse.SHC: KeyAlgorithm.EC_P256,
    KeyUse.DCC: KeyAlgorithm.EC_P256,
    KeyUse.TOKEN: KeyAlgorithm.EC_P256,
}


@dataclass(frozen=True)
class SigningKey:
    """A private key together with its identity; ``id`` is the proof's verificationMethod."""

    id: str
    use: KeyUse
    algorithm: KeyAlgorithm
    private_key: PrivateKey = field(repr=False, compare=False)
    active: bool
    created_at: datetime | None  # None when loaded from a configured file with no date

    @property
    def public_key(self) -> PublicKey:
        return self.private_key.public_key()

    def public_pem(self) -> str:
        """The SubjectPublicKeyInfo PEM of this key."""
        return _public_pem(self.public_key)


@dataclass(frozen=True)
class PublicKeyInfo:
    """What may be published about a key (JWKS endpoints, the verifier's trust list)."""

    id: str
    use: KeyUse
    algorithm: KeyAlgorithm
    pem: str
    active: bool
    created_at: datetime | None


@dataclass(frozen=True)
class KeyFile:
    """One configured key for :meth:`KeyStore.from_files`.

    ``path`` holds a PEM private key (PKCS#8, or the traditional RSA / EC forms), or a PEM
    public key for a retired key that only verifies. ``id`` defaults to
    :func:`default_key_id`; DIVOC-compatible deployments set it to their DID (``did:india``).
    """

    use: KeyUse
    path: Path
    id: str | None = None
    active: bool = True
    created_at: datetime | None = None


@dataclass(frozen=True)
class _Entry:
    id: str
    use: KeyUse
    algorithm: KeyAlgorithm
    public_key: PublicKey = field(repr=False)
    private_key: PrivateKey | None = field(repr=False)
    active: bool
    created_at: datetime | None
    file_name: str | None = None  # set for keys managed in a directory

    def signing_key(self) -> SigningKey | None:
        if self.private_key is None:
            return None
        return SigningKey(
            self.id, self.use, self.algorithm, self.private_key, self.active, self.created_at
        )


def default_key_id(public_key: PublicKey) -> str:
    """``did:certdist:`` + the first 16 hex digits of SHA-256 of the SubjectPublicKeyInfo DER.

    Derived from the key itself, so the same key always gets the same id on every process.
    """
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "did:certdist:" + hashlib.sha256(der).hexdigest()[:16]


class KeyStore:
    """The keys of one deployment; see the module docstring for how it is filled."""

    def __init__(self, entries: Iterable[_Entry], *, keys_dir: Path | None = None) -> None:
        self._entries: dict[str, _Entry] = {}
        for entry in entries:
            if entry.id in self._entries:
                raise ConfigurationError(f"two keys share the id {entry.id!r}")
            self._entries[entry.id] = entry
        for use in KeyUse:
            active = [e.id for e in self._entries.values() if e.use is use and e.active]
            if len(active) > 1:
                raise ConfigurationError(f"more than one active {use} key: {active}")
        for entry in self._entries.values():
            if entry.active and entry.private_key is None:
                raise ConfigurationError(
                    f"key {entry.id!r} is marked active but only its public key is configured"
                )
        self._keys_dir = keys_dir
        self._lock = threading.Lock()

    # --- construction ----------------------------------------------------------------------

    @classmethod
    def init_directory(
        cls, keys_dir: Path, *, credential_algorithm: str = "RSA", now: datetime
    ) -> KeyStore:
        """Create ``keys_dir`` (0700) and a key for every use that has no active key yet.

        Idempotent: when every use already has an active key, nothing is written.
        ``credential_algorithm`` ("RSA" or "Ed25519") applies only when the credential key is
        generated here.
        """
        algorithm = _parse_algorithm(credential_algorithm)
        if algorithm not in (KeyAlgorithm.RSA, KeyAlgorithm.ED25519):
            raise ConfigurationError("the credential key must be RSA or Ed25519")
        created = _utc(now)
        keys_dir = Path(keys_dir)
        keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Several worker processes may start at once: one at a time decides what is missing.
        with directory_lock(keys_dir):
            if (keys_dir / MANIFEST_NAME).exists():
                store = cls.load(keys_dir)
            else:
                store = cls([], keys_dir=keys_dir)
            missing = [use for use in KeyUse if store._active_entry(use) is None]
            if not missing:
                return store
            entries = list(store._entries.values())
            for use in missing:
                chosen = algorithm if use is KeyUse.CREDENTIAL else _DEFAULT_ALGORITHM[use]
                entries.append(_generate_entry(use, chosen, keys_dir, created))
            write_manifest(keys_dir, [_record(e) for e in entries])
        return cls(entries, keys_dir=keys_dir)

    @classmethod
    def load(cls, keys_dir: Path) -> KeyStore:
        """Load a directory written by :meth:`init_directory`; ConfigurationError if broken."""
        keys_dir = Path(keys_dir)
        entries = [_load_entry(record, keys_dir) for record in read_manifest(keys_dir)]
        return cls(entries, keys_dir=keys_dir)

    @classmethod
    def from_files(cls, entries: Iterable[KeyFile]) -> KeyStore:
        """Build a store from configured key files (production); see :class:`KeyFile`."""
        return cls([_entry_from_key_file(key_file) for key_file in entries])

    # --- use -------------------------------------------------------------------------------

    def active(self, use: KeyUse | str) -> SigningKey:
        """The key that signs ``use`` today."""
        use = _parse_use(use)
        entry = self._active_entry(use)
        signing = entry.signing_key() if entry else None
        if signing is None:
            raise ConfigurationError(f"no active {use} signing key is configured")
        return signing

    def get(self, key_id: str) -> SigningKey | None:
        """The signing key with this id, or None if unknown or held as a public key only."""
        entry = self._entries.get(key_id)
        return entry.signing_key() if entry else None

    def public_key(self, key_id: str) -> PublicKey | None:
        """The public key with this id, or None; usable as ``verify_credential``'s resolver."""
        entry = self._entries.get(key_id)
        return entry.public_key if entry else None

    def public_keys(self) -> list[PublicKeyInfo]:
        """Every key's publishable half, active and retired."""
        return [
            PublicKeyInfo(
                e.id, e.use, e.algorithm, _public_pem(e.public_key), e.active, e.created_at
            )
            for e in list(self._entries.values())
        ]

    def rotate(
        self, use: KeyUse | str, now: datetime, *, algorithm: str | None = None
    ) -> SigningKey:
        """Generate a new active key for ``use``; the previous one stays, inactive.

        Only for directory stores: keys from configured files rotate by configuration.
        Other processes sharing the directory see the new key when they next load it.
        """
        use = _parse_use(use)
        created = _utc(now)
        keys_dir = self._keys_dir
        if keys_dir is None:
            raise ConfigurationError(
                "this key store was built from configured files; rotate keys in the configuration"
            )
        with self._lock, directory_lock(keys_dir):
            # Start from the directory, not from memory: another process may have rotated.
            entries = dict(KeyStore.load(keys_dir)._entries)
            previous = next((e for e in entries.values() if e.use is use and e.active), None)
            if algorithm is not None:
                chosen = _parse_algorithm(algorithm)
            elif previous is not None:
                chosen = previous.algorithm
            else:
                chosen = _DEFAULT_ALGORITHM[use]
            if use is KeyUse.CREDENTIAL and chosen is KeyAlgorithm.EC_P256:
                raise ConfigurationError("the credential key must be RSA or Ed25519")
            entry = _generate_entry(use, chosen, keys_dir, created)
            if previous is not None:
                entries[previous.id] = dataclasses.replace(previous, active=False)
            entries[entry.id] = entry
            write_manifest(keys_dir, [_record(e) for e in entries.values()])
            self._entries = entries
        signing = entry.signing_key()
        assert signing is not None
        return signing

    # --- internals -------------------------------------------------------------------------

    def _active_entry(self, use: KeyUse) -> _Entry | None:
        return next((e for e in self._entries.values() if e.use is use and e.active), None)


# --- key generation and files ---------------------------------------------------------------


def _generate_private_key(algorithm: KeyAlgorithm) -> PrivateKey:
    if algorithm is KeyAlgorithm.RSA:
        return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)
    if algorithm is KeyAlgorithm.ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def _generate_entry(use: KeyUse, algorithm: KeyAlgorithm, keys_dir: Path, now: datetime) -> _Entry:
    private_key = _generate_private_key(algorithm)
    public_key = private_key.public_key()
    key_id = default_key_id(public_key)
    file_name = f"{use}-{key_id.rsplit(':', 1)[-1]}.pem"
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_new_file(keys_dir / file_name, pem)
    return _Entry(key_id, use, algorithm, public_key, private_key, True, now, file_name)


def _parse_private_key(data: bytes, path: Path) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigurationError(f"key file {path} is not an unencrypted PEM private key") from None
    if isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey)):
        _algorithm_of(key.public_key(), path)  # rejects weak RSA and curves other than P-256
        return key
    raise ConfigurationError(f"key file {path} holds an unsupported key type")


def _parse_public_key(data: bytes, path: Path) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigurationError(f"key file {path} is not a PEM public key") from None
    if isinstance(key, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey, ec.EllipticCurvePublicKey)):
        _algorithm_of(key, path)
        return key
    raise ConfigurationError(f"key file {path} holds an unsupported key type")


def _algorithm_of(public_key: PublicKey, path: Path) -> KeyAlgorithm:
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < _RSA_BITS:
            raise ConfigurationError(f"RSA key in {path} is shorter than {_RSA_BITS} bits")
        return KeyAlgorithm.RSA
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return KeyAlgorithm.ED25519
    if not isinstance(public_key.curve, ec.SECP256R1):
        raise ConfigurationError(f"EC key in {path} is not on P-256")
    return KeyAlgorithm.EC_P256


def _entry_from_key_file(key_file: KeyFile) -> _Entry:
    path = Path(key_file.path)
    use = _parse_use(key_file.use)
    data, mode = read_key_file(path)
    private_key: PrivateKey | None
    if b"PRIVATE KEY" in data:
        require_private_mode(path, mode)
        private_key = _parse_private_key(data, path)
        public_key = private_key.public_key()
    elif b"PUBLIC KEY" in data:
        private_key = None
        public_key = _parse_public_key(data, path)
    else:
        raise ConfigurationError(f"key file {path} holds neither a PEM private nor public key")
    return _Entry(
        key_file.id or default_key_id(public_key),
        use,
        _algorithm_of(public_key, path),
        public_key,
        private_key,
        key_file.active,
        _utc(key_file.created_at) if key_file.created_at else None,
    )


# --- manifest --------------------------------------------------------------------------------


def _load_entry(record: Mapping[str, Any], keys_dir: Path) -> _Entry:
    where = f"key manifest {keys_dir / MANIFEST_NAME}, key {record['id']!r}"
    try:
        use = KeyUse(record["use"])
        declared = KeyAlgorithm(record["algorithm"])
        created_at = _utc(datetime.fromisoformat(record["created"])) if record["created"] else None
    except ValueError:
        raise ConfigurationError(f"{where}: unknown use or algorithm, or a bad time") from None
    path = keys_dir / record["file"]
    data, mode = read_key_file(path)
    require_private_mode(path, mode)
    private_key = _parse_private_key(data, path)
    public_key = private_key.public_key()
    algorithm = _algorithm_of(public_key, path)
    if algorithm is not declared:
        raise ConfigurationError(f"{where}: {path} holds a {algorithm} key, not {declared}")
    return _Entry(
        record["id"],
        use,
        algorithm,
        public_key,
        private_key,
        record["active"],
        created_at,
        record["file"],
    )


def _record(entry: _Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "use": str(entry.use),
        "algorithm": str(entry.algorithm),
        "file": entry.file_name,
        "active": entry.active,
        "created": _format_time(entry.created_at) if entry.created_at else None,
    }


# --- small helpers ---------------------------------------------------------------------------


def _parse_use(use: KeyUse | str) -> KeyUse:
    try:
        return KeyUse(use)
    except ValueError:
        raise ConfigurationError(
            f"unknown key use {use!r}; expected one of {[str(u) for u in KeyUse]}"
        ) from None


def _parse_algorithm(algorithm: str) -> KeyAlgorithm:
    try:
        return KeyAlgorithm(algorithm)
    except ValueError:
        raise ConfigurationError(
            f"unknown key algorithm {algorithm!r}; expected one of {[str(a) for a in KeyAlgorithm]}"
        ) from None


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("key timestamps must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0)


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _public_pem(public_key: PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
