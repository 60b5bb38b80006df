"""Small JOSE helpers shared by the SMART Health Card and FHIR formats: base64url, ES256 with
raw ``r || s`` signatures (RFC 7518 §3.4), and P-256 JWKs with RFC 7638 thumbprints."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from certdist.signing.keys import PublicKey

_P256_BYTES: Final = 32


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; ValueError for anything else."""
    if not text.isascii() or any(c in text for c in "+/= \n"):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def es256_sign(private_key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """A raw 64-byte ES256 signature with an RFC 6979 (deterministic) nonce."""
    der = private_key.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    return r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big")


def es256_verify(public_key: PublicKey, message: bytes, signature: bytes) -> bool:
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or len(signature) != 64:
        return False
    r = int.from_bytes(signature[:_P256_BYTES], "big")
    s = int.from_bytes(signature[_P256_BYTES:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def p256_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public JWK members of a P-256 key (``kty``, ``crv``, ``x``, ``y``)."""
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(_P256_BYTES, "big")),
        "y": b64url(numbers.y.to_bytes(_P256_BYTES, "big")),
    }


def thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """The RFC 7638 SHA-256 thumbprint: required members, sorted, no whitespace."""
    canonical = json.dumps(p256_jwk(public_key), sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


def public_key_from_jwk(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from a JWK; ValueError for other keys."""
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ValueError("only EC P-256 keys are supported")
    x = int.from_bytes(b64url_decode(str(jwk["x"])), "big")
    y = int.from_bytes(b64url_decode(str(jwk["y"])), "big")
    return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()


def split_compact_jws(text: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """A compact JWS with JSON header and payload: ``(header, payload, signing input,
    signature)``, nothing checked but its form; ValueError saying what is wrong."""
    parts = text.split(".")
    if len(parts) != 3 or not all(parts) or not text.isascii():
        raise ValueError("not a compact JWS of three parts")
    try:
        header, payload = json.loads(b64url_decode(parts[0])), json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, RecursionError):
        raise ValueError("a part is not base64url-encoded JSON") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise ValueError("header and payload must be JSON objects")
    return header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def compact_json(value: Any) -> bytes:
    """Minified JSON, UTF-8 (what SMART Health Cards and our JWS payloads sign)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
