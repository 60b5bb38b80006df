"""Caching rules a CDN in front can follow: static files by version, nothing personal kept."""

from __future__ import annotations

import hashlib
import re

from fastapi.testclient import TestClient

from certdist.web.static_assets import IMMUTABLE, REVALIDATE
from certdist.web.templating import STATIC_DIR
from tests.support.clients import TokenFactory
from tests.support.request_bodies import vaccination_request_body


def test_pages_link_static_files_by_the_version_of_their_content(client: TestClient) -> None:
    page = client.get("/").text
    links = dict(re.findall(r'/static/([\w.-]+)\?v=([0-9a-f]{12})"', page))
    assert "portal.css" in links
    for name, version in links.items():
        digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()
        assert version == digest[:12], name


def test_a_versioned_link_may_be_kept_for_a_year_anything_else_is_revalidated(
    client: TestClient,
) -> None:
    version = hashlib.sha256((STATIC_DIR / "portal.css").read_bytes()).hexdigest()[:12]
    current = client.get(f"/static/portal.css?v={version}")
    assert current.status_code == 200
    assert current.headers["cache-control"] == IMMUTABLE
    for url in ("/static/portal.css", "/static/portal.css?v=000000000000"):
        response = client.get(url)
        assert response.headers["cache-control"] == REVALIDATE, url
    again = client.get("/static/portal.css", headers={"If-None-Match": current.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["cache-control"] == REVALIDATE


def test_only_declared_public_answers_are_cacheable_by_shared_caches(
    client: TestClient, auth: TokenFactory
) -> None:
    issued = client.post(
        "/divoc/api/v1/certify",
        json=[vaccination_request_body("CACHE01")],
        headers=auth("certificate-issuer"),
    )
    assert issued.status_code == 200
    reader = auth("certificate-api")
    private = {
        "/certificate/api/certificatePDF/CACHE01": reader,
        "/certificate/api/certificateQRCode/CACHE01": reader,
    }
    for url, headers in private.items():
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "private, no-cache", url
    # Neither set by the route nor public: JSON answers, errors, pages, the OpenAPI text.
    for url in ("/healthz", "/openapi.json", "/no/such/route", "/", "/verify"):
        response = client.get(url)
        assert response.headers["cache-control"] == "no-store", url
    refused = client.get("/certificate/api/certificatePDF/CACHE01")  # no token
    assert refused.status_code == 401
    assert refused.headers["cache-control"] == "no-store"
    keys = client.get("/.well-known/jwks.json")
    assert keys.headers["cache-control"].startswith("public")
