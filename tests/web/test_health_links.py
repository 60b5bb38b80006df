"""SMART Health Links over HTTP: the owner's API, the manifest (200, 401 with
``remainingAttempts``, 404), ``location`` files and the U flag as ``application/jose``, the
receiver's headers, and the key in no log line of the whole exchange."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from jwcrypto import jwe, jwk

from certdist.wiring import Services
from tests.support.clients import TokenFactory
from tests.support.portal import log_in
from tests.support.request_bodies import vaccination_request_body

API = "/certificate/api/shl"
MOBILE = "+919880414889"


def _issue(client: TestClient, auth: TokenFactory, code: str = "H1") -> str:
    answer = client.post(
        "/divoc/api/v1/certify",
        json=[vaccination_request_body(code, mobile="9880414889")],
        headers=auth("certificate-issuer"),
    )
    assert answer.status_code == 200, answer.text
    certificate_id: str = answer.json()[0]["certificateId"]
    return certificate_id


def _payload(uri: str) -> dict[str, Any]:
    encoded = uri.removeprefix("shlink:/")
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    return data


def _plaintext(key: str, compact: str) -> tuple[str, bytes]:
    token = jwe.JWE()
    token.deserialize(compact, key=jwk.JWK(kty="oct", k=key))
    return json.loads(token.objects["protected"])["cty"], bytes(token.payload)


def test_create_fetch_decrypt_revoke_and_read_the_log(
    client: TestClient, auth: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    owner = auth("recipient", username="citizen-1", mobile="9880414889")  # national form
    certificate_id = _issue(client, auth)
    created = client.post(
        API,
        json={"certificateId": certificate_id, "flag": "P", "passcode": "4711", "label": "Card"},
        headers=owner,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    payload = _payload(body["shlink"])
    assert payload["url"] == body["url"]
    assert (payload["flag"], payload["label"], body["state"]) == ("P", "Card", "active")
    path = urlsplit(payload["url"]).path

    wrong = client.post(path, json={"recipient": "Mallory", "passcode": "0000"})
    assert wrong.status_code == 401
    assert wrong.json()["remainingAttempts"] == 4
    manifest = client.post(
        path, json={"recipient": "Dr. Rao", "passcode": "4711", "embeddedLengthMax": 0}
    )
    assert manifest.status_code == 200, manifest.text
    assert manifest.headers["cache-control"] == "no-store"
    files = manifest.json()["files"]
    assert [f["contentType"] for f in files] == [
        "application/smart-health-card",
        "application/fhir+json",
    ]
    location = urlsplit(files[0]["location"]).path
    file = client.get(location)
    assert file.status_code == 200
    assert file.headers["content-type"] == "application/jose"
    content_type, plaintext = _plaintext(payload["key"], file.text)
    assert content_type == "application/smart-health-card"
    verified = client.post("/verify", json={"payload": plaintext.decode()})
    assert verified.json()["status"] == "valid"
    assert client.get(location).status_code == 404  # single use

    [listed] = client.get(API, headers=owner).json()
    assert listed["id"] == body["id"]
    assert "shlink" not in listed
    log = client.get(f"{API}/{body['id']}/accesses", headers=owner).json()
    assert [(a["event"], a["recipient"]) for a in log] == [
        ("wrong-passcode", "Mallory"),
        ("shl-manifest", "Dr. Rao"),
        ("shl-file", None),
    ]

    other = auth("recipient", username="citizen-2", mobile="+919000000002")
    assert client.delete(f"{API}/{body['id']}", headers=other).status_code == 404
    assert client.get(f"{API}/{body['id']}/accesses", headers=other).status_code == 404
    assert client.delete(f"{API}/{body['id']}", headers=owner).status_code == 204
    gone = client.post(path, json={"recipient": "Dr. Rao", "passcode": "4711"})
    assert gone.status_code == 404

    logged = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert path in logged  # the request log names the path: the check sees its lines
    assert payload["key"] not in logged
    assert body["shlink"].removeprefix("shlink:/") not in logged


def test_lockout_u_flag_and_bad_requests(client: TestClient, auth: TokenFactory) -> None:
    owner = auth("recipient", username="citizen-1", mobile=MOBILE)
    certificate_id = _issue(client, auth)
    locked = client.post(
        API, json={"certificateId": certificate_id, "flag": "P", "passcode": "4711"}, headers=owner
    ).json()
    path = urlsplit(locked["url"]).path
    remaining = [
        client.post(path, json={"recipient": "x", "passcode": "0"}).json()["remainingAttempts"]
        for _ in range(5)
    ]
    assert remaining == [4, 3, 2, 1, 0]
    assert client.post(path, json={"recipient": "x", "passcode": "4711"}).status_code == 404

    direct = client.post(
        API, json={"certificateId": certificate_id, "flag": "U"}, headers=owner
    ).json()
    direct_path = urlsplit(direct["url"]).path
    answer = client.get(direct_path, params={"recipient": "Front desk"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/jose"
    key = _payload(direct["shlink"])["key"]
    assert _plaintext(key, answer.text)[0] == "application/smart-health-card"
    assert client.get(direct_path).status_code == 400  # recipient is required

    bad = client.post(
        API, json={"certificateId": certificate_id, "flag": "PU", "passcode": "4711"}, headers=owner
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "flag"
    assert client.post(API, json={"certificateId": certificate_id}).status_code == 401
    assert client.post(direct_path, json={}).status_code == 400
    assert client.post("/shl/" + "A" * 43, json={"recipient": "x"}).status_code == 404
    assert client.get("/shl/files/" + "A" * 43).status_code == 404


def test_the_portal_lists_the_link_with_who_fetched_it(
    client: TestClient, auth: TokenFactory, services: Services
) -> None:
    owner = auth("recipient", username="citizen-1", mobile=MOBILE)
    certificate_id = _issue(client, auth)
    created = client.post(API, json={"certificateId": certificate_id}, headers=owner).json()
    path = urlsplit(created["url"]).path
    assert client.post(path, json={"recipient": "Dr. Rao"}).status_code == 200
    log_in(client, services.messaging.dev_inbox, MOBILE)
    page = client.get("/portal/shares")
    assert page.status_code == 200
    assert "SMART Health Link." in page.text
    assert "Fetched by an app (Dr. Rao)" in page.text
