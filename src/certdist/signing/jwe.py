"""Compact JWE with a shared symmetric key, as SMART Health Links encrypt their files:
``alg: dir``, ``enc: A256GCM`` and a ``cty`` naming what is inside.

jwcrypto draws a fresh random 96-bit IV for every encryption, which the specification
requires, since one key encrypts every file of a link over its whole life.
"""

from __future__ import annotations

import base64
import json

from jwcrypto import jwe, jwk

KEY_BYTES = 32  # A256GCM


def encrypt(key: bytes, plaintext: bytes, content_type: str) -> str:
    if len(key) != KEY_BYTES:
        raise ValueError("an A256GCM key is 32 bytes")
    header = {"alg": "dir", "enc": "A256GCM", "cty": content_type}
    token = jwe.JWE(plaintext, protected=json.dumps(header, separators=(",", ":")))
    token.add_recipient(jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(key).decode().rstrip("=")))
    return str(token.serialize(compact=True))
