"""W3C Bitstring Status List v1.0: the list's bits, its ``encodedList``, the
``BitstringStatusListEntry`` a credential carries and the (unsigned) status list credential.

* The bitstring is at least :data:`MIN_ENTRIES` (131,072) bits, so that one set bit hides in
  a crowd; index 0 is the left-most bit, that is the most significant bit of the first byte.
* ``encodedList`` is the GZIP-compressed bitstring, base64url without padding, with the
  multibase prefix ``u``.
* Indexes are drawn at random among the unused ones (:func:`allocate_index`): an index says
  nothing about when its credential was issued, and an index once given is never given again.

Reading a list decompresses at most :data:`MAX_ENTRIES` bits: anything larger is refused
before it is inflated further (a small gzip can expand without limit).
"""

from __future__ import annotations

import base64
import gzip
import secrets
import zlib
from collections.abc import Callable, Container, Iterable
from typing import Any, Final

from certdist.errors import MalformedCertificate
from certdist.signing.contexts import CREDENTIALS_V1, STATUS_LIST_V1

#: The specification's minimum length of a bitstring (16 KiB).
MIN_ENTRIES: Final = 131_072
#: The longest list this service reads (16 MiB of bits).
MAX_ENTRIES: Final = 8 * 16 * 1024 * 1024
MULTIBASE_BASE64URL: Final = "u"
REVOCATION: Final = "revocation"
#: The ``@context`` of a VC 1.1 credential that carries or is a status list.
CONTEXT_TERMS: Final = STATUS_LIST_V1
ENTRY_TYPE: Final = "BitstringStatusListEntry"
LIST_CREDENTIAL_TYPE: Final = "BitstringStatusListCredential"
#: Random draws before a nearly full list is searched in order from a random start.
_DRAWS: Final = 64


