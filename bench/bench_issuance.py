"""Issuance throughput: certificates signed and stored per second.

Runs the real issuance service (validation, credential building, RsaSignature2018 signing,
storage) in P worker processes, as ``certdist serve --workers P`` would, on SQLite and on
PostgreSQL. The baseline in the same run is signing alone in one process, so the figures can
be compared across noisy runs as ratios.

    .venv/bin/python bench/bench_issuance.py [--total 3000] [--batch 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.request_bodies import vaccination_request_body

from certdist.config import Settings
from certdist.domain.credential import vaccination_credential
from certdist.domain.requests import CertificationRequest
from certdist.signing.keys import KeyUse
from certdist.storage.database import Database
from certdist.wiring import build_services

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _requests(prefix: str, count: int) -> list[CertificationRequest]:
    return [
        CertificationRequest.model_validate(
            vaccination_request_body(f"{prefix}{i:07d}", mobile="9880414889")
        )
        for i in range(count)
    ]


def _worker(
    settings: Settings,
    prefix: str,
    count: int,
    batch: int,
    start: multiprocessing.synchronize.Event,
    out: multiprocessing.Queue[float],
) -> None:  # type: ignore[name-defined]
    services = build_services(settings, migrate=False)
    requests = _requests(prefix, count)
    start.wait()
    began = time.perf_counter()
    for offset in range(0, count, batch):
        services.issuance.certificates.certify(requests[offset : offset + batch])
    out.put(time.perf_counter() - began)
    services.close()


def issuance_rate(settings: Settings, processes: int, total: int, batch: int) -> float:
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    per = total // processes
    run = uuid.uuid4().hex[:6]
    workers = [
        ctx.Process(target=_worker, args=(settings, f"{run}{p}X", per, batch, start, out))
        for p in range(processes)
    ]
    for w in workers:
        w.start()
    time.sleep(3.0)  # let every worker import, connect and build its requests
    began = time.perf_counter()
    start.set()
    for _ in workers:
        out.get()
    elapsed = time.perf_counter() - began
    for w in workers:
        w.join()
    return per * processes / elapsed


def signing_rate(settings: Settings, count: int) -> float:
    services = build_services(settings)
    signer_key = services.keys.active(KeyUse.CREDENTIAL)
    from certdist.signing.contexts import ContextLoader
    from certdist.signing.ldproof import CredentialSigner

    signer = CredentialSigner(signer_key, ContextLoader())
    profile = settings.credentials
    now = datetime.now(UTC)
    credentials = [
        vaccination_credential(
            r, certificate_id=str(100000000000 + i), issued_at=now, profile=profile
        )
        for i, r in enumerate(_requests("SIGN", count))
    ]
    signer.sign(credentials[0], created=now)
    began = time.perf_counter()
    for credential in credentials:
        signer.sign(credential, created=now)
    services.close()
    return count / (time.perf_counter() - began)


def _postgres_database() -> tuple[str, str]:
    import psycopg

    name = f"certdist_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", name


def _drop_postgres(name: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--total", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}")
    print(f"command: {' '.join(sys.argv)}")

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        sqlite = Settings(data_dir=data, log_json=False)
        Database(sqlite.resolved_database_url).migrate()
        build_services(sqlite).close()  # keys
        pg_url, pg_name = _postgres_database()
        try:
            postgres = Settings(data_dir=data, database_url=pg_url, log_json=False)
            Database(pg_url).migrate()
            results: dict[str, list[float]] = {
                "sign only, 1 process": [],
                "sqlite, 1 process": [],
                f"sqlite, {args.processes} processes": [],
                "postgresql, 1 process": [],
                f"postgresql, {args.processes} processes": [],
            }
            for _ in range(args.repeat):
                results["sign only, 1 process"].append(signing_rate(sqlite, min(args.total, 1000)))
                results["sqlite, 1 process"].append(
                    issuance_rate(sqlite, 1, args.total // 2, args.batch)
                )
                results[f"sqlite, {args.processes} processes"].append(
                    issuance_rate(sqlite, args.processes, args.total, args.batch)
                )
                results["postgresql, 1 process"].append(
                    issuance_rate(postgres, 1, args.total // 2, args.batch)
                )
                results[f"postgresql, {args.processes} processes"].append(
                    issuance_rate(postgres, args.processes, args.total, args.batch)
                )
        finally:
            _drop_postgres(pg_name)
    baseline = statistics.median(results["sign only, 1 process"])
    print(f"\n{'case':34} {'median/s':>9} {'runs':>24} {'vs sign-only':>12}")
    for case, rates in results.items():
        median = statistics.median(rates)
        runs = ", ".join(f"{r:.0f}" for r in rates)
        print(f"{case:34} {median:9.0f} {runs:>24} {median / baseline:11.2f}x")


if __name__ == "__main__":
    main()
