"""Middleware every request passes: body limits and the headers every response carries."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from certdist.observability import RequestIdFilter
from certdist.web.app import behind_proxies
from tests.support.clients import ClientFactory, TokenFactory
from tests.support.portal import NEIGHBOUR, csrf_of, seed_portal
from tests.support.request_bodies import vaccination_request_body

CERTIFY = "/divoc/api/v1/certify"


def _chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    # A generator body: httpx sends it chunked, without Content-Length.
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_chunked_body_over_the_limit_is_413(client: TestClient, auth: TokenFactory) -> None:
    huge = json.dumps([vaccination_request_body()] * 3000).encode()
    response = client.post(
        CERTIFY,
        content=_chunks(huge),
        headers={**auth("certificate-issuer"), "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert "request body larger than" in response.json()["extra"]


def test_a_chunked_body_under_the_limit_is_read(client: TestClient, auth: TokenFactory) -> None:
    body = json.dumps([vaccination_request_body("CHUNKED1")]).encode()
    response = client.post(
        CERTIFY,
        content=_chunks(body, 100),
        headers={**auth("certificate-issuer"), "content-type": "application/json"},
    )
    assert response.status_code == 200, response.text


def test_json_errors_are_not_sniffed(client: TestClient) -> None:
    for response in (client.get("/divoc/api/v1/nothing-here"), client.post(CERTIFY, json=[])):
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["x-content-type-options"] == "nosniff"


def test_no_hsts_over_http(client: TestClient) -> None:
    assert "strict-transport-security" not in client.get("/healthz").headers


@pytest.mark.parametrize(
    ("subdomains", "expected"),
    [(False, "max-age=31536000"), (True, "max-age=31536000; includeSubDomains")],
)
def test_hsts_when_published_over_https(
    make_client: ClientFactory, subdomains: bool, expected: str
) -> None:
    client, _ = make_client(public_url="https://certificates.example", hsts_subdomains=subdomains)
    for path in ("/healthz", "/verify", "/divoc/api/v1/nothing-here"):
        assert client.get(path).headers["strict-transport-security"] == expected


def test_every_response_has_its_own_request_id(client: TestClient) -> None:
    ids = [client.get("/healthz").headers["x-request-id"] for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)


@pytest.mark.parametrize(
    ("peer", "expected_client", "expected_scheme"),
    [
        ("10.0.0.5", "203.0.113.9", "https"),  # a trusted proxy: its headers are believed
        ("198.51.100.7", "198.51.100.7", "http"),  # anyone else: the peer itself
    ],
)
def test_forwarded_headers_are_believed_only_from_trusted_proxies(
    peer: str, expected_client: str, expected_scheme: str
) -> None:
    seen: dict[str, object] = {}

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(client=scope["client"][0], scheme=scope["scheme"])

    app = behind_proxies(inner, ["10.0.0.5"])
    scope = {
        "type": "http",
        "scheme": "http",
        "client": (peer, 40000),
        "headers": [(b"x-forwarded-for", b"203.0.113.9"), (b"x-forwarded-proto", b"https")],
    }

    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        return None

    asyncio.run(app(scope, receive, send))
    assert seen == {"client": expected_client, "scheme": expected_scheme}


@pytest.mark.parametrize("incoming", ["abc-123_X.y", "f" * 64, "0af7651916cd43dd8448eb211c80319c"])
def test_a_sane_incoming_request_id_is_kept(client: TestClient, incoming: str) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": incoming}).headers["x-request-id"] == (
        incoming
    )


@pytest.mark.parametrize("incoming", [b"", b"f" * 65, b"a b", b"id\xe9", b"x;drop", b'a"b'])
def test_an_odd_incoming_request_id_is_replaced(client: TestClient, incoming: bytes) -> None:
    answered = client.get("/healthz", headers={"X-Request-ID": incoming}).headers["x-request-id"]
    assert answered.encode() != incoming
    assert len(answered) == 16
    assert int(answered, 16) >= 0


def test_every_log_line_of_a_request_carries_its_id(make_client: ClientFactory) -> None:
    client, services = make_client()
    seed_portal(services)
    records: list[logging.LogRecord] = []
    handler = _Collect(records)
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level, root.level = root.level, logging.INFO
    try:
        csrf = csrf_of(client.get("/portal/login").text)
        answer = client.post(
            "/portal/login",
            data={"mobile": NEIGHBOUR, "csrf_token": csrf},
            headers={"X-Request-ID": "trace-42"},
            follow_redirects=False,
        )
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert answer.headers["x-request-id"] == "trace-42"
    issued = [r for r in records if r.getMessage() == "one-time code issued"]
    access = [r for r in records if r.name == "certdist.access" and r.__dict__["status"] == 303]
    assert issued, "the OTP service logged nothing"
    # The service's line (written in the thread pool that runs the route) and the access line.
    assert {getattr(r, "request_id", None) for r in issued + access} == {"trace-42"}
    # Outside a request, no id.
    after = logging.LogRecord("x", logging.INFO, __file__, 1, "later", (), None)
    RequestIdFilter().filter(after)
    assert not hasattr(after, "request_id")


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
