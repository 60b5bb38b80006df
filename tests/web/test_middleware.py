"""Middleware every request passes: body limits and the headers every response carries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from certdist.config import Settings
from certdist.web.app import create_app
from certdist.wiring import build_services
from tests.factories import vaccination_request_body
from tests.web.conftest import TokenFactory

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
    tmp_path: Path, migrated_database_url: str, subdomains: bool, expected: str
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=migrated_database_url,
        log_json=False,
        public_url="https://certificates.example",
        hsts_subdomains=subdomains,
    )
    services = build_services(settings)
    try:
        with TestClient(create_app(settings, services=services)) as client:
            for path in ("/healthz", "/verify", "/divoc/api/v1/nothing-here"):
                assert client.get(path).headers["strict-transport-security"] == expected
    finally:
        services.close()
