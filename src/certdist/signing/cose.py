"""COSE_Sign1 (RFC 9052) for EU DCC: sign with ES256, verify ES256 and PS256.

Signing writes what the EU DCC specification requires: the algorithm and the ``kid`` in the
protected header, an empty unprotected header, CBOR tag 18, and an ES256 signature as the raw
``r || s`` (64 bytes), not DER. ECDSA nonces follow RFC 6979 (deterministic), so the same
payload signed with the same key gives the same bytes, and rendered certificates can be
cached and served with a strong ETag.

Verification is what a scanner must tolerate: tag 18 or an untagged array, optionally
wrapped in the CWT tag 61; the ``kid`` from the protected header, or (only when the
protected header has none) from the unprotected one.

Decoded CBOR is checked by shape, not by concrete type: cbor2 6 decodes the content of a tag
(so the whole tagged COSE_Sign1) into immutable containers, an array as a ``tuple`` and a map
as a ``cbor2.frozendict``, where cbor2 5 gave ``list`` and ``dict``. Any ``Sequence`` other
than a string, and any ``Mapping``, is accepted (:func:`is_cbor_array`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from certdist.errors import (
    MalformedCertificate,
    UnknownKey,
    UnsupportedFormat,
    VerificationError,
)
from certdist.signing.jose import es256_sign, es256_verify
from certdist.signing.keys import PublicKey

__all__ = [
    "ES256",
    "PS256",
    "Sign1",
    "VerifiedSign1",
    "cbor_map",
    "certificate_kid",
    "is_cbor_array",
    "parse_sign1",
    "sign1",
    "verify_sign1",
]

ES256: Final = -7
PS256: Final = -37
_ALG: Final = 1
_KID: Final = 4
_TAG_SIGN1: Final = 18
_TAG_CWT: Final = 61
#: What cbor2 raises for bytes that are no CBOR it can decode. RecursionError: cbor2 5
#: recurses into nested arrays past the interpreter's limit (6 refuses them itself).
_UNDECODABLE = (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError)


@dataclass(frozen=True)
class VerifiedSign1:
    payload: bytes
    kid: bytes
    algorithm: int


def sign1(payload: bytes, private_key: ec.EllipticCurvePrivateKey, kid: bytes) -> bytes:
    """A tagged COSE_Sign1 of ``payload``, ES256, ``kid`` in the protected header."""
    if not isinstance(private_key.curve, ec.SECP256R1):
        raise ValueError("ES256 needs a P-256 key")
    protected = cbor2.dumps({_ALG: ES256, _KID: kid})
    signature = es256_sign(private_key, _to_be_signed(protected, payload))
    return cbor2.dumps(cbor2.CBORTag(_TAG_SIGN1, [protected, {}, payload, signature]))


@dataclass(frozen=True)
class Sign1:
    """A parsed, not yet verified, COSE_Sign1."""

    protected_bytes: bytes
    protected: Mapping[Any, Any]
    unprotected: Mapping[Any, Any]
    payload: bytes
    signature: bytes

    @property
    def kid(self) -> bytes | None:
        """The protected ``kid``, or the unprotected one only if the protected header has none."""
        kid = self.protected.get(_KID) if _KID in self.protected else self.unprotected.get(_KID)
        return kid if isinstance(kid, bytes) and kid else None

    def verify(self, keys_for_kid: Callable[[bytes], Sequence[PublicKey]]) -> VerifiedSign1:
        """Check the signature with the keys trusted for the ``kid``."""
        algorithm = self.protected.get(_ALG, self.unprotected.get(_ALG))
        if algorithm not in (ES256, PS256):
            # A well-formed message whose algorithm we do not implement: not a forgery.
            raise UnsupportedFormat(f"COSE algorithm {algorithm!r} is not supported")
        kid = self.kid
        if kid is None:
            raise MalformedCertificate("the COSE message names no key id (kid)")
        candidates = list(keys_for_kid(kid))
        if not candidates:
            raise UnknownKey(f"no trusted key has the kid {kid.hex()}")
        to_be_signed = _to_be_signed(self.protected_bytes, self.payload)
        if not any(_signature_ok(k, algorithm, to_be_signed, self.signature) for k in candidates):
            raise VerificationError("the COSE signature does not match the key with this kid")
        return VerifiedSign1(payload=self.payload, kid=kid, algorithm=algorithm)


def parse_sign1(data: bytes) -> Sign1:
    """Parse a COSE_Sign1 (tag 18 or untagged, optionally inside CWT tag 61); anything else
    is a :class:`MalformedCertificate`."""
    return Sign1(*_parse(data))


def verify_sign1(
    data: bytes, keys_for_kid: Callable[[bytes], Sequence[PublicKey]]
) -> VerifiedSign1:
    """The verified payload of a COSE_Sign1; :class:`MalformedCertificate` (structure),
    :class:`UnknownKey` or :class:`VerificationError` (signature) say why not."""
    return parse_sign1(data).verify(keys_for_kid)


def is_cbor_array(value: object) -> bool:
    """Whether ``value`` is a decoded CBOR array: a list (cbor2 5) or a tuple (cbor2 6 inside a
    tag or a map key), never a text or byte string, which are sequences too."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)


