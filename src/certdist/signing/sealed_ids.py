"""Opaque references that only their issuer can read: an identifier encrypted with
AES-256-GCM under a key of the issuer's, with a fresh random nonce each time, so two
references to the same identifier look unrelated (an SD-JWT VC's ``rid``)."""

from __future__ import annotations

import secrets
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from certdist.signing.jose import b64url, b64url_decode

_NONCE_BYTES: Final = 12
_KEY_BYTES: Final = 32


class IdSeal:
    """Seals identifiers under ``key`` (32 bytes) for one ``purpose`` (bound as associated
    data, so a reference made for one purpose never opens for another)."""

    def __init__(self, key: bytes, purpose: str) -> None:
        if len(key) != _KEY_BYTES:
            raise ValueError(f"a sealing key is {_KEY_BYTES} bytes")
        self._aead = AESGCM(key)
        self._purpose = purpose.encode()

    def seal(self, identifier: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return b64url(nonce + self._aead.encrypt(nonce, identifier.encode(), self._purpose))

    def open(self, reference: str) -> str | None:
        """The identifier, or ``None`` for a reference this seal did not make."""
        try:
            raw = b64url_decode(reference)
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], self._purpose)
            return plain.decode()
        except (ValueError, InvalidTag, UnicodeDecodeError):
            return None
