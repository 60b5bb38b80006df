"""W3C Bitstring Status Lists end to end (``status_list`` on): the credentialStatus of a new
DIVOC credential, the signed list served at ``/trust/status/{listId}``, its bit set when the
certificate is withdrawn, and the verifier reading that bit for our lists and fetched ones."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from certdist.config import Settings
from certdist.domain.requests import CertificationRequest
from certdist.formats.status_list import StatusList
from certdist.services.verification import Status
from certdist.services.verification.status_list import StatusListChecker
from certdist.signing.contexts import CREDENTIALS_V1, STATUS_LIST_V1
from certdist.signing.ldproof import verify_credential
from certdist.wiring import Services
from tests.support.clients import client_for
from tests.support.issuing import issue_signed, request_of
from tests.support.request_bodies import vaccination_request_body
from tests.support.services import ServicesFactory
from tests.support.verifier_samples import ServedBy, another_deployment

ROUTE = "/trust/status/"


@pytest.fixture
def settings(make_services: ServicesFactory) -> Settings:
    return make_services.settings(status_list=True, public_url="https://certs.example.org")


def served(client: TestClient, url: str) -> dict[str, Any]:
    assert url.startswith("https://certs.example.org" + ROUTE)
    response = client.get(url.removeprefix("https://certs.example.org"))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "public, max-age=300"
    document: dict[str, Any] = response.json()
    return document


def bit(document: dict[str, Any], index: int) -> bool:
    return StatusList.decode(document["credentialSubject"]["encodedList"]).get(index)


def test_the_route_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "get" in paths[ROUTE + "{list_id}"]


def test_a_new_credential_names_its_list_entry(services: Services) -> None:
    credential = json.loads(issue_signed(services))
    assert credential["@context"][0] == CREDENTIALS_V1
    assert credential["@context"][-1] == STATUS_LIST_V1
    status = credential["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry"
    assert status["statusPurpose"] == "revocation"
    assert status["statusListCredential"] == "https://certs.example.org/trust/status/1"
    assert status["statusListIndex"].isdigit()
    assert 0 <= int(status["statusListIndex"]) < 131_072
    assert status["id"] == f"{status['statusListCredential']}#{status['statusListIndex']}"
    # The proof covers the entry: our verifier (and the contexts it bundles) accept it.
    assert services.verifier.check(json.dumps(credential)).status is Status.VALID
    tampered = {**credential, "credentialStatus": {**status, "statusListIndex": "0"}}
    assert services.verifier.check(json.dumps(tampered)).status is Status.INVALID


def test_the_list_is_signed_and_its_bit_follows_the_withdrawal(
    client: TestClient, services: Services
) -> None:
    credential = json.loads(issue_signed(services))
    status = credential["credentialStatus"]
    index = int(status["statusListIndex"])
    before = served(client, status["statusListCredential"])
    assert before["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert before["@context"] == [CREDENTIALS_V1, STATUS_LIST_V1]
    assert before["issuer"] == credential["issuer"]
    assert before["credentialSubject"]["statusPurpose"] == "revocation"
    method = verify_credential(before, services.verifier.trust.credential_key)
    assert method == credential["proof"]["verificationMethod"]
    assert not bit(before, index)
    assert services.verifier.check(json.dumps(credential)).status is Status.VALID

    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")

    after = served(client, status["statusListCredential"])
    verify_credential(after, services.verifier.trust.credential_key)
    assert bit(after, index)
    assert sum(bit(after, i) for i in range(131_072)) == 1
    assert services.verifier.check(json.dumps(credential)).status is Status.REVOKED


def test_a_corrected_certificate_sets_the_bit_of_the_one_it_replaced(
    client: TestClient, services: Services
) -> None:
    old = json.loads(issue_signed(services))
    corrected = request_of(vaccination_request_body("BEN0001"))
    assert isinstance(corrected, CertificationRequest)
    services.issuance.certificates.correct([corrected])
    index = int(old["credentialStatus"]["statusListIndex"])
    assert bit(served(client, old["credentialStatus"]["statusListCredential"]), index)


def test_the_verifier_of_another_deployment_fetches_the_list(
    client: TestClient, services: Services
) -> None:
    """A verifier with no record of the certificate learns it was revoked from the list."""
    credential = json.dumps(json.loads(issue_signed(services)))
    fetch = ServedBy(client, "https://certs.example.org")
    now = [0.0]
    elsewhere = another_deployment(
        services.verifier,
        StatusListChecker(None, fetch, max_age_seconds=300, monotonic=lambda: now[0]),
    )
    assert elsewhere.check(credential).status is Status.VALID
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    # Within the stated freshness the fetched list is used as it was.
    assert elsewhere.check(credential).status is Status.VALID
    assert len(fetch.fetched) == 1
    now[0] = 301.0
    outcome = elsewhere.check(credential)
    assert (outcome.status, outcome.code) == (Status.REVOKED, "revoked")
    assert len(fetch.fetched) == 2


def test_an_unreachable_or_unknown_list_is_revocation_unknown(
    client: TestClient, services: Services
) -> None:
    credential = json.dumps(json.loads(issue_signed(services)))

    def down(url: str) -> bytes:
        raise OSError("connection refused")

    elsewhere = another_deployment(
        services.verifier,
        StatusListChecker(None, down),
    )
    outcome = elsewhere.check(credential)
    assert (outcome.status, outcome.code) == (Status.INVALID, "revocation-unknown")

    def forged(url: str) -> bytes:  # a list whose proof does not hold
        document = client.get(url.removeprefix("https://certs.example.org")).json()
        document["credentialSubject"]["encodedList"] = StatusList.of([1]).encoded()
        return json.dumps(document).encode()

    elsewhere = replace(elsewhere, status_lists=StatusListChecker(None, forged))
    assert elsewhere.check(credential).code == "revocation-unknown"

    def another_issuers(url: str) -> bytes:  # signed by a trusted key, for another issuer
        document = client.get(url.removeprefix("https://certs.example.org")).json()
        del document["proof"]
        document["issuer"] = "https://another-issuer.example/"
        signer = services.issuance.status_lists._signer  # type: ignore[union-attr]
        return json.dumps(signer.sign(document, created=datetime.now(UTC))).encode()

    elsewhere = replace(elsewhere, status_lists=StatusListChecker(None, another_issuers))
    outcome = elsewhere.check(credential)
    assert (outcome.status, outcome.code) == (Status.INVALID, "revocation-unknown")


def test_an_unknown_list_is_404(client: TestClient, services: Services) -> None:
    response = client.get(ROUTE + "7")
    assert response.status_code == 404
    assert "no status list 7" in response.text
    assert client.get(ROUTE + "not-a-number").status_code == 400
    assert client.get(ROUTE + "0").status_code == 400


def test_off_by_default(make_services: ServicesFactory) -> None:
    services = make_services()
    credential = json.loads(issue_signed(services))
    assert "credentialStatus" not in credential
    assert STATUS_LIST_V1 not in credential["@context"]
    with client_for(services) as client:
        response = client.get(ROUTE + "1")
    assert response.status_code == 404
    assert "status_list is off" in response.text


def test_production_fetches_no_plain_http_list(services: Services) -> None:
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        raise OSError("not reached")

    checker = StatusListChecker(None, fetch, https_only=True)
    trust, loader = services.verifier.trust, services.verifier.loader
    problem = checker.problem(
        "http://certs.example.org/trust/status/1", 0, None, trust=trust, loader=loader
    )
    assert problem is not None
    assert "could not be fetched" in str(problem)
    assert asked == []
    checker.problem("https://certs.example.org/trust/status/1", 0, None, trust=trust, loader=loader)
    assert asked == ["https://certs.example.org/trust/status/1"]


def test_the_certificate_pdf_carries_the_entry_in_its_qr(services: Services) -> None:
    """The larger credential still fits the PDF's QR code, which verifies from the PDF."""
    issue_signed(services)
    bundle = services.distribution.certificates.bundle("BEN0001")
    pdf = services.distribution.formats.get("pdf").render(bundle)
    outcome = services.verifier.check(pdf, expect_pdf=True)
    assert outcome.status is Status.VALID
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    assert services.verifier.check(pdf, expect_pdf=True).status is Status.REVOKED
