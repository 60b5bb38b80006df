"""EU DCC revocation batches, in the DCC Gateway's JSON shape, signed as CMS.

The EU DCC revocation scheme names a withdrawn certificate by a hash of one of three
things (its ``hashType``), each the first 128 bits (16 bytes) of a SHA-256:

* ``UCI``: of the UCI (the ``ci`` of the payload's entry), UTF-8;
* ``COUNTRYCODEUCI``: of the issuing country (CWT claim 1, ``iss``) followed by the UCI;
* ``SIGNATURE``: of the COSE signature: for ECDSA the ``r`` half only (an ``r || s``
  signature can be re-encoded with ``-s`` and stay valid), for RSA the whole signature.

A batch is ``{country, expires, kid, hashType, entries: [{hash}]}``: the hashes in base64,
``kid`` the base64 of the DSC's 8-byte key id, ``expires`` when every certificate it lists
has expired (the gateway deletes it then). The gateway accepts at most
:data:`MAX_BATCH_ENTRIES` entries in a batch and takes it as a CMS SignedData (base64) signed
by the country's upload certificate.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

#: The gateway refuses batches with more entries.
MAX_BATCH_ENTRIES: Final = 1000
#: Every hash is truncated to its first 128 bits.
HASH_BYTES: Final = 16


class HashType(StrEnum):
    UCI = "UCI"
    COUNTRYCODEUCI = "COUNTRYCODEUCI"
    SIGNATURE = "SIGNATURE"


def _truncated_sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()[:HASH_BYTES]


def uci_hash(uci: str) -> bytes:
    return _truncated_sha256(uci.encode("utf-8"))


def country_uci_hash(country: str, uci: str) -> bytes:
    return _truncated_sha256((country + uci).encode("utf-8"))


def signature_hash(signature: bytes, *, ecdsa: bool) -> bytes:
    """``signature`` as in the COSE_Sign1 (ECDSA as raw ``r || s``)."""
    return _truncated_sha256(signature[: len(signature) // 2] if ecdsa else signature)


@dataclass(frozen=True)
class DccHashes:
    """The revocation hashes of one EU DCC, by hash type (``SIGNATURE`` only when known)."""

    by_type: dict[HashType, bytes]

    @classmethod
    def of(
        cls, *, uci: str, country: str | None, signature: bytes = b"", ecdsa: bool = True
    ) -> DccHashes:
        found = {HashType.UCI: uci_hash(uci)}
        if country:
            found[HashType.COUNTRYCODEUCI] = country_uci_hash(country, uci)
        if signature:
            found[HashType.SIGNATURE] = signature_hash(signature, ecdsa=ecdsa)
        return cls(found)


def batches(
    *,
    country: str,
    kid: bytes,
    expires: datetime,
    hash_type: HashType,
    hashes: Sequence[bytes],
) -> list[dict[str, Any]]:
    """The gateway batches listing ``hashes`` (sorted, so a batch does not reveal the order of
    withdrawals), :data:`MAX_BATCH_ENTRIES` at most each; none for no hashes."""
    ordered = sorted(set(hashes))
    return [
        {
            "country": country,
            "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "kid": base64.b64encode(kid).decode("ascii"),
            "hashType": str(hash_type),
            "entries": [
                {"hash": base64.b64encode(h).decode("ascii")}
                for h in ordered[start : start + MAX_BATCH_ENTRIES]
            ],
        }
        for start in range(0, len(ordered), MAX_BATCH_ENTRIES)
    ]


def listed_hashes(batch: dict[str, Any]) -> Iterable[bytes]:
    """The hashes of a batch document (the verifier's side)."""
    for entry in batch.get("entries") or []:
        yield base64.b64decode(entry["hash"])


def batch_bytes(batch: dict[str, Any]) -> bytes:
    """The JSON the CMS signature covers: compact, keys in the gateway's order."""
    return json.dumps(batch, separators=(",", ":")).encode("utf-8")


def sign_batch(
    batch: dict[str, Any],
    certificate: x509.Certificate,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
) -> str:
    """The batch as the gateway takes it: a CMS SignedData with the JSON inside (not
    detached), DER, base64."""
    der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(batch_bytes(batch))
        .add_signer(certificate, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    return base64.b64encode(der).decode("ascii")