def _parse(data: bytes) -> tuple[bytes, Mapping[Any, Any], Mapping[Any, Any], bytes, bytes]:
    try:
        message = cbor2.loads(data)
    except _UNDECODABLE as exc:
        raise MalformedCertificate(f"not a CBOR COSE message: {exc}") from None
    if isinstance(message, cbor2.CBORTag) and message.tag == _TAG_CWT:
        message = message.value
    if isinstance(message, cbor2.CBORTag):
        if message.tag != _TAG_SIGN1:
            raise MalformedCertificate(f"CBOR tag {message.tag} is not COSE_Sign1 (18)")
        message = message.value
    if not is_cbor_array(message) or len(message) != 4:
        raise MalformedCertificate("COSE_Sign1 must be an array of four items")
    protected_bytes, unprotected, payload, signature = message
    if not isinstance(protected_bytes, bytes) or not isinstance(unprotected, Mapping):
        raise MalformedCertificate("COSE_Sign1 headers are malformed")
    if not isinstance(payload, bytes) or not isinstance(signature, bytes):
        raise MalformedCertificate("COSE_Sign1 payload or signature is not a byte string")
    protected: Any = {}
    if protected_bytes:
        try:
            protected = cbor2.loads(protected_bytes)
        except _UNDECODABLE as exc:
            raise MalformedCertificate(f"COSE protected header is not CBOR: {exc}") from None
    if not isinstance(protected, Mapping):
        raise MalformedCertificate("COSE protected header is not a map")
    return protected_bytes, protected, unprotected, payload, signature


def _to_be_signed(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def _signature_ok(key: PublicKey, algorithm: int, message: bytes, signature: bytes) -> bool:
    try:
        if algorithm == ES256:
            return es256_verify(key, message, signature)
        if algorithm == PS256 and isinstance(key, rsa.RSAPublicKey):
            # Issuers use 32-byte salts or the maximum; either verifies.
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            key.verify(signature, message, pss, hashes.SHA256())
            return True
    except InvalidSignature:
        return False
    return False


def certificate_kid(certificate_der: bytes) -> bytes:
    """The EU DCC key id of a Document Signer certificate: SHA-256 of its DER, first 8 bytes."""
    return hashlib.sha256(certificate_der).digest()[:8]


def cbor_map(value: object, what: str) -> Mapping[Any, Any]:
    """``value`` decoded from CBOR bytes as a map; MalformedCertificate naming ``what`` if not."""
    if not isinstance(value, bytes):
        raise MalformedCertificate(f"{what} is not a CBOR byte string")
    try:
        decoded = cbor2.loads(value)
    except _UNDECODABLE as exc:
        raise MalformedCertificate(f"{what} is not valid CBOR: {exc}") from None
    if isinstance(decoded, cbor2.CBORTag) and decoded.tag == _TAG_CWT:
        decoded = decoded.value
    if not isinstance(decoded, Mapping):
        raise MalformedCertificate(f"{what} is not a CBOR map")
    return decoded
