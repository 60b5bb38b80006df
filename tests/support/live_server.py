"""The whole service served by uvicorn on a free local port in a background thread, for tests
whose client is not Python (a browser, a Node.js wallet) and so needs a real socket.

:func:`live_server` builds the services (SQLite, real keys, the demo certificates of
``services/issuance/demo.py``, ``public_url`` set to the server's own address) and serves
them until the block ends. Settings may be changed by ``overrides`` or, as an operator
would, by ``CERTDIST_*`` environment variables set before the call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI

from certdist.services.issuance.demo import seed_demo
from certdist.web.app import create_app
from certdist.wiring import Services
from tests.support.loopback import free_port
from tests.support.services import ServicesFactory

START_SECONDS = 20


@dataclass(frozen=True)
class LiveServer:
    url: str
    services: Services
    app: FastAPI


@contextmanager
def live_server(make_services: ServicesFactory, **overrides: Any) -> Iterator[LiveServer]:
    port = free_port()
    services = make_services(public_url=f"http://127.0.0.1:{port}", access_log=False, **overrides)
    seed_demo(services.issuance.certificates)
    app = create_app(services.settings, services=services)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", services, app)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
