"""Attribute py-spy samples (``py-spy record --format raw``) to the steps of a request.

    .venv/bin/python bench/pyspy_breakdown.py PROFILE.txt [PROFILE2.txt ...]

Each sample goes to the innermost frame that names a step, so nested work (the QR matrix
inside the PDF renderer) counts once, in the most specific step. Samples from threads
outside a request (idle event loop, the supervisor) fall under "event loop / uvicorn". With
``py-spy record --gil`` the shares are shares of the interpreter lock, that is of the
worker's Python CPU time, which is what limits a worker's throughput.
"""

from __future__ import annotations

import collections
import sys

# (step, substrings of a frame "function (file:line)"), innermost match wins.
STEPS: list[tuple[str, tuple[str, ...]]] = [
    ("auth: JWT verification (jwcrypto ES256)", ("TokenVerifier.verify",)),
    ("auth: role check", ("Authorizer.",)),
    ("db: read certificates (bundle)", ("DistributionService.bundle",)),
    ("db: download audit (record / batch writer)", ("SqlDownloadAudit.",)),
    ("etag (sha256 of ids)", ("DistributionService.etag", "CertificateBundle.fingerprint")),
    (
        "credential JSON parse",
        ("CertificateBundle.credential", "CertificateBundle.dose_credentials"),
    ),
    ("view building (CertificateView)", ("CertificateView.from_credentials",)),
    ("qr: payload (deterministic ZIP)", ("encode_payload",)),
    ("qr: matrix encode (zxing-cpp)", ("qr_matrix",)),
    ("qr: matrix -> PDF operators (path or stencil)", ("qr_path", "qr_ops", "qr_stencil_ops")),
    ("qr: PNG", ("matrix_png",)),
    ("pdf: render (text, layout, assembly)", ("PdfRenderer.render",)),
    ("render cache", ("RenderCache.",)),
    ("request log (JSON line to stderr)", ("Logger.", "RequestLog.__call__")),
    ("response send (uvicorn)", ("RequestResponseCycle.send",)),
    ("threadpool hop (anyio to_thread)", ("run_in_threadpool", "run_sync", "WorkerThread.run")),
    ("fastapi: dependencies + params", ("solve_dependencies",)),
    ("fastapi/starlette routing + middleware", ("fastapi/", "starlette/")),
    ("event loop / uvicorn (parse, transport)", ("uvicorn/", "asyncio/", "uvloop", "httptools")),
]


def step_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for step, needles in STEPS:
            if any(n in frame for n in needles):
                return step
    return "other"


def main() -> None:
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for name in sys.argv[1:]:
        with open(name, encoding="utf-8") as f:
            for line in f:
                stack, _, n = line.rstrip("\n").rpartition(" ")
                if not stack:
                    continue
                counts[step_of(stack.split(";"))] += int(n)
                total += int(n)
    print(f"{total} samples")
    order = [s for s, _ in STEPS] + ["other"]
    for step in sorted(order, key=lambda s: -counts[s]):
        if counts[step]:
            print(f"{100 * counts[step] / total:6.1f}%  {step}")


if __name__ == "__main__":
    main()