class StatusList:
    """A mutable bitstring of ``size`` entries (a multiple of 8, at least :data:`MIN_ENTRIES`)."""

    def __init__(self, size: int = MIN_ENTRIES, *, bits: bytes | None = None) -> None:
        if size < MIN_ENTRIES or size % 8:
            raise ValueError(f"a status list has at least {MIN_ENTRIES} entries, a multiple of 8")
        self._bits = bytearray(bits if bits is not None else bytes(size // 8))
        if len(self._bits) * 8 != size:
            raise ValueError("the bits do not match the size")

    @property
    def size(self) -> int:
        return len(self._bits) * 8

    def set(self, index: int, value: bool = True) -> None:
        self._check(index)
        mask = 0x80 >> (index % 8)
        if value:
            self._bits[index // 8] |= mask
        else:
            self._bits[index // 8] &= ~mask & 0xFF

    def get(self, index: int) -> bool:
        self._check(index)
        return bool(self._bits[index // 8] & (0x80 >> (index % 8)))

    def encoded(self) -> str:
        """``encodedList``: multibase base64url (no padding) of the GZIP-compressed bits.

        ``mtime=0``: the same bits always give the same text (cacheable, comparable).
        """
        compressed = gzip.compress(bytes(self._bits), compresslevel=9, mtime=0)
        return MULTIBASE_BASE64URL + base64.urlsafe_b64encode(compressed).decode().rstrip("=")

    @classmethod
    def of(cls, set_indexes: Iterable[int], size: int = MIN_ENTRIES) -> StatusList:
        built = cls(size)
        for index in set_indexes:
            built.set(index)
        return built

    @classmethod
    def decode(cls, encoded_list: str) -> StatusList:
        """The list of an ``encodedList`` (``MalformedCertificate`` naming what is wrong)."""
        if not encoded_list.startswith(MULTIBASE_BASE64URL):
            raise MalformedCertificate("status list: encodedList is not multibase base64url (u…)")
        body = encoded_list[1:]
        try:
            padded = body + "=" * (-len(body) % 4)
            compressed = base64.b64decode(padded, altchars=b"-_", validate=True)
        except ValueError:
            raise MalformedCertificate("status list: encodedList is not base64url") from None
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # a gzip member
        try:
            bits = inflater.decompress(compressed, MAX_ENTRIES // 8 + 1)
        except zlib.error:
            raise MalformedCertificate("status list: encodedList is not GZIP data") from None
        if len(bits) > MAX_ENTRIES // 8 or inflater.unconsumed_tail:
            raise MalformedCertificate(f"status list: longer than {MAX_ENTRIES} entries")
        try:
            return cls(len(bits) * 8, bits=bits)
        except ValueError as exc:
            raise MalformedCertificate(f"status list: {exc}") from None

    def _check(self, index: int) -> None:
        if not 0 <= index < self.size:
            raise IndexError(f"status list index {index} is outside 0..{self.size - 1}")


def allocate_index(
    taken: Container[int], size: int, *, below: Callable[[int], int] = secrets.randbelow
) -> int:
    """A random index of a list of ``size`` entries that is not ``taken``.

    Random draws first; once they keep hitting taken indexes (a nearly full list) the list is
    searched in order from a random start. ``ValueError`` when every index is taken.
    """
    for _ in range(_DRAWS):
        index = below(size)
        if index not in taken:
            return index
    start = below(size)
    for offset in range(size):
        index = (start + offset) % size
        if index not in taken:
            return index
    raise ValueError("every index of the status list is taken")


def status_entry(list_url: str, index: int) -> dict[str, Any]:
    """The ``credentialStatus`` of a credential whose revocation bit is ``index`` of the list
    at ``list_url`` (the index is a string of digits, as the specification requires)."""
    return {
        "id": f"{list_url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": REVOCATION,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def status_list_subject(list_url: str, status_list: StatusList) -> dict[str, Any]:
    """The ``credentialSubject`` of the ``BitstringStatusListCredential`` at ``list_url``."""
    return {
        "id": f"{list_url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": REVOCATION,
        "encodedList": status_list.encoded(),
    }


def status_list_credential(
    list_url: str, status_list: StatusList, *, issuer: str, issued_at: str
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` (VC 1.1) published at ``list_url``.

    Its ``issuer`` must be the issuer of the credentials that point at it: verifiers
    (``@digitalbazaar/vc-bitstring-status-list`` among them) refuse a list from another.
    """
    return {
        "@context": [CREDENTIALS_V1, STATUS_LIST_V1],
        "id": list_url,
        "type": ["VerifiableCredential", LIST_CREDENTIAL_TYPE],
        "issuer": issuer,
        "issuanceDate": issued_at,
        "credentialSubject": status_list_subject(list_url, status_list),
    }


def entry_of(credential: Any) -> tuple[str, int] | None:
    """The ``(statusListCredential, statusListIndex)`` of a credential's revocation
    ``BitstringStatusListEntry``, None when it has none (``MalformedCertificate`` when it
    has one that cannot be read)."""
    statuses = credential.get("credentialStatus") if isinstance(credential, dict) else None
    if statuses is None:
        return None
    for status in statuses if isinstance(statuses, list) else [statuses]:
        if not isinstance(status, dict) or status.get("type") != ENTRY_TYPE:
            continue
        if status.get("statusPurpose") != REVOCATION:
            continue
        url, index = status.get("statusListCredential"), status.get("statusListIndex")
        if not isinstance(url, str) or not url:
            raise MalformedCertificate("credentialStatus: statusListCredential is not a URL")
        if not isinstance(index, str) or not index.isdigit() or not index.isascii():
            raise MalformedCertificate("credentialStatus: statusListIndex is not a number")
        return url, int(index)
    return None


def issuer_of(credential: Any) -> str | None:
    """The ``issuer`` of a credential: the string, or the ``id`` of an issuer object."""
    issuer = credential.get("issuer") if isinstance(credential, dict) else None
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def read_list_credential(credential: Any, *, url: str, issuer: str | None) -> StatusList:
    """The revocation bits of a ``BitstringStatusListCredential`` fetched from ``url`` for
    a credential of ``issuer`` (its signature is the caller's to check);
    ``MalformedCertificate`` naming the problem.

    A list of another issuer is refused, as the specification's validation does: a key
    trusted for one issuer must not decide on another's credentials.
    """
    if not isinstance(credential, dict):
        raise MalformedCertificate("status list: not a JSON object")
    if issuer_of(credential) != issuer:
        raise MalformedCertificate("status list: its issuer is not the credential's")
    types = credential.get("type")
    if not isinstance(types, list) or LIST_CREDENTIAL_TYPE not in types:
        raise MalformedCertificate(f"status list: not a {LIST_CREDENTIAL_TYPE}")
    if credential.get("id") not in (None, url):
        raise MalformedCertificate("status list: its id is not the URL it was fetched from")
    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("type") != "BitstringStatusList":
        raise MalformedCertificate("status list: credentialSubject is not a BitstringStatusList")
    if subject.get("statusPurpose") != REVOCATION:
        raise MalformedCertificate("status list: its statusPurpose is not revocation")
    encoded = subject.get("encodedList")
    if not isinstance(encoded, str):
        raise MalformedCertificate("status list: encodedList is missing")
    return StatusList.decode(encoded)
