"""DigiLocker's pull endpoints over HTTP: real XML bodies and HMAC headers, hostile ones too."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring as parse_xml
from fastapi.testclient import TestClient
from pydantic import SecretStr
from pypdf import PdfReader

from certdist.config import DIGILOCKER_DEV_API_KEY, DigilockerSettings
from certdist.services.integrations.digilocker import CHANNEL_PULL_DOC, CHANNEL_PULL_URI
from certdist.wiring import Services
from tests.support.clients import ClientFactory, TokenFactory, bearer
from tests.support.digilocker_bodies import (
    OTHER_DIGILOCKER_ID,
    hmac_header,
    pull_doc_body,
    pull_uri_body,
)
from tests.support.request_bodies import vaccination_request_body

KEY = DIGILOCKER_DEV_API_KEY.encode()  # the embedded default's development key
URI_PATH = "/cert/api/pullUriRequest"
DOC_PATH = "/cert/api/pullDocRequest"
PERSON = {"tracking_id": "BEN1", "mobile": "+91 98804 14889", "dob": "30-11-1994"}


def _issue(client: TestClient, auth: TokenFactory) -> str:
    response = client.post(
        "/divoc/api/v1/certify",
        json=[vaccination_request_body("BEN1", name="Bhaya Mitra")],
        headers=auth("certificate-issuer"),
    )
    assert response.status_code == 200, response.text
    certificate_id: str = response.json()[0]["certificateId"]
    return certificate_id


def _post(client: TestClient, path: str, body: bytes, signature: str | None = "sign") -> Any:
    headers = {"Content-Type": "application/xml"}
    if signature == "sign":
        headers["x-digilocker-hmac"] = hmac_header(KEY, body)
    elif signature is not None:
        headers["x-digilocker-hmac"] = signature
    return client.post(path, content=body, headers=headers)


def _status(response: Any) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return str(parse_xml(response.content).find("ResponseStatus").attrib["Status"])


def test_pull_uri_then_pull_doc_over_http(
    client: TestClient, auth: TokenFactory, services: Services
) -> None:
    certificate_id = _issue(client, auth)
    response = _post(client, URI_PATH, pull_uri_body(**PERSON, name="MITRA, Bhaya"))
    assert _status(response) == "1"
    assert response.headers["cache-control"] == "no-store"  # the PDF and who it is for
    root = parse_xml(response.content)
    uri = root.findtext("DocDetails/URI")
    assert uri == f"in.gov.covin-VACER-{certificate_id}"
    pdf = base64.b64decode(root.findtext("DocDetails/DocContent") or "")
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1

    doc = _post(client, DOC_PATH, pull_doc_body(uri=uri, format="xml"))
    assert _status(doc) == "1"
    assert doc.headers["cache-control"] == "no-store"
    assert parse_xml(doc.content).findtext("DocDetails/DataContent")

    elsewhere = pull_doc_body(uri=uri, txn="txn-9", digilocker_id=OTHER_DIGILOCKER_ID)
    assert _status(_post(client, DOC_PATH, elsewhere)) == "0"


def test_mismatched_person_gets_status_0(client: TestClient, auth: TokenFactory) -> None:
    _issue(client, auth)
    for n, change in enumerate([{"mobile": "9000000009"}, {"dob": "30-11-1995"}]):
        body = pull_uri_body(**{**PERSON, **change}, txn=f"t{n}")
        assert _status(_post(client, URI_PATH, body)) == "0"
    named = pull_uri_body(**PERSON, name="Someone Else", txn="t-name")
    assert _status(_post(client, URI_PATH, named)) == "0"


def test_replayed_txn_and_stale_ts_get_status_0(client: TestClient, auth: TokenFactory) -> None:
    _issue(client, auth)
    body = pull_uri_body(**PERSON)
    assert _status(_post(client, URI_PATH, body)) == "1"
    assert _status(_post(client, URI_PATH, body)) == "0"
    stale = pull_uri_body(**PERSON, txn="t2", ts=datetime.now(UTC) - timedelta(minutes=20))
    assert _status(_post(client, URI_PATH, stale)) == "0"


@pytest.mark.parametrize(
    "signature",
    [None, "", "bm90LWEtbWFj", "!!!"],
    ids=["missing", "empty", "wrong", "not-base64"],
)
def test_missing_or_wrong_hmac_is_401(
    client: TestClient, auth: TokenFactory, services: Services, signature: str | None
) -> None:
    _issue(client, auth)
    response = _post(client, URI_PATH, pull_uri_body(**PERSON), signature)
    assert response.status_code == 401
    events = services.database.integrations().events(channel=CHANNEL_PULL_URI)
    assert [e.outcome for e in events] == ["bad-signature"]


def test_hmac_over_a_truncated_body_is_refused(client: TestClient, auth: TokenFactory) -> None:
    """DIVOC read only the first 2 KB, so a signed prefix let anything be appended."""
    _issue(client, auth)
    body = pull_uri_body(**PERSON, name="Bhaya Mitra" + " " * 2100)
    assert len(body) > 2048
    response = _post(client, URI_PATH, body, hmac_header(KEY, body[:2048]))
    assert response.status_code == 401
    assert _status(_post(client, URI_PATH, body)) == "1"  # the whole body's HMAC is accepted


def test_oversized_body_is_413(client: TestClient) -> None:
    body = pull_uri_body(**PERSON, name="x" * 300) + b" " * (64 * 1024)
    response = _post(client, URI_PATH, body)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        b"<PullURIRequest",
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;'
        b'&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;'
        b'&c;&c;&c;&c;&c;&c;&c;">]><PullURIRequest ts="1" txn="&d;"><DocDetails/></PullURIRequest>',
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
        b'<PullURIRequest ts="1" txn="&x;"><DocDetails/></PullURIRequest>',
    ],
    ids=["malformed", "billion-laughs", "external-entity"],
)
def test_malformed_or_entity_laden_xml_is_400(
    client: TestClient, services: Services, body: bytes
) -> None:
    response = _post(client, URI_PATH, body)
    assert response.status_code == 400
    assert "aaaa" not in response.text
    events = services.database.integrations().events(channel=CHANNEL_PULL_URI)
    assert [e.outcome for e in events] == ["malformed"]


def test_pull_doc_for_an_unknown_uri_is_status_0(client: TestClient, services: Services) -> None:
    assert _status(_post(client, DOC_PATH, pull_doc_body(uri="in.gov.covin-VACER-1"))) == "0"
    events = services.database.integrations().events(channel=CHANNEL_PULL_DOC)
    assert [e.outcome for e in events] == ["not-issued-to-account"]


@pytest.fixture
def custom(make_client: ClientFactory) -> tuple[TestClient, Services]:
    return make_client(
        digilocker=DigilockerSettings(
            api_key=SecretStr("another-key"),
            hmac_header="x-signature",
            hmac_encoding="base64-raw",
            issuer_id="in.gov.example",
            doc_type="HLTHC",
        ),
    )


def test_header_name_encoding_and_uri_are_configurable(
    custom: tuple[TestClient, Services],
) -> None:
    custom_client, services = custom
    issued = custom_client.post(
        "/divoc/api/v1/certify",
        json=[vaccination_request_body("BEN1")],
        headers=bearer(services, "certificate-issuer", username="issuer"),
    )
    certificate_id = issued.json()[0]["certificateId"]
    body = pull_uri_body(**PERSON, doc_type="HLTHC")
    signature = hmac_header(b"another-key", body, raw=True)
    response = custom_client.post(URI_PATH, content=body, headers={"x-signature": signature})
    assert _status(response) == "1"
    uri = parse_xml(response.content).findtext("DocDetails/URI")
    assert uri == f"in.gov.example-HLTHC-{certificate_id}"
    hex_form = {"x-signature": hmac_header(b"another-key", body)}
    assert custom_client.post(URI_PATH, content=body, headers=hex_form).status_code == 401


def test_disabled_digilocker_is_404(make_client: ClientFactory) -> None:
    test_client, _ = make_client(digilocker=DigilockerSettings(enabled=False))
    response = _post(test_client, URI_PATH, pull_uri_body(**PERSON))
    assert response.status_code == 404
    assert _post(test_client, DOC_PATH, pull_doc_body(uri="x")).status_code == 404
