from __future__ import annotations

import os
from pathlib import Path

import pytest

from certdist.errors import ConfigurationError
from certdist.services.common.hashing import KeyedHasher
from certdist.signing.app_secret import SECRET_FILE_NAME, load_or_create_secret, load_secret


def test_digest_depends_on_secret_purpose_and_value() -> None:
    one, two = KeyedHasher(b"a" * 32), KeyedHasher(b"b" * 32)
    assert one.digest("otp", "123456") == one.digest("otp", "123456")
    assert one.digest("otp", "123456") != two.digest("otp", "123456")
    assert one.digest("otp", "123456") != one.digest("phone", "123456")
    assert one.matches("otp", "123456", one.digest("otp", "123456"))
    assert not one.matches("otp", "123457", one.digest("otp", "123456"))
    # The expected digest may come from a client (a form field): any text is just "no".
    assert not one.matches("otp", "123456", "é" * 64)


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        KeyedHasher(b"short")


def test_secret_is_created_once_private_and_reused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    first = load_or_create_secret(keys)
    assert load_or_create_secret(keys) == first
    assert len(first) >= 32
    assert os.stat(keys / SECRET_FILE_NAME).st_mode & 0o777 == 0o600


def test_a_readable_by_others_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"x" * 40)
    path.chmod(0o644)
    with pytest.raises(ConfigurationError):
        load_secret(path)
    path.chmod(0o600)
    assert load_secret(path) == b"x" * 40
    path.write_bytes(b"x" * 10)
    with pytest.raises(ConfigurationError):
        load_secret(path)
