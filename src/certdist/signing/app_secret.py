"""The service's own secret: the key of every keyed hash (OTP codes, session ids, share
tokens, phone numbers in state keys and logs).

Development creates it once beside the signing keys; production reads a configured file.
Every process of one deployment must use the same secret, or a code hashed by one process
would not match in another.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from certdist.errors import ConfigurationError
from certdist.signing.keyfiles import (
    directory_lock,
    read_key_file,
    require_private_mode,
    write_new_file,
)

SECRET_FILE_NAME = "app-secret"  # noqa: S105 - a file name, not a secret
_MINIMUM_BYTES = 32


def load_secret(path: Path) -> bytes:
    """Read a secret file (0600, at least 32 bytes); ConfigurationError otherwise."""
    data, mode = read_key_file(path)
    require_private_mode(path, mode)
    secret = data.strip()
    if len(secret) < _MINIMUM_BYTES:
        raise ConfigurationError(f"secret file {path} must hold at least {_MINIMUM_BYTES} bytes")
    return secret


def load_or_create_secret(keys_dir: Path) -> bytes:
    """The secret in ``keys_dir``, created (64 random hex characters) if absent."""
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = keys_dir / SECRET_FILE_NAME
    with directory_lock(keys_dir):
        if not path.exists():
            write_new_file(path, secrets.token_hex(32).encode() + b"\n")
    return load_secret(path)
