"""Middleware every request passes: body limits and the headers every response carries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from certdist.web.app import behind_proxies
from tests.support.clients import ClientFactory, TokenFactory
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
