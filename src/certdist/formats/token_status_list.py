"""IETF Token Status List (draft-ietf-oauth-status-list): the statuses of many SD-JWT VCs in
one compressed byte array, published as a signed Status List Token (JWT).

* *Bit order.* Entry ``i`` of a list of ``bits`` bits per entry is the ``bits``-wide block at
  bit offset ``(i * bits) % 8`` of byte ``(i * bits) // 8``, counted from the LEAST
  significant bit: with ``bits`` 1, index 0 is ``0x01`` of the first byte. (The W3C
  Bitstring Status List, :mod:`.status_list`, counts from the most significant bit.)
* ``lst`` is the base64url (no padding) of the ZLIB (RFC 1950) stream of the DEFLATE-compressed
  bytes, at the highest level.
* The token: header ``{"typ": "statuslist+jwt", "alg": "ES256", "kid"}``; claims ``sub`` (the
  list's URI, the ``uri`` its credentials name), ``iat``, ``exp``, ``ttl`` (seconds a reader
  may keep it), ``iss`` (so that a reader finds the keys at ``/.well-known/jwt-vc-issuer``, as
  for the credentials), and ``status_list: {bits, lst}``.

We publish 1-bit lists (VALID 0, INVALID 1). Reading accepts 1, 2, 4 and 8 bits, and at most
:data:`MAX_BYTES` of decompressed list: a small ZLIB stream can expand without limit.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec

from certdist.errors import MalformedCertificate, VerificationError
from certdist.formats.sd_jwt_vc import decode_jws, sign_jwt
from certdist.formats.shc import check_es256, numeric_date
from certdist.signing.jose import b64url, b64url_decode, thumbprint
from certdist.signing.keys import PublicKey

TYP: Final = "statuslist+jwt"
MEDIA_TYPE: Final = "application/statuslist+jwt"
#: The status types of the specification's registry.
VALID: Final = 0x00
INVALID: Final = 0x01
SUSPENDED: Final = 0x02
ALLOWED_BITS: Final = (1, 2, 4, 8)
#: The largest decompressed list a reader accepts (16 MiB: 134 million 1-bit entries).
MAX_BYTES: Final = 16 * 1024 * 1024


class TokenStatusList:
    """A byte array of ``size`` entries of ``bits`` bits each (``size * bits`` a multiple of 8)."""

    def __init__(self, size: int, bits: int = 1, *, data: bytes | None = None) -> None:
        if bits not in ALLOWED_BITS:
            raise ValueError(f"bits must be one of {ALLOWED_BITS}")
        if size <= 0 or (size * bits) % 8:
            raise ValueError("a status list holds a whole number of bytes")
        self.bits = bits
        self._bytes = bytearray(data if data is not None else bytes(size * bits // 8))
        if len(self._bytes) * 8 != size * bits:
            raise ValueError("the bytes do not match the size")

    @property
    def size(self) -> int:
        return len(self._bytes) * 8 // self.bits

    def _place(self, index: int) -> tuple[int, int, int]:
        if not 0 <= index < self.size:
            raise IndexError(f"status list index {index} is outside 0..{self.size - 1}")
        offset = index * self.bits
        return offset // 8, offset % 8, (1 << self.bits) - 1

    def get(self, index: int) -> int:
        byte, shift, mask = self._place(index)
        return (self._bytes[byte] >> shift) & mask

    def set(self, index: int, status: int) -> None:
        byte, shift, mask = self._place(index)
        if not 0 <= status <= mask:
            raise ValueError(f"status {status} does not fit in {self.bits} bits")
        self._bytes[byte] = (self._bytes[byte] & ~(mask << shift) & 0xFF) | (status << shift)

    def raw(self) -> bytes:
        return bytes(self._bytes)

    def lst(self) -> str:
        """The ``lst`` member: base64url of the ZLIB-compressed bytes (level 9)."""
        return b64url(zlib.compress(bytes(self._bytes), 9))

    def as_claim(self) -> dict[str, Any]:
        """The ``status_list`` claim of a Status List Token."""
        return {"bits": self.bits, "lst": self.lst()}

    @classmethod
    def of(cls, invalid: Iterable[int], size: int) -> TokenStatusList:
        """A 1-bit list whose ``invalid`` indexes are INVALID, every other VALID."""
        built = cls(size)
        for index in invalid:
            built.set(index, INVALID)
        return built

    @classmethod
    def decode(cls, claim: Any) -> TokenStatusList:
        """The list of a ``status_list`` claim (``MalformedCertificate`` naming the problem)."""
        if not isinstance(claim, dict):
            raise MalformedCertificate("status list token: status_list is not an object")
        bits, lst = claim.get("bits"), claim.get("lst")
        if isinstance(bits, bool) or bits not in ALLOWED_BITS:
            raise MalformedCertificate("status list token: bits is not 1, 2, 4 or 8")
        if not isinstance(lst, str) or not lst:
            raise MalformedCertificate("status list token: lst is missing")
        try:
            compressed = b64url_decode(lst)
        except ValueError:
            raise MalformedCertificate("status list token: lst is not base64url") from None
        inflater = zlib.decompressobj()
        try:
            data = inflater.decompress(compressed, MAX_BYTES + 1)
        except zlib.error:
            raise MalformedCertificate("status list token: lst is not ZLIB data") from None
        if len(data) > MAX_BYTES or inflater.unconsumed_tail:
            raise MalformedCertificate(f"status list token: longer than {MAX_BYTES} bytes")
        if not data:
            raise MalformedCertificate("status list token: the list is empty")
        return cls(len(data) * 8 // bits, bits, data=data)


def status_list_token(
    uri: str,
    statuses: TokenStatusList,
    key: ec.EllipticCurvePrivateKey,
    *,
    issuer: str,
    issued_at: datetime,
    expires_at: datetime,
    ttl_seconds: int,
) -> str:
    """The signed Status List Token (compact JWS) of the list at ``uri``."""
    header = {"typ": TYP, "alg": "ES256", "kid": thumbprint(key.public_key())}
    claims = {
        "sub": uri,
        "iss": issuer,
        "iat": int(issued_at.timestamp()),
        "exp": int(expires_at.timestamp()),
        "ttl": ttl_seconds,
        "status_list": statuses.as_claim(),
    }
    return sign_jwt(header, claims, key)


@dataclass(frozen=True)
class VerifiedStatusList:
    """A Status List Token whose signature, subject and expiry held."""

    uri: str
    statuses: TokenStatusList
    issued_at: datetime
    expires_at: datetime | None
    ttl_seconds: float | None

    def status_of(self, index: int) -> int:
        """The status of entry ``index`` (``MalformedCertificate`` outside the list: the
        specification says no statement can then be made)."""
        if index >= self.statuses.size:
            raise MalformedCertificate("status list token: the index is outside the list")
        return self.statuses.get(index)


def read_status_list_token(
    token: str,
    *,
    uri: str,
    keys_for: Callable[[str], Sequence[PublicKey]],
    issuer: str,
    now: datetime,
) -> VerifiedStatusList:
    """Check a Status List Token fetched for a credential whose ``status.status_list.uri`` is
    ``uri``: the type, an ES256 signature by one of ``keys_for(kid)`` (the keys trusted for
    the credential's ``issuer``), ``sub`` = ``uri``, ``iat``, ``exp`` not passed.

    ``MalformedCertificate`` or ``VerificationError`` naming the problem.
    """
    header, claims, signing_input, signature = decode_jws(token.strip(), "status list token")
    if header.get("typ") != TYP:
        raise MalformedCertificate(f'status list token: the type must be "{TYP}"')
    if header.get("alg") != "ES256":
        raise MalformedCertificate("status list token: the algorithm must be ES256")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise MalformedCertificate("status list token: no key id (kid)")
    check_es256(keys_for(kid), issuer, kid, signing_input, signature)
    if claims.get("sub") != uri:
        raise VerificationError("status list token: its sub is not the credential's list URI")
    if claims.get("iss", issuer) != issuer:
        raise VerificationError("status list token: its issuer is not the credential's")
    issued_at = numeric_date(claims.get("iat"), "iat")
    if issued_at is None:
        raise MalformedCertificate("status list token: no iat")
    expires_at = numeric_date(claims.get("exp"), "exp")
    if expires_at is not None and now >= expires_at:
        raise VerificationError("status list token: it has expired")
    ttl = claims.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0):
        raise MalformedCertificate("status list token: ttl is not a positive number")
    return VerifiedStatusList(
        uri=uri,
        statuses=TokenStatusList.decode(claims.get("status_list")),
        issued_at=issued_at,
        expires_at=expires_at,
        ttl_seconds=ttl,
    )


def reference_of(claims: Any) -> tuple[str, int] | None:
    """The ``(uri, idx)`` of a credential's ``status.status_list``, None when it names none
    (``MalformedCertificate`` when it names one that cannot be read)."""
    status = claims.get("status") if isinstance(claims, dict) else None
    entry = status.get("status_list") if isinstance(status, dict) else None
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise MalformedCertificate("status: status_list is not an object")
    uri, idx = entry.get("uri"), entry.get("idx")
    if not isinstance(uri, str) or not uri:
        raise MalformedCertificate("status: status_list.uri is not a URI")
    if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
        raise MalformedCertificate("status: status_list.idx is not a non-negative integer")
    return uri, idx
