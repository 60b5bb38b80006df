"""Worker memory while a real server hands out many distinct certificates over HTTP.

Seeds a data directory with N beneficiaries of one dose each (N distinct certificates; kept
for the next run with ``--data-dir``), starts ``certdist serve --workers 2`` with the
default settings (so the default render cache), downloads every certificate's PDF once
from a few client threads over keep-alive connections, and reads each worker's VmRSS, peak
(VmHWM) and Pss from /proc every ``--every`` downloads. Then it prints the table, the
render cache's bound, and with ``--results TITLE`` appends it to bench/RESULTS.md.

    .venv/bin/python bench/memory_serving.py [--certificates 100000] [--data-dir DIR]
        [--workers 2] [--threads 4] [--every 10000] [--results TITLE]

Memory does not depend on how busy the machine is, so this may run beside other work; its
duration does.
"""

from __future__ import annotations

import argparse
import http.client
import os
import queue
import shlex
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_distribution import (
    HOST,
    PDF,
    RESULTS,
    SEED_MARKER,
    Server,
    data_directory,
    machine,
    memory,
    seed,
)

from certdist.config import Settings
from certdist.wiring import build_services


def seeded_codes(settings: Settings, data: Path, count: int) -> list[str]:
    marker = data / SEED_MARKER
    if marker.exists():
        codes = [c for c in marker.read_text().split("\n")[1:] if c]
        if len(codes) >= count:
            print(f"reusing {count} seeded beneficiaries from {marker}", flush=True)
            return codes[:count]
    codes = seed(settings, count, max(1, os.cpu_count() or 1), doses=1)
    marker.write_text("\n".join(["None", *codes]) + "\n")
    return codes


def download_all(
    port: int, token: str, codes: list[str], threads: int, every: int, server: Server
) -> list[tuple[int, list[dict[str, float]]]]:
    """GET every code's PDF once; RSS samples (downloads so far, per worker) along the way."""
    work: queue.Queue[str] = queue.Queue()
    for code in codes:
        work.put(code)
    done = 0
    failures: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        nonlocal done
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        headers = {"Authorization": f"Bearer {token}"}
        while True:
            try:
                code = work.get_nowait()
            except queue.Empty:
                break
            connection.request("GET", PDF + code, headers=headers)
            response = connection.getresponse()
            body = response.read()
            with lock:
                done += 1
                if response.status != 200 or not body.startswith(b"%PDF-"):
                    failures.append(f"{code}: {response.status}")
        connection.close()

    pool = [threading.Thread(target=client) for _ in range(threads)]
    for thread in pool:
        thread.start()
    samples = [(0, [memory(pid) for pid in server.worker_pids()])]
    next_sample = every
    while any(thread.is_alive() for thread in pool):
        time.sleep(0.5)
        if done >= next_sample:
            samples.append((done, [memory(pid) for pid in server.worker_pids()]))
            print(f"{done} downloads: {_rss_text(samples[-1][1])}", flush=True)
            next_sample += every
    for thread in pool:
        thread.join()
    if failures:
        raise SystemExit(f"{len(failures)} downloads failed, e.g. {failures[:3]}")
    if samples[-1][0] != done:
        samples.append((done, [memory(pid) for pid in server.worker_pids()]))
    return samples


def _rss_text(workers: list[dict[str, float]]) -> str:
    return "; ".join(
        f"{w['VmRSS']:.0f} / {w['VmHWM']:.0f} / {w.get('Pss', 0):.0f}" for w in workers
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--certificates", type=int, default=100_000)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--results", metavar="TITLE")
    args = parser.parse_args()
    data, _kept_until_exit = data_directory(args.data_dir, "certdist-memory-")
    settings = Settings(data_dir=data, log_json=False, log_level="WARNING")
    codes = seeded_codes(settings, data, args.certificates)
    services = build_services(settings, migrate=False)
    try:
        assert services.access.local_issuer is not None, "the local token issuer is off"
        token = services.access.local_issuer.mint(
            ["certificate-api"], username="bench", lifetime=timedelta(hours=6)
        )
        cache_bytes = services.settings.documents.render_cache_bytes
    finally:
        services.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTDIST_")}
    env.update(CERTDIST_DATA_DIR=str(data), CERTDIST_LOG_LEVEL="WARNING")
    server = Server("default", env, args.workers, data / "server-memory.log")
    began = time.perf_counter()
    server.start(Path(sys.executable).parent / "certdist")
    try:
        samples = download_all(server.port, token, codes, args.threads, args.every, server)
    finally:
        server.stop()
    elapsed = time.perf_counter() - began
    command = "bench/memory_serving.py " + shlex.join(sys.argv[1:])
    lines = [
        f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"- machine: {machine()}",
        f"- command: `.venv/bin/python {command}`",
        f"- {len(codes):,} distinct certificates (one dose each), each PDF downloaded once "
        f"over HTTP from {args.threads} client threads, `certdist serve --workers "
        f"{args.workers}` with the default settings (render cache bound "
        f"{cache_bytes / 2**20:.0f} MiB per worker), {elapsed:.0f} s",
        "",
        "| downloads so far | per worker: VmRSS / peak / Pss (MiB) |",
        "|---:|---|",
        *(f"| {n:,} | {_rss_text(workers)} |" for n, workers in samples),
    ]
    print("\n".join(lines))
    if args.results:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write(f"\n\n## {args.results}\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
