"""Reading and presenting SD-JWT VCs in tests: decode disclosures, keep a subset, sign a Key
Binding JWT with a holder key (the way a wallet would; written from RFC 9901)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certdist.formats.sd_jwt_vc import sign_jwt
from certdist.signing.jose import b64url, b64url_decode, compact_json, p256_jwk

HolderPrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def split(sd_jwt: str) -> tuple[str, list[str]]:
    parts = sd_jwt.split("~")
    return parts[0], [d for d in parts[1:] if d]


def payload_of(sd_jwt: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(b64url_decode(split(sd_jwt)[0].split(".")[1]))
    return payload


def header_of(sd_jwt: str) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(b64url_decode(split(sd_jwt)[0].split(".")[0]))
    return header


def decoded(disclosure: str) -> list[Any]:
    value: list[Any] = json.loads(b64url_decode(disclosure))
    return value


def present(sd_jwt: str, keep: Callable[[list[Any]], bool]) -> str:
    """The issuer JWT with only the disclosures ``keep`` accepts (no key binding)."""
    jwt, disclosures = split(sd_jwt)
    return "~".join([jwt, *(d for d in disclosures if keep(decoded(d))), ""])


def named(*names: str) -> Callable[[list[Any]], bool]:
    """Keeps the claims with these names, and the doses (array elements) with ``vaccinations``."""
    return lambda d: d[1] in names if len(d) == 3 else "vaccinations" in names


def holder_key() -> tuple[ec.EllipticCurvePrivateKey, dict[str, str]]:
    key = ec.generate_private_key(ec.SECP256R1())
    return key, p256_jwk(key.public_key())


def ed25519_holder_key() -> tuple[ed25519.Ed25519PrivateKey, dict[str, str]]:
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return key, {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}


def sign_as_holder(
    header: dict[str, Any], claims: dict[str, Any], key: HolderPrivateKey, alg: str | None = None
) -> str:
    """A compact JWS signed as a wallet does: ES256 with a P-256 key, EdDSA with an Ed25519
    one (``alg`` puts another name in the header, the signature unchanged)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return sign_jwt({**header, "alg": alg or "ES256"}, claims, key)
    full = {**header, "alg": alg or "EdDSA"}
    signing_input = f"{b64url(compact_json(full))}.{b64url(compact_json(claims))}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"


def with_key_binding(
    presentation: str,
    key: HolderPrivateKey,
    *,
    aud: str = "https://verifier.example",
    nonce: str = "n-0S6_WzA2Mj",
    iat: int | None = None,
    sd_hash: str | None = None,
    alg: str | None = None,
) -> str:
    digest = b64url(hashlib.sha256(presentation.encode("ascii")).digest())
    claims = {
        "iat": int(time.time()) if iat is None else iat,
        "aud": aud,
        "nonce": nonce,
        "sd_hash": sd_hash or digest,
    }
    return presentation + sign_as_holder({"typ": "kb+jwt"}, claims, key, alg)
