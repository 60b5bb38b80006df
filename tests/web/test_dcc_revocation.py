"""EU DCC revocation batches over HTTP: empty until a certificate is withdrawn, then a signed
batch per DSC naming the UCI of its DCC, which the verifier reads as "revoked"."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from typing import Any

import cbor2
from fastapi.testclient import TestClient

from certdist.formats.base45 import b45decode
from certdist.services.verification import Status
from certdist.wiring import Services
from tests.support.cms import open_signed
from tests.support.issuing import issue_signed

LIST = "/trust/eu-dcc/revocation-list"


def listing(client: TestClient) -> dict[str, Any]:
    response = client.get(LIST)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["access-control-allow-origin"] == "*"
    result: dict[str, Any] = response.json()
    return result


def uci_of(hc1: str) -> str:
    """The ``ci`` of an HC1, read without the code under test."""
    cose = cbor2.loads(zlib.decompress(b45decode(hc1[4:])))
    claims = cbor2.loads(cose.value[2])
    return str(claims[-260][1]["v"][0]["ci"])


def test_the_routes_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "get" in paths[LIST]
    assert "get" in paths[LIST + "/{batch_id}"]


def test_a_revoked_certificate_is_in_the_batch_and_verifies_revoked(
    client: TestClient, services: Services
) -> None:
    issue_signed(services)
    hc1 = services.distribution.wallet.issuers.dcc.hc1(
        services.distribution.certificates.bundle("BEN0001")
    )
    assert listing(client) == {"more": False, "batches": []}
    assert services.verifier.check(hc1).status is Status.VALID

    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")

    batches = listing(client)["batches"]
    (signer,) = services.distribution.issuers.document_signers.all()
    assert [(b["country"], b["deleted"]) for b in batches] == [("IN", False)]
    response = client.get(f"{LIST}/{batches[0]['batchId']}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/cms-text")
    content, _ = open_signed(response.text)
    batch = json.loads(content)
    assert base64.b64decode(batch["kid"]) == signer.kid
    assert batch["hashType"] == "UCI"
    expected = hashlib.sha256(uci_of(hc1).encode()).digest()[:16]
    assert [base64.b64decode(e["hash"]) for e in batch["entries"]] == [expected]
    assert services.verifier.check(hc1).status is Status.REVOKED


def test_an_unknown_batch_is_404(client: TestClient) -> None:
    assert client.get(f"{LIST}/{'0' * 32}").status_code == 404
    assert client.get(f"{LIST}/not-an-id").status_code == 400


def test_the_web_verifier_says_revoked_for_a_listed_dcc(
    client: TestClient, services: Services
) -> None:
    issue_signed(services)
    hc1 = services.distribution.wallet.issuers.dcc.hc1(
        services.distribution.certificates.bundle("BEN0001")
    )
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    response = client.post("/verify/result", data={"payload": hc1})
    assert response.status_code == 200
    assert 'data-code="revoked"' in response.text
