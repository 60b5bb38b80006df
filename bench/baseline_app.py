"""The bare-framework baseline of ``bench/bench_distribution.py --baseline``.

A minimal Starlette application answering a fixed 2 KB body with an ETag (and 304 to a
matching ``If-None-Match``), served by uvicorn with the settings ``certdist serve`` uses
(httptools/uvloop picked automatically, no access log, proxy headers, the same worker
count). It is what "the server's ceiling on this machine" means in the #15 targets: every
certificate scenario is reported as a ratio to it, measured in the same run.

    .venv/bin/python bench/baseline_app.py --port 8123 --workers 2
"""

from __future__ import annotations

import argparse
import hashlib

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

BODY = (b"certdist baseline document " * 80)[:2048]
ETAG = f'"{hashlib.sha256(BODY).hexdigest()[:32]}"'
HEADERS = {"etag": ETAG, "cache-control": "private, no-cache"}


async def document(request: Request) -> Response:
    if request.headers.get("if-none-match") == ETAG:
        return Response(status_code=304, headers=HEADERS)
    return Response(BODY, media_type="application/octet-stream", headers=HEADERS)


async def ready(request: Request) -> Response:
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/document", document), Route("/readyz", ready)])


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    uvicorn.run(
        "baseline_app:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
