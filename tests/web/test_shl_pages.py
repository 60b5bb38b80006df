"""SMART Health Links in the portal and the viewer page over HTTP: making a link with and
without a passcode (and the form's problems), the viewer page and its policy, CORS on the
receiver's endpoints only, and the link's key in no log line."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from jwcrypto import jwe, jwk
from PIL import Image

from certdist.wiring import Services
from tests.support.imaging import read_qr_codes
from tests.support.log_hygiene import LogHygiene
from tests.support.portal import csrf_of, log_in
from tests.web.test_share import issue

MOBILE = "+919880414889"
OTHER = "+919000000002"
PUBLIC_URL = "http://127.0.0.1:8000"
URI = re.compile(r'id="shl-uri" value="(shlink:/[A-Za-z0-9_-]+)"')
VIEWER = re.compile(r'id="shl-viewer-url" value="([^"]+)"')
QR = re.compile(r'id="shl-qr" src="data:image/png;base64,([^"]+)"')


@pytest.fixture
def certificate_id(services: Services) -> str:
    return issue(services, "SHL0001")


@pytest.fixture
def owner(client: TestClient, services: Services, certificate_id: str) -> TestClient:
    log_in(client, services.messaging.dev_inbox, MOBILE)
    return client


def payload_of(uri: str) -> dict[str, Any]:
    encoded = uri.removeprefix("shlink:/")
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    return data


def make(owner: TestClient, certificate_id: str, **form: str) -> tuple[str, str]:
    """The "SMART Health Link made" page and its shlink:/ URI."""
    page = owner.get(f"/portal/certificates/{certificate_id}/shl")
    assert page.status_code == 200, page.text
    answer = owner.post(
        f"/portal/certificates/{certificate_id}/shl",
        data={"csrf_token": csrf_of(page.text), "expiry": "7d", **form},
    )
    assert answer.status_code == 200, answer.text
    found = URI.search(answer.text)
    assert found is not None
    return answer.text, found.group(1)


def plaintext(key: str, compact: str) -> bytes:
    token = jwe.JWE()
    token.deserialize(compact, key=jwk.JWK(kty="oct", k=key))
    return bytes(token.payload)


def test_a_link_without_passcode_opens_and_its_qr_is_the_viewer_address(
    owner: TestClient, certificate_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    page, uri = make(owner, certificate_id, label="For Dr. Rao")
    payload = payload_of(uri)
    assert "flag" not in payload
    assert payload["label"] == "For Dr. Rao"
    assert len(payload["key"]) == 43
    viewer = VIEWER.search(page)
    assert viewer is not None
    assert unescape(viewer.group(1)) == f"{PUBLIC_URL}/shl#{uri}"
    qr = QR.search(page)
    assert qr is not None
    [decoded] = read_qr_codes(Image.open(io.BytesIO(base64.b64decode(qr.group(1)))))
    assert decoded.text == f"{PUBLIC_URL}/shl#{uri}"

    manifest = owner.post(urlsplit(payload["url"]).path, json={"recipient": "certdist viewer"})
    assert manifest.status_code == 200, manifest.text
    [card, _bundle] = manifest.json()["files"]
    assert b"verifiableCredential" in plaintext(payload["key"], card["embedded"])

    listing = owner.get("/portal/shares")
    assert "SMART Health Link." in listing.text
    assert "certdist viewer" in listing.text
    logged = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert payload["key"] not in logged
    assert uri.removeprefix("shlink:/") not in logged


def test_a_link_with_passcode_asks_for_it(owner: TestClient, certificate_id: str) -> None:
    page, uri = make(owner, certificate_id, passcode="4711-secret")
    assert "It asks for the passcode you chose." in page
    payload = payload_of(uri)
    assert payload["flag"] == "P"
    path = urlsplit(payload["url"]).path
    wrong = owner.post(path, json={"recipient": "Mallory", "passcode": "0000"})
    assert wrong.status_code == 401
    assert wrong.json()["remainingAttempts"] == 4
    right = owner.post(path, json={"recipient": "Dr. Rao", "passcode": "4711-secret"})
    assert right.status_code == 200


@pytest.mark.parametrize(
    ("form", "problem", "field"),
    [
        ({"passcode": "12"}, "A passcode must be 4 to 64 characters long.", "passcode"),
        ({"label": "x" * 81}, "A label can be at most 80 characters long.", "label"),
        ({"expiry": "2y"}, "Choose when the link expires.", "expiry"),
    ],
)
def test_form_problems_are_shown_on_the_form(
    owner: TestClient, certificate_id: str, form: dict[str, str], problem: str, field: str
) -> None:
    page = owner.get(f"/portal/certificates/{certificate_id}/shl")
    answer = owner.post(
        f"/portal/certificates/{certificate_id}/shl",
        data={"csrf_token": csrf_of(page.text), "expiry": "7d", **form},
    )
    assert answer.status_code == 400
    assert problem in unescape(answer.text)
    assert f'href="#{field}"' in answer.text  # the error summary links to the field
    assert f'id="{field}-error"' in answer.text
    assert "shlink:/" not in answer.text


def test_the_form_needs_the_session_token(owner: TestClient, certificate_id: str) -> None:
    answer = owner.post(f"/portal/certificates/{certificate_id}/shl", data={"expiry": "7d"})
    assert answer.status_code == 403
    bad = owner.post(
        f"/portal/certificates/{certificate_id}/shl", data={"expiry": "7d", "csrf_token": "x"}
    )
    assert bad.status_code == 403


def test_only_the_owners_certificates_and_only_logged_in(
    owner: TestClient, services: Services, client: TestClient
) -> None:
    theirs = issue(services, "SHL0002", OTHER)
    assert owner.get(f"/portal/certificates/{theirs}/shl").status_code == 404
    page = owner.get("/portal/shares")
    answer = owner.post(
        f"/portal/certificates/{theirs}/shl", data={"csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 404


def test_logged_out_owners_are_sent_to_the_login(services: Services, certificate_id: str) -> None:
    from tests.support.clients import client_for

    with client_for(services) as fresh:
        answer = fresh.get(f"/portal/certificates/{certificate_id}/shl", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/portal/login"


def test_the_share_page_offers_a_smart_health_link(owner: TestClient, certificate_id: str) -> None:
    page = owner.get(f"/portal/certificates/{certificate_id}/share")
    assert f'href="/portal/certificates/{certificate_id}/shl"' in page.text


@pytest.mark.parametrize("lang", ["en", "hi"])
def test_the_viewer_page_runs_under_the_strict_policy(client: TestClient, lang: str) -> None:
    client.cookies.set("lang", lang)
    page = client.get("/shl")
    assert page.status_code == 200
    assert page.headers["content-language"] == lang
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self' https:" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts
    assert all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert re.search(r'src="/static/shl-viewer\.js\?v=[0-9a-f]{12}"', page.text)
    if lang == "hi":
        assert "SMART हेल्थ लिंक खोलें" in page.text
    script = client.get("/static/shl-viewer.js")
    assert script.status_code == 200


def test_the_viewer_page_does_not_widen_other_pages(client: TestClient) -> None:
    assert "connect-src" not in client.get("/verify").headers["content-security-policy"]


# --- CORS -------------------------------------------------------------------------------------


def test_receiver_endpoints_allow_any_origin_without_credentials(
    owner: TestClient, certificate_id: str
) -> None:
    _, uri = make(owner, certificate_id)
    path = urlsplit(payload_of(uri)["url"]).path
    origin = {"Origin": "https://viewer.example"}
    preflight = owner.options(
        path,
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "content-type" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight.headers

    manifest = owner.post(path, json={"recipient": "x", "embeddedLengthMax": 0}, headers=origin)
    assert manifest.status_code == 200
    assert manifest.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in manifest.headers
    location = urlsplit(manifest.json()["files"][0]["location"]).path
    located = owner.get(location, headers=origin)
    assert located.status_code == 200
    assert located.headers["access-control-allow-origin"] == "*"
    gone = owner.get(location, headers=origin)  # single use: the 404 is readable too
    assert gone.status_code == 404
    assert gone.headers["access-control-allow-origin"] == "*"
    unknown = owner.post("/shl/" + "A" * 43, json={"recipient": "x"}, headers=origin)
    assert unknown.status_code == 404
    assert unknown.headers["access-control-allow-origin"] == "*"


def test_the_owner_api_and_the_pages_stay_same_origin(client: TestClient) -> None:
    origin = {"Origin": "https://viewer.example", "Access-Control-Request-Method": "POST"}
    for path in ("/certificate/api/shl", "/shl", "/portal/shares"):
        answer = client.options(path, headers=origin)
        assert "access-control-allow-origin" not in answer.headers, path
    assert "access-control-allow-origin" not in client.get("/shl").headers


def test_the_key_is_watched_in_every_log_line_of_the_run(
    owner: TestClient, certificate_id: str, log_hygiene: LogHygiene
) -> None:
    """The run's log-hygiene check (tests/support/log_hygiene.py) fails the run if any log
    line written anywhere in it holds this link's key or its shlink payload."""
    _, uri = make(owner, certificate_id, passcode="4711-secret")
    payload = payload_of(uri)
    log_hygiene.watch(payload["key"], "SMART Health Link key")
    log_hygiene.watch(uri.removeprefix("shlink:/"), "SMART Health Link")
    path = urlsplit(payload["url"]).path
    owner.post(path, json={"recipient": "x", "passcode": "nope"})
    owner.post(path, json={"recipient": "x", "passcode": "4711-secret"})
    owner.get("/shl")
