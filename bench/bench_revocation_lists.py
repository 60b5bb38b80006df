"""Sizes of the published revocation lists and the time to rebuild them, in-process.

* Bitstring Status List: a list of ``--entries`` (default 1,048,576) with ``--revoked`` random
  bits set: time to set the bits and produce ``encodedList``, and its length;
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
from certdist.signing.dsc import ensure_local_signers
from certdist.signing.keys import KeyStore


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


if __name__ == "__main__":
    main()
