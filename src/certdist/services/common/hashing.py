"""Keyed hashes: how personal data and one-time secrets are stored and logged.

A plain SHA-256 of a phone number or a 6-digit code is reversed by trying every value; an
HMAC with the service's secret is not, without the secret. ``purpose`` separates uses, so
the hash of a phone number in a rate-limit key is not the hash of the same digits as an OTP.
"""

from __future__ import annotations

import hashlib
import hmac

from certdist.signing.sealed_ids import IdSeal


class KeyedHasher:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the keyed-hash secret must be at least 32 bytes")
        self._secret = secret

    def digest(self, purpose: str, value: str) -> str:
        """Hex HMAC-SHA256 of ``value`` for ``purpose``."""
        message = purpose.encode() + b"\x00" + value.encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def matches(self, purpose: str, value: str, expected_digest: str) -> bool:
        """Constant-time check of ``value`` against a stored digest."""
        # Bytes: ``expected_digest`` may be a client's text, and compare_digest refuses
        # non-ASCII str.
        return hmac.compare_digest(self.digest(purpose, value).encode(), expected_digest.encode())


#: The purpose of the key that seals an SD-JWT VC's revocation reference (``rid``).
SD_JWT_RID_PURPOSE = "sd-jwt-vc-rid"


def sd_jwt_rid_seal(hasher: KeyedHasher) -> IdSeal:
    """The seal of SD-JWT VC revocation references: its key is derived from the service's
    secret, so the issuer and our verifier share it without configuration."""
    return IdSeal(bytes.fromhex(hasher.digest(SD_JWT_RID_PURPOSE, "key")), SD_JWT_RID_PURPOSE)
