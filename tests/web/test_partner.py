"""The partner API over HTTP: roles, indistinguishable misses, rate limits, audit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from certdist.config import PartnerSettings
from certdist.signing.ldproof import verify_credential
from certdist.wiring import Services
from tests.support.clients import ClientFactory, TokenFactory, bearer
from tests.support.request_bodies import vaccination_request_body

CERTIFICATES = "/cert/external/api/certificates"
PDF = "/cert/external/pdf/certificate"
MOBILE = "9880414889"


def _issue(client: TestClient, auth: TokenFactory, *bodies: dict[str, Any]) -> list[str]:
    response = client.post(
        "/divoc/api/v1/certify", json=list(bodies), headers=auth("certificate-issuer")
    )
    assert response.status_code == 200, response.text
    return [item["certificateId"] for item in response.json()]


def _without_date(response: Any) -> tuple[int, dict[str, Any]]:
    body = dict(response.json())
    body.pop("date")
    return response.status_code, body


def test_matching_lookup_returns_signed_certificates_and_pdf(
    client: TestClient, auth: TokenFactory, services: Services
) -> None:
    first, second = _issue(
        client,
        auth,
        vaccination_request_body("BEN1", dose=1),
        vaccination_request_body("BEN1", dose=2),
    )
    partner = auth("partner", username="arogya-app")
    lookup = {"mobile": MOBILE, "beneficiaryId": "BEN1"}
    response = client.post(CERTIFICATES, json=lookup, headers=partner)
    assert response.status_code == 200, response.text
    certificates = response.json()["certificates"]
    assert [c["certificateId"] for c in certificates] == [second, first]
    assert certificates[0]["dose"] == 2
    assert response.headers["cache-control"] == "no-store"  # names, dates of birth
    credential = json.loads(certificates[0]["certificate"])
    verify_credential(credential, services.keys.public_key)

    pdf = client.post(PDF, json=lookup, headers=partner)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")

    services.database.audit().flush()
    downloads = services.database.audit().for_beneficiary("BEN1")
    assert sorted(d.format for d in downloads) == ["json", "json", "pdf"]
    assert {d.actor for d in downloads} == {"arogya-app"}
    outcomes = sorted(e.outcome for e in services.database.integrations().events())
    assert outcomes == ["delivered", "delivered"]


@pytest.mark.parametrize("path", [CERTIFICATES, PDF])
def test_a_wrong_mobile_is_indistinguishable_from_an_unknown_id(
    client: TestClient, auth: TokenFactory, path: str
) -> None:
    _issue(client, auth, vaccination_request_body("BEN1", mobile=MOBILE))
    partner = auth("partner")
    wrong_mobile = client.post(
        path, json={"mobile": "9880414880", "beneficiaryId": "BEN1"}, headers=partner
    )
    unknown_id = client.post(
        path, json={"mobile": MOBILE, "beneficiaryId": "BEN2"}, headers=partner
    )
    both_wrong = client.post(
        path, json={"mobile": "9880414880", "beneficiaryId": "BEN3"}, headers=partner
    )
    assert _without_date(wrong_mobile) == _without_date(unknown_id) == _without_date(both_wrong)
    assert wrong_mobile.status_code == 404
    assert wrong_mobile.headers.keys() == unknown_id.headers.keys()


def test_the_partner_role_is_required(client: TestClient, auth: TokenFactory) -> None:
    lookup = {"mobile": MOBILE, "beneficiaryId": "BEN1"}
    assert client.post(CERTIFICATES, json=lookup).status_code == 401
    for roles in (("certificate-api",), ("recipient",), ("facility-print",)):
        assert client.post(CERTIFICATES, json=lookup, headers=auth(*roles)).status_code == 403
        assert client.post(PDF, json=lookup, headers=auth(*roles)).status_code == 403


@pytest.mark.parametrize(
    "body",
    [{}, {"mobile": MOBILE}, {"beneficiaryId": "BEN1"}, {"mobile": "abc", "beneficiaryId": "B"}],
)
def test_incomplete_lookups_are_400(client: TestClient, auth: TokenFactory, body: Any) -> None:
    assert client.post(CERTIFICATES, json=body, headers=auth("partner")).status_code == 400


@pytest.fixture
def limited(make_client: ClientFactory) -> tuple[TestClient, Services]:
    limits = PartnerSettings(requests_per_window=2, misses_per_window=10, window_seconds=60)
    return make_client(partner=limits)


def test_rate_limit_is_429_with_retry_after(limited: tuple[TestClient, Services]) -> None:
    client, services = limited

    def headers(username: str) -> dict[str, str]:
        return bearer(services, "partner", username=username)

    lookup = {"mobile": MOBILE, "beneficiaryId": "BEN1"}
    statuses = [
        client.post(CERTIFICATES, json=lookup, headers=headers("app-a")).status_code
        for _ in range(3)
    ]
    assert statuses == [404, 404, 429]
    refused = client.post(PDF, json=lookup, headers=headers("app-a"))
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert client.post(CERTIFICATES, json=lookup, headers=headers("app-b")).status_code == 404
    outcomes = [e.outcome for e in services.database.integrations().events()]
    assert outcomes.count("rate-limited") == 2
