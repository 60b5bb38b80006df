"""EU DCC revocation batches: the three hash types as the revocation scheme defines them, the
gateway's batch shape and size limit, and a CMS signature openssl accepts."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from certdist.formats import dcc_revocation as revocation
from certdist.formats.dcc_revocation import DccHashes, HashType
from tests.support import wallet_samples
from tests.support.cms import open_signed

UCI = "URN:UVCI:01:IN:ABC123"


def test_each_hash_is_the_first_16_bytes_of_a_sha256() -> None:
    assert revocation.uci_hash(UCI) == hashlib.sha256(UCI.encode()).digest()[:16]
    assert (
        revocation.country_uci_hash("IN", UCI) == hashlib.sha256(b"IN" + UCI.encode()).digest()[:16]
    )
    assert len(revocation.uci_hash(UCI)) == 16


def test_an_ecdsa_signature_is_hashed_by_its_r_half_rsa_whole() -> None:
    r, s = bytes(range(32)), bytes(range(32, 64))
    ecdsa = revocation.signature_hash(r + s, ecdsa=True)
    assert ecdsa == hashlib.sha256(r).digest()[:16]
    # The same r with the other s (-s mod n is as valid): the same entry.
    assert revocation.signature_hash(r + bytes(32), ecdsa=True) == ecdsa
    rsa = bytes(range(256))
    assert revocation.signature_hash(rsa, ecdsa=False) == hashlib.sha256(rsa).digest()[:16]


def test_a_dcc_has_the_hash_types_its_parts_allow() -> None:
    assert set(DccHashes.of(uci=UCI, country=None).by_type) == {HashType.UCI}
    every = DccHashes.of(uci=UCI, country="IN", signature=bytes(64))
    assert set(every.by_type) == set(HashType)


def test_batches_have_the_gateway_shape_and_at_most_1000_entries() -> None:
    hashes = [i.to_bytes(16, "big") for i in range(2500, 0, -1)]
    expires = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    made = revocation.batches(
        country="IN", kid=b"\x01" * 8, expires=expires, hash_type=HashType.UCI, hashes=hashes
    )
    assert [len(b["entries"]) for b in made] == [1000, 1000, 500]
    first = made[0]
    assert list(first) == ["country", "expires", "kid", "hashType", "entries"]
    assert first["country"] == "IN"
    assert first["expires"] == "2027-01-02T03:04:05Z"
    assert base64.b64decode(first["kid"]) == b"\x01" * 8
    assert first["hashType"] == "UCI"
    listed = [h for b in made for h in revocation.listed_hashes(b)]
    # Sorted, not in the order of withdrawal; each hash once.
    assert listed == sorted(hashes)
    assert (
        revocation.batches(
            country="IN", kid=b"k", expires=expires, hash_type=HashType.UCI, hashes=[]
        )
        == []
    )


def test_the_signed_batch_is_a_cms_holding_the_json(tmp_path: Path) -> None:
    signer = wallet_samples.document_signers(tmp_path).active
    assert signer.private_key is not None
    [batch] = revocation.batches(
        country="IN",
        kid=signer.kid,
        expires=datetime(2027, 1, 1, tzinfo=UTC),
        hash_type=HashType.UCI,
        hashes=[revocation.uci_hash(UCI)],
    )
    content, certificates = open_signed(
        revocation.sign_batch(batch, signer.certificate, signer.private_key)
    )
    assert json.loads(content) == batch
    der = signer.certificate.public_bytes(serialization.Encoding.DER)
    assert [c.public_bytes(serialization.Encoding.DER) for c in certificates] == [der]
