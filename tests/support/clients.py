"""The HTTP API and pages in tests: FastAPI's ``TestClient`` over the whole application
(``certdist.web.app.create_app``) with the test's services, and bearer tokens from the
service's local token issuer.

A pytest plugin (``tests/conftest.py``). The fixtures follow ``settings`` and ``services``
(``tests/support/services.py``), so they run on SQLite and on PostgreSQL:

* ``client`` — a started client of the application; a server error is a 500 answer, as a
  caller would see it, not an exception in the test;
* ``auth`` — ``auth("certificate-issuer")`` is an ``Authorization`` header with those roles
  (a :data:`TokenFactory`);
* ``make_client(**fields)`` — a started client and its services with other settings
  (``make_services(**fields)``), stopped after the test (a :data:`ClientFactory`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from certdist.web.app import create_app
from certdist.wiring import Services
from tests.support.services import ServicesFactory

TokenFactory = Callable[..., dict[str, str]]
ClientFactory = Callable[..., tuple[TestClient, Services]]


def client_for(services: Services, **options: Any) -> TestClient:
    """A client of the application over ``services`` (``options`` go to ``TestClient``).
    Use it in a ``with`` block to run the application's startup and shutdown."""
    return TestClient(create_app(services.settings, services=services), **options)


class _FromAddress:
    """The application as seen from ``address`` (the TestClient's own name is no address)."""

    def __init__(self, app: ASGIApp, address: str) -> None:
        self._app = app
        self._address = address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "client": (self._address, 50000)}
        await self._app(scope, receive, send)


def client_from(address: str, services: Services, **options: Any) -> TestClient:
    """Like :func:`client_for`, with requests coming from ``address`` (e.g. ``127.0.0.1``)."""
    app = create_app(services.settings, services=services)
    return TestClient(_FromAddress(app, address), **options)


def bearer(
    services: Services, *roles: str, username: str = "facility-1", mobile: str | None = None
) -> dict[str, str]:
    """An ``Authorization`` header with a token the service's local issuer minted."""
    assert services.access.local_issuer is not None, "the local token issuer is off"
    token = services.access.local_issuer.mint(roles, username=username, mobile=mobile)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with client_for(services, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def auth(services: Services) -> TokenFactory:
    """``auth("certificate-issuer")`` → an Authorization header with those roles."""
    return partial(bearer, services)


@pytest.fixture
def make_client(make_services: ServicesFactory) -> Iterator[ClientFactory]:
    with ExitStack() as clients:

        def make(
            *, raise_server_exceptions: bool = True, **fields: Any
        ) -> tuple[TestClient, Services]:
            services = make_services(**fields)
            client = client_for(services, raise_server_exceptions=raise_server_exceptions)
            return clients.enter_context(client), services

        yield make
