"""Sizes of the published revocation lists and the time to rebuild them, in-process.

* Bitstring Status List: a list of ``--entries`` (default 1,048,576) with ``--revoked`` random
  bits set: time to set the bits and produce ``encodedList``, and its length;
* the signed ``BitstringStatusListCredential`` as ``/trust/status/{listId}`` serves it, a
  list of ``--signed-entries`` (default 1,000,000) with ``--signed-revoked`` (default 1%) set:
  time of the service's rebuild after a withdrawal (bits, ``encodedList``, the credential and
  its RSA linked-data proof; the database read of the indexes is left out), and its bytes;
* EU DCC batches: ``--withdrawn`` UCI hashes as gateway batches, each CMS-signed: time and
  bytes;
* SMART Health Card CRL: ``--withdrawn`` rids as the CRL JSON: bytes.

Medians of ``--repeat`` runs. No database, no network: the list builders alone.
``.venv/bin/python bench/bench_revocation_lists.py``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from certdist.formats import dcc_revocation
from certdist.formats.shc import revocation_id
from certdist.formats.status_list import StatusList
from certdist.services.common.clock import SystemClock
from certdist.services.issuance import StatusLists
from certdist.signing.contexts import default_loader
from certdist.signing.dsc import ensure_local_signers
from certdist.signing.keys import KeyStore, KeyUse
from certdist.signing.ldproof import CredentialSigner
from certdist.storage.repository import WithdrawnCertificates


def timed(run: object, repeat: int) -> float:
    assert callable(run)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_048_576)
    parser.add_argument("--revoked", type=int, default=10_000)
    parser.add_argument("--withdrawn", type=int, default=10_000)
    parser.add_argument("--signed-entries", type=int, default=1_000_000)
    parser.add_argument("--signed-revoked", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(1)

    indexes = rng.sample(range(args.entries), args.revoked)
    encoded = StatusList.of(indexes, args.entries).encoded()
    rebuild = timed(lambda: StatusList.of(indexes, args.entries).encoded(), args.repeat)
    print(
        f"status list: {args.entries} entries, {args.revoked} set: encodedList "
        f"{len(encoded)} characters, rebuilt in {rebuild * 1000:.0f} ms (median)"
    )
    empty = StatusList(args.entries).encoded()
    print(f"status list: {args.entries} entries, none set: {len(empty)} characters")

    signed_list(args.signed_entries, args.signed_revoked, args.repeat, rng)

    hashes = [dcc_revocation.uci_hash(f"URN:UVCI:01:IN:{i:012d}") for i in range(args.withdrawn)]
    with tempfile.TemporaryDirectory() as directory:
        now = datetime.now(UTC)
        keys = KeyStore.init_directory(Path(directory), credential_algorithm="Ed25519", now=now)
        signer = ensure_local_signers(Path(directory), keys, country="IN", now=now).active
        assert signer.private_key is not None
        key, certificate = signer.private_key, signer.certificate

        def batches() -> list[str]:
            made = dcc_revocation.batches(
                country="IN",
                kid=signer.kid,
                expires=datetime(2027, 1, 1, tzinfo=UTC),
                hash_type=dcc_revocation.HashType.UCI,
                hashes=hashes,
            )
            return [dcc_revocation.sign_batch(b, certificate, key) for b in made]

        signed = batches()
        build = timed(batches, args.repeat)
    print(
        f"EU DCC batches: {args.withdrawn} hashes in {len(signed)} batches, "
        f"{sum(map(len, signed))} bytes of base64 CMS, built and signed in "
        f"{build * 1000:.0f} ms (median)"
    )
    rids = [revocation_id(hashlib.sha256(str(i).encode()).digest()) for i in range(args.withdrawn)]
    crl = json.dumps({"kid": "k" * 43, "method": "rid", "ctr": len(rids) + 1, "rids": rids})
    print(f"SHC CRL: {args.withdrawn} rids, {len(crl)} bytes of JSON")


class _Withdrawals:
    """The two reads the service makes: the count of withdrawals, and the list's indexes."""

    def __init__(self, indexes: list[int]) -> None:
        self.indexes = indexes
        self.count = 0

    def withdrawn(self, entity_type: str, *, limit: int) -> WithdrawnCertificates:
        return WithdrawnCertificates(self.count, [])

    def exists(self, list_id: int) -> bool:
        return True

    def withdrawn_indexes(self, list_id: int) -> list[int]:
        return self.indexes


def signed_list(entries: int, revoked: int, repeat: int, rng: random.Random) -> None:
    withdrawals = _Withdrawals(rng.sample(range(entries), revoked))
    with tempfile.TemporaryDirectory() as directory:
        keys = KeyStore.init_directory(
            Path(directory), credential_algorithm="RSA", now=datetime.now(UTC)
        )
        signer = CredentialSigner(keys.active(KeyUse.CREDENTIAL), default_loader())
        lists = StatusLists(
            withdrawals,  # type: ignore[arg-type]
            withdrawals,  # type: ignore[arg-type]
            signer,
            SystemClock(),
            public_url="https://certs.example.org",
            issuer="https://divoc.dev/",
            size=entries,
        )

        def rebuild() -> dict[str, object]:
            withdrawals.count += 1  # a withdrawal: the signed list is stale
            return lists.credential(1)

        body = json.dumps(rebuild(), separators=(",", ":"))
        took = timed(rebuild, repeat)
    print(
        f"signed status list: {entries} entries, {revoked} set: {len(body)} bytes of JSON, "
        f"rebuilt and signed in {took * 1000:.0f} ms (median)"
    )


if __name__ == "__main__":
    main()
