"""A wallet's own key: the public JWK it proves possession of in an OpenID4VCI key proof,
which the SD-JWT VC binds (``cnf.jwk``) and its Key Binding JWTs are then signed with.

Two kinds of key, each with the JWS algorithms that sign with it:

* EC P-256 (``kty: EC``, ``crv: P-256``): ``ES256`` (RFC 7518 §3.4), the algorithm of the EU
  wallets' interoperability profile;
* Ed25519 (``kty: OKP``, ``crv: Ed25519``, RFC 8037): ``EdDSA``, and ``Ed25519``, the fully
  specified name RFC 9864 gives the same signature and recommends in its place.

An algorithm is accepted only with its own kind of key, so a header cannot make a
signature be checked the way it chooses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from certdist.signing.jose import b64url, b64url_decode, es256_verify, p256_jwk, public_key_from_jwk

ES256: Final = "ES256"
#: The JWS names of an Ed25519 signature: RFC 8037's and RFC 9864's.
ED25519_ALGORITHMS: Final = ("EdDSA", "Ed25519")
#: Every algorithm a holder key may sign with, in the order metadata lists them.
HOLDER_ALGORITHMS: Final = (ES256, *ED25519_ALGORITHMS)
_ED25519_BYTES: Final = 32


@dataclass(frozen=True)
class HolderKey:
    """A holder's public key and its JWK (public members only, in their canonical form)."""

    key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
    jwk: dict[str, str]

    def verifies(self, algorithm: object, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` over ``message`` is this key's under ``algorithm``; False
        for an algorithm that does not go with this kind of key."""
        if isinstance(self.key, ec.EllipticCurvePublicKey):
            return algorithm == ES256 and es256_verify(self.key, message, signature)
        if algorithm not in ED25519_ALGORITHMS:
            return False
        try:
            self.key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def holder_key(jwk: Any) -> HolderKey:
    """The key of a public JWK; ``ValueError`` saying which keys are accepted otherwise
    (a private member ``d`` included)."""
    if not isinstance(jwk, dict) or "d" in jwk:
        raise ValueError("the key must be a public JWK")
    try:
        if jwk.get("kty") == "OKP":
            return _ed25519(jwk)
        key = public_key_from_jwk(jwk)
    except (ValueError, KeyError, TypeError):
        raise ValueError("the key must be an EC P-256 or an OKP Ed25519 public key (JWK)") from None
    return HolderKey(key, p256_jwk(key))


def _ed25519(jwk: dict[str, Any]) -> HolderKey:
    if jwk.get("crv") != "Ed25519":
        raise ValueError("only the Ed25519 curve of OKP keys is supported")
    raw = b64url_decode(str(jwk["x"]))
    if len(raw) != _ED25519_BYTES:
        raise ValueError("an Ed25519 key is 32 bytes")
    key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
    return HolderKey(key, {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)})
