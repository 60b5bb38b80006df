"""Worker memory with the render cache at its bound: RSS of a worker-like process (services
and the application built as a server worker builds them) before and after 100,000 distinct
documents went into its render cache, half certificate PDFs (the real PDF of a seeded
beneficiary with its per-document objects made unique) and half QR PNGs.

    .venv/bin/python bench/memory_render_cache.py --data-dir /tmp/perf-cdb [--documents N]

Uses a data directory seeded by ``bench/bench_distribution.py --data-dir``; seeding 100,000
beneficiaries to serve them over HTTP takes ~10 minutes on 2 cores, this takes seconds.
"""

from __future__ import annotations

import argparse
import gc
import os
from pathlib import Path

from certdist.config import Settings
from certdist.web.app import create_app
from certdist.wiring import build_services

SPLIT = b"endobj\n"
UNIQUE_OBJECTS = (5, 6, 27)  # the page's variable content streams and the xref table


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--documents", type=int, default=100_000)
    args = parser.parse_args()
    settings = Settings(data_dir=args.data_dir, log_json=False, log_level="WARNING")
    services = build_services(settings, migrate=False)
    create_app(settings, services=services)
    try:
        code = (args.data_dir / "bench-codes.txt").read_text().split("\n")[1]
        dist = services.distribution.certificates
        bundle = dist.bundle(code)
        pdf = dist._formats.get("pdf").render(bundle)
        qr = dist._formats.get("qr").render(bundle)
        objects = pdf.split(SPLIT)
        cache = dist._cache
        gc.collect()
        before = rss_mib()
        for n in range(args.documents):
            salt = os.urandom(16)
            if n % 2:
                parts = list(objects)
                for i in UNIQUE_OBJECTS:
                    parts[i] = parts[i][:-16] + salt
                cache.put(f"pdf{n}", SPLIT.join(parts))
            else:
                cache.put(f"qr{n}", qr[:-16] + salt)
        gc.collect()
        print(
            f"VmRSS before {before:.0f} MiB, after {args.documents:,} distinct documents "
            f"{rss_mib():.0f} MiB; the cache holds {len(cache):,} documents in "
            f"{cache.size / 2**20:.1f} MiB (bound {settings.render_cache_bytes / 2**20:.0f} MiB)"
        )
    finally:
        services.close()


if __name__ == "__main__":
    main()
