"""/docs and /redoc: served from the package under a strict Content-Security-Policy."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

SCRIPT_OR_STYLE = re.compile(r'(?:src|href)="([^"]+)"')


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_load_only_this_origins_files(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy  # no inline script, no other host
    assert "frame-ancestors 'none'" in policy
    assert "<script>" not in page.text  # every script is a file
    for url in SCRIPT_OR_STYLE.findall(page.text):
        assert url.startswith("/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["x-content-type-options"] == "nosniff"


def test_swagger_ui_needs_no_inline_style(client: TestClient) -> None:
    policy = client.get("/docs").headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy


def test_the_openapi_document_is_still_there(client: TestClient) -> None:
    assert client.get("/openapi.json").json()["info"]["title"] == "certdist"
