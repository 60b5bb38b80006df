"""Batch printing: 10,000 certificates of one facility-day into one PDF (issue #7; target
≤ 30 s wall and ≤ 300 MB peak RSS on the 2-core machine).

The certificates are issued for real (validation, RsaSignature2018 proof, storage) into a
fresh SQLite database by two processes, once: the data directory is cached under
``.cache/bench_print/`` (delete it, or pass ``--fresh``, to issue again). Then

* the measured cases run ``certdist print --facility … --date … --out batch.pdf``,
  ``certdist print --codes FILE`` (all the ids) and the facility-day again with one QR
  helper process (``printing.batch_qr_processes=1``) as child processes, interleaved,
  ``--repeat`` times each: wall time and peak RSS (GNU ``time``);
* the baseline, in the same run, renders the same certificates as single PDFs through the
  existing path (``DistributionService.bundle`` + the ``pdf`` format), also in a child.

The batch is checked: page count by pypdf, and the QR of the first, middle and last page
decoded from a 200 dpi raster.

    .venv/bin/python bench/bench_print.py [--count 10000] [--repeat 3] [--fresh]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.request_bodies import vaccination_request_body

from certdist.config import Settings
from certdist.domain.requests import CertificationRequest
from certdist.wiring import build_services

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench_print"
FACILITY = "ABC Medical Center"  # tests/support/request_bodies.py's facility
DAY = "2021-05-02"
CERTDIST = ROOT / ".venv" / "bin" / "certdist"
TARGET_SECONDS = 30.0
TIME = "/usr/bin/time"  # GNU time (Debian package time)
TARGET_RSS_MB = 300.0


def _issue_range(data_dir: Path, start: int, stop: int) -> None:
    services = build_services(Settings(data_dir=data_dir, log_json=False), migrate=False)
    batch = []
    for i in range(start, stop):
        # One name in twenty in Devanagari: those pages need extended font subsets.
        name = "भया मित्र" if i % 20 == 0 else f"Beneficiary Number {i}"
        batch.append(
            CertificationRequest.model_validate(
                vaccination_request_body(f"BP{i:07d}", name=name, mobile="9880414889")
            )
        )
        if len(batch) == 50:
            services.issuance.certificates.certify(batch)
            batch = []
    if batch:
        services.issuance.certificates.certify(batch)
    services.close()


def prepare(count: int, fresh: bool) -> Path:
    """The cached data directory with ``count`` issued certificates (issued on first use)."""
    data_dir = CACHE / f"data-{count}"
    marker = data_dir / "issued"
    if marker.exists() and not fresh:
        return data_dir
    shutil.rmtree(data_dir, ignore_errors=True)
    build_services(Settings(data_dir=data_dir, log_json=False)).close()  # migrate, keys
    began = time.perf_counter()
    half = count // 2
    workers = [
        multiprocessing.Process(target=_issue_range, args=(data_dir, 0, half)),
        multiprocessing.Process(target=_issue_range, args=(data_dir, half, count)),
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise SystemExit("issuing the benchmark certificates failed")
    marker.write_text(f"{count}\n")
    print(f"issued {count} certificates in {time.perf_counter() - began:.1f} s -> {data_dir}")
    return data_dir


def _run_child(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process, which must succeed.

    The peak comes from ``/usr/bin/time``: a child forked straight from this process would
    report at least this process's own size (its pages count until ``exec``).
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as stats:
        began = time.perf_counter()
        done = subprocess.run(
            [TIME, "-f", "%M", "-o", stats.name, *command],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - began
        if done.returncode != 0:
            raise SystemExit(f"{command} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
        peak_kb = int(stats.read().split()[-1])
    return wall, peak_kb / 1024


def _baseline(data_dir: str, count: int) -> None:
    """Child: the same certificates as single PDFs through the existing API path."""
    from certdist.domain.roles import Permission, Principal

    services = build_services(Settings(data_dir=Path(data_dir), log_json=False), migrate=False)
    pdf = services.distribution.certificates
    caller = Principal(subject="bench", username="bench", roles=frozenset())
    for i in range(count):
        bundle = pdf.bundle(f"BP{i:07d}")
        pdf.render(bundle, "pdf", caller=caller, permission=Permission.PRINT)
    services.close()


def _check(batch: Path, count: int, work: Path) -> str:
    import pypdf
    from tests.support.imaging import open_image, scan

    reader = pypdf.PdfReader(batch)
    pages = len(reader.pages)
    if pages != count:
        raise SystemExit(f"the batch has {pages} pages, expected {count}")
    scanned = 0
    for page in (1, count // 2, count):
        stem = work / f"page-{page}"
        subprocess.run(
            [
                "pdftoppm",
                "-r",
                "200",
                "-png",
                "-singlefile",
                "-f",
                str(page),
                "-l",
                str(page),
                str(batch),
                str(stem),
            ],
            check=True,
        )
        scanned += len(scan(open_image(stem.with_suffix(".png").read_bytes())))
    if scanned != 3:
        raise SystemExit(f"only {scanned} of 3 sampled QR codes scanned")
    return f"{pages} pages, QR of pages 1, {count // 2}, {count} scanned at 200 dpi"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fresh", action="store_true", help="issue the certificates again")
    parser.add_argument("--baseline-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_child:
        _baseline(args.baseline_child, args.count)
        return

    data_dir = prepare(args.count, args.fresh)
    env = {**os.environ, "CERTDIST_DATA_DIR": str(data_dir), "CERTDIST_LOG_LEVEL": "WARNING"}
    print(f"# batch printing, {args.count} certificates, {datetime.now(UTC):%Y-%m-%dT%H:%MZ}")
    print(f"# {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="bench-print-") as scratch:
        work = Path(scratch)
        batch = work / "batch.pdf"
        codes = work / "codes.txt"
        codes.write_text("".join(f"BP{i:07d}\n" for i in range(args.count)))
        printing = [str(CERTDIST), "print", "--out", str(batch)]
        by_facility = [*printing, "--facility", FACILITY, "--date", DAY]
        helper = {**env, "CERTDIST_PRINTING__BATCH_QR_PROCESSES": "1"}
        cases = {
            "`certdist print --facility … --date …` → one PDF": (by_facility, env),
            "`certdist print --codes FILE` → one PDF": ([*printing, "--codes", str(codes)], env),
            "the same facility-day with one QR helper process": (by_facility, helper),
        }
        # Interleaved, so that a burst of load from elsewhere spreads over all cases.
        runs: dict[str, list[tuple[float, float]]] = {case: [] for case in cases}
        for _ in range(args.repeat):
            for case, (command, case_env) in cases.items():
                runs[case].append(_run_child(command, case_env))
        size = batch.stat().st_size
        checked = _check(batch, args.count, work)
        baseline_command = [sys.executable, __file__, "--count", str(args.count)]
        baseline = _run_child([*baseline_command, "--baseline-child", str(data_dir)], env)
    print(f"batch PDF: {size / 1e6:.1f} MB; {checked}")
    print("| case | median wall s | runs (s) | peak RSS MB | certificates/s |")
    print("|---|---:|---|---:|---:|")
    for case, measured in runs.items():
        _row(case, measured, args.count)
    _row("baseline: single PDFs via DistributionService", [baseline], args.count)
    judged = list(runs.values())[:2]  # the default configuration
    worst = max(statistics.median(wall for wall, _ in case) for case in judged)
    peak = max(rss for case in judged for _, rss in case)
    met = worst <= TARGET_SECONDS and peak <= TARGET_RSS_MB
    print(
        f"target (≤ {TARGET_SECONDS:.0f} s, ≤ {TARGET_RSS_MB:.0f} MB): {'met' if met else 'MISSED'}"
    )
    if not met:
        sys.exit(1)


def _row(case: str, runs: list[tuple[float, float]], count: int) -> None:
    walls = [wall for wall, _ in runs]
    median = statistics.median(walls)
    print(
        f"| {case} | **{median:.1f}** | {', '.join(f'{w:.1f}' for w in walls)} | "
        f"{max(rss for _, rss in runs):.0f} | {count / median:.0f} |"
    )


if __name__ == "__main__":
    main()
