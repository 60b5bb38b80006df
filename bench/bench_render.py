"""In-process, single-core cost of the certificate renderers (QR and PDF).

Run: ``.venv/bin/python bench/bench_render.py [--iterations N] [--certificate PATH]``

Measures, for a realistic DIVOC-signed certificate with a two-dose history, the median and
p99 of: the QR payload (deterministic ZIP), the QR matrix, the QR PNG, and the whole PDF
(from the view to the bytes, QR encoding included, and with a pre-encoded QR). Each figure
comes after a warm-up, with N >= 500 timed iterations. Prints the machine facts needed to
compare runs. Timings on a shared machine vary: compare medians of runs made together.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from certdist.domain.certificate_view import CertificateView
from certdist.formats.divoc_qr import PayloadForm, encode_payload
from certdist.formats.pdf import PdfRenderer
from certdist.formats.qr_image import matrix_png, qr_matrix

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CERTIFICATE = ROOT / "tests" / "vectors" / "divoc" / "rsa2018-signed.json"


def machine_facts() -> str:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}\n"
        f"nproc: {os.cpu_count()}  cpu: {model}  load average: {load}\n"
        f"python: {sys.version.split()[0]} ({platform.python_implementation()})"
    )


def measure(label: str, action: Callable[[], object], iterations: int, warmup: int) -> None:
    for _ in range(warmup):
        action()
    samples = []
    gc.disable()  # collections would land in random samples; run one between samples instead
    try:
        for i in range(iterations):
            start = time.perf_counter_ns()
            action()
            samples.append(time.perf_counter_ns() - start)
            if i % 100 == 99:
                gc.collect()
    finally:
        gc.enable()
    samples.sort()
    median = statistics.median(samples) / 1e6
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] / 1e6
    print(f"  {label:<44} median {median:7.3f} ms   p99 {p99:7.3f} ms   ({1000 / median:,.0f}/s)")


def realistic_history(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The shared signed certificate, given doses 1 and 2 of 2 with realistic values."""
    base = json.loads(path.read_text())
    doses = []
    for dose, day in ((1, "2021-05-02"), (2, "2021-08-20")):
        cert = copy.deepcopy(base)
        subject = cert["credentialSubject"]
        subject["name"] = "Bhaya Mitra"
        subject["id"] = "did:in.gov.uidai.aadhaar:234234233334"
        subject["address"].update(
            streetAddress="12, MG Road",
            city="Bengaluru",
            addressRegion="Karnataka",
            postalCode="560001",
        )
        evidence = cert["evidence"][0]
        evidence.update(
            dose=dose, totalDoses=2, date=f"{day}T10:00:00.000Z", certificateId=f"10000000{dose}"
        )
        cert["issuanceDate"] = f"{day}T11:00:00.000Z"
        doses.append(cert)
    return doses[-1], doses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--certificate", type=Path, default=DEFAULT_CERTIFICATE)
    args = parser.parse_args()
    iterations = max(500, args.iterations)
    print(machine_facts())

    started = time.perf_counter()
    renderer = PdfRenderer()
    print(
        f"renderer construction: {(time.perf_counter() - started) * 1000:.0f} ms "
        f"(template version {renderer.template_version})"
    )
    latest, history = realistic_history(args.certificate)
    text = json.dumps(latest, separators=(",", ":"), ensure_ascii=False)
    print(f"certificate: {len(text.encode())} bytes of compact JSON, {iterations} iterations")

    forms: tuple[PayloadForm, ...] = ("zip", "zip-latin1-utf8")
    for form in forms:
        bench_form(renderer, text, latest, history, form, iterations, args.warmup)


def bench_form(
    renderer: PdfRenderer,
    text: str,
    latest: dict[str, Any],
    history: list[dict[str, Any]],
    form: PayloadForm,
    iterations: int,
    warmup: int,
) -> None:
    payload = encode_payload(text, form=form)
    matrix = qr_matrix(payload)
    view = CertificateView.from_credentials(latest, history, qr_payload=payload)
    pdf = renderer.render(view)
    print(
        f"\nform {form}: payload {len(payload)} B, QR version {matrix.version} "
        f"({matrix.size} modules), PNG {len(matrix_png(matrix))} B, PDF {len(pdf)} B"
    )

    def from_scratch() -> bytes:
        fresh = encode_payload(text, form=form)
        return renderer.render(CertificateView.from_credentials(latest, history, qr_payload=fresh))

    cases: list[tuple[str, Callable[[], object]]] = [
        ("payload: deterministic ZIP", lambda: encode_payload(text, form=form)),
        ("QR matrix (zxing-cpp, fixed mask)", lambda: qr_matrix(payload)),
        ("QR matrix (zxing-cpp, automatic mask)", lambda: qr_matrix(payload, mask=None)),
        ("QR PNG from matrix (4 px/module)", lambda: matrix_png(matrix)),
        ("QR PNG from payload", lambda: matrix_png(qr_matrix(payload))),
        ("PDF render, QR pre-encoded", lambda: renderer.render(view, matrix=matrix)),
        ("PDF render with QR (view -> bytes)", lambda: renderer.render(view)),
        ("PDF from scratch (view + payload + QR + PDF)", from_scratch),
    ]
    for label, action in cases:
        measure(label, action, iterations, warmup)


if __name__ == "__main__":
    main()
