"""Where the time of one certificate request goes, step by step, in one process.

    .venv/bin/python bench/profile_distribution.py [--data-dir DIR] [--iterations 2000]

Uses the data directory seeded by ``bench/bench_distribution.py --data-dir DIR`` (seeds a
temporary one with 1,000 beneficiaries otherwise) and times, on one core, rotating over the
beneficiaries as the HTTP bench does:

* each step of ``GET /certificate/api/certificatePDF/{code}`` from scratch (render cache off):
  token verification (first sight of a token, and remembered), the database read, the ETag,
  parsing the stored credentials, building the view, the QR payload, the QR matrix, the PDF
  (with the matrix given, and its QR path alone), the audit insert;
* the whole service path (bundle + render + audit), and the whole ASGI application
  (middleware, dependencies, thread pool, the route) driven in-process without sockets, for
  the PDF route with the cache off and on, the 304, HEAD, cached QR and ``/healthz``.

The difference between the ASGI figure and the sum of the service steps is the framework's
share; the difference between the HTTP bench's CPU ms/request and the ASGI figure is
uvicorn's (HTTP parsing, sockets) plus the kernel's loopback TCP.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_distribution import SEED_MARKER, machine, seed

from certdist.config import Settings
from certdist.domain.certificate_view import CertificateView
from certdist.domain.models import VACCINATION, Download
from certdist.domain.roles import Permission
from certdist.formats.divoc_qr import encode_payload
from certdist.formats.pdf import qr_path as qr_drawing
from certdist.formats.qr_image import qr_matrix
from certdist.formats.registry import CertificateBundle
from certdist.observability import configure_logging
from certdist.services.common.ids import new_record_id
from certdist.wiring import build_services


def timed(
    label: str, action: Callable[[int], object], n: int, rows: list[tuple[str, float, float]]
) -> None:
    for i in range(min(50, n)):
        action(i)
    samples = []
    gc.collect()
    for i in range(n):
        began = time.perf_counter()
        action(i)
        samples.append(time.perf_counter() - began)
    samples.sort()
    median = statistics.median(samples) * 1000
    mean = statistics.fmean(samples) * 1000
    rows.append((label, median, mean))
    print(f"  {label:58} median {median:7.3f} ms   mean {mean:7.3f} ms", flush=True)


class AsgiDriver:
    """Calls the ASGI app as uvicorn would (one task per request on one long-lived event
    loop, so anyio keeps its worker threads), minus sockets and HTTP parsing."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()

    def __call__(self, method: str, path: str, headers: dict[str, str]) -> int:
        return self.loop.run_until_complete(self._call(method, path, headers))

    def timed(
        self,
        label: str,
        request: Callable[[int], tuple[str, str, dict[str, str]]],
        status: int,
        n: int,
        rows: list[tuple[str, float, float]],
    ) -> None:
        async def run() -> list[float]:
            samples = []
            for i in range(-min(50, n), n):
                method, path, headers = request(i)
                began = time.perf_counter()
                got = await asyncio.create_task(self._call(method, path, headers))
                if i >= 0:
                    samples.append(time.perf_counter() - began)
                if got != status:
                    raise RuntimeError(f"{label}: expected {status}, got {got}")
            return samples

        gc.collect()
        cpu = time.process_time()
        samples = self.loop.run_until_complete(run())
        cpu_ms = (time.process_time() - cpu) * 1000 / (n + min(50, n))
        median = statistics.median(samples) * 1000
        mean = statistics.fmean(samples) * 1000
        rows.append((label, median, mean))
        print(
            f"  {label:58} median {median:7.3f} ms   mean {mean:7.3f} ms   cpu {cpu_ms:7.3f} ms",
            flush=True,
        )

    async def _call(self, method: str, path: str, headers: dict[str, str]) -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1")]
            + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        return status


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--log-level", default="INFO", help="as the server's default")
    args = parser.parse_args()
    n = args.iterations
    print(f"machine: {machine()}")

    temporary = None
    if args.data_dir is None:
        temporary = tempfile.TemporaryDirectory(prefix="certdist-profile-")
        data = Path(temporary.name)
    else:
        data = args.data_dir.resolve()
    marker = data / SEED_MARKER
    settings = Settings(data_dir=data, render_cache_bytes=0, log_level=args.log_level)
    if marker.exists():
        codes = [c for c in marker.read_text().split("\n")[1:] if c]
    else:
        codes = seed(settings, 1000, 2)
        marker.write_text("\n".join(["None", *codes]) + "\n")

    # Logs go where the server's go (stderr); send them to a file so the terminal stays
    # readable, with the server's formatter, so their cost is counted as in production.
    configure_logging(args.log_level, json_lines=True)
    log_file = open(data / "profile.log", "w", encoding="utf-8")  # noqa: SIM115
    logging.getLogger().handlers[0].setStream(log_file)  # type: ignore[attr-defined]

    services = build_services(settings, migrate=False)
    dist = services.distribution.certificates
    issuer = services.access.local_issuer
    assert issuer is not None
    token = issuer.mint(["certificate-api"], username="bench", lifetime=timedelta(hours=2))
    fresh_tokens = [
        issuer.mint(["certificate-api"], username=f"bench{i}", lifetime=timedelta(hours=2))
        for i in range(n + 50)
    ]

    def code(i: int) -> str:
        return codes[i % len(codes)]

    bundles = [dist.bundle(code(i), VACCINATION) for i in range(min(len(codes), n + 50))]

    def bundle(i: int) -> CertificateBundle:
        return bundles[i % len(bundles)]

    pdf_format = dist._formats.get("pdf")
    renderer = pdf_format._renderer  # type: ignore[attr-defined]
    payloads = [encode_payload(b.latest.certificate) for b in bundles[:200]]
    matrices = [qr_matrix(p) for p in payloads]
    views = [
        CertificateView.from_credentials(b.credential, b.dose_credentials, qr_payload=payloads[i])
        for i, b in enumerate(bundles[:200])
    ]
    principal = services.access.tokens.verify(token)

    def audit(i: int) -> None:
        latest = bundle(i).latest
        services.database.audit().record(
            Download(
                id=new_record_id(),
                at=services.clock.now(),
                actor="bench",
                issuer=principal.issuer,
                permission=Permission.DISTRIBUTE.value,
                certificate_id=latest.certificate_id,
                pre_enrollment_code=latest.pre_enrollment_code,
                format="pdf",
            )
        )

    rows: list[tuple[str, float, float]] = []
    print(f"\nsteps of a from-scratch PDF request ({n} iterations each, one thread):")
    timed(
        "auth: verify a token seen for the first time (ES256)",
        lambda i: services.access.tokens.verify(fresh_tokens[i]),
        n,
        rows,
    )
    timed(
        "auth: verify a remembered token", lambda i: services.access.tokens.verify(token), n, rows
    )
    timed(
        "db: read the beneficiary's certificates (bundle)",
        lambda i: dist.bundle(code(i), VACCINATION),
        n,
        rows,
    )
    timed("etag", lambda i: dist.etag(bundle(i), "pdf"), n, rows)
    timed(
        "credential JSON parse (latest + doses)",
        lambda i: (
            CertificateBundle(bundle(i).latest, bundle(i).doses).dose_credentials
            and CertificateBundle(bundle(i).latest).credential
        ),
        n,
        rows,
    )
    timed(
        "view building (CertificateView)",
        lambda i: CertificateView.from_credentials(
            bundles[i % 200].credential,
            bundles[i % 200].dose_credentials,
            qr_payload=payloads[i % 200],
        ),
        n,
        rows,
    )
    timed(
        "qr: payload (deterministic ZIP)",
        lambda i: encode_payload(bundle(i).latest.certificate),
        n,
        rows,
    )
    timed("qr: matrix (zxing-cpp)", lambda i: qr_matrix(payloads[i % 200]), n, rows)
    # The QR's drawing operators, as the renderer draws them (a 1-bit stencil since 77551d8,
    # a vector path before).
    draw_qr = getattr(qr_drawing, "qr_stencil_ops", None) or qr_drawing.qr_ops
    timed(
        f"qr: matrix -> PDF operators ({draw_qr.__name__})",
        lambda i: draw_qr(matrices[i % 200], 0.0, 800.0, 150.0, 4),
        n,
        rows,
    )
    timed(
        "pdf: render with the matrix given (incl. the QR operators)",
        lambda i: renderer.render(views[i % 200], matrix=matrices[i % 200]),
        n,
        rows,
    )
    timed(
        "pdf: format.render (view+payload+matrix+pdf)",
        lambda i: pdf_format.render(CertificateBundle(bundle(i).latest, bundle(i).doses)),
        n,
        rows,
    )
    timed("db: audit insert", audit, n, rows)

    def service_path(i: int) -> object:
        found = dist.bundle(code(i), VACCINATION)
        return dist.render(found, "pdf", caller=principal, permission=Permission.DISTRIBUTE)

    timed("service: bundle + render (cache off) + audit", service_path, n, rows)

    from certdist.web.app import create_app

    print(
        f"\nthe ASGI application in-process, no sockets ({n} requests each; cpu: process CPU "
        "time per request, all threads; median/mean: wall time, which adds the thread hops' "
        "wake-up latency):"
    )
    auth = {"authorization": f"Bearer {token}"}
    scratch = AsgiDriver(create_app(settings, services=services))
    cached_services = build_services(
        settings.model_copy(update={"render_cache_bytes": 64 << 20}), migrate=False
    )
    cached = AsgiDriver(create_app(settings, services=cached_services))
    hot = codes[:200]
    for c in hot:  # fill the cache
        cached("GET", f"/certificate/api/certificatePDF/{c}", auth)
        cached("GET", f"/certificate/api/certificateQRCode/{c}", auth)
    etags = {c: f'"{dist.etag(dist.bundle(c, VACCINATION), "pdf")}"' for c in hot}

    pdf = "/certificate/api/certificatePDF/"
    cached.timed("GET /healthz", lambda i: ("GET", "/healthz", {}), 200, n, rows)
    cached.timed("HEAD certificatePDF", lambda i: ("HEAD", pdf + hot[i % 200], auth), 200, n, rows)
    cached.timed(
        "GET certificatePDF + If-None-Match (304)",
        lambda i: ("GET", pdf + hot[i % 200], {**auth, "if-none-match": etags[hot[i % 200]]}),
        304, n, rows,
    )  # fmt: skip
    cached.timed(
        "GET certificateQRCode, cached",
        lambda i: ("GET", "/certificate/api/certificateQRCode/" + hot[i % 200], auth),
        200, n, rows,
    )  # fmt: skip
    cached.timed(
        "GET certificatePDF, cached", lambda i: ("GET", pdf + hot[i % 200], auth), 200, n, rows
    )
    scratch.timed(
        "GET certificatePDF, from scratch (cache off)",
        lambda i: ("GET", pdf + code(i), auth), 200, n, rows,
    )  # fmt: skip

    services.close()
    cached_services.close()
    log_file.close()
    if temporary is not None:
        temporary.cleanup()


if __name__ == "__main__":
    main()
