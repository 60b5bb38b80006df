"""EU DCC revocation batches over HTTP: empty until a certificate is withdrawn, then a signed
batch per DSC naming the UCI of its DCC, which the verifier reads as "revoked"."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from pydantic import ValidationError

from certdist.config import WalletSettings
from certdist.formats.base45 import b45decode
from certdist.formats.trust_lists import parse_eu_trust_list
from certdist.services.verification import Status
from certdist.wiring import Services
from tests.support.clients import ClientFactory
from tests.support.cms import open_signed
from tests.support.issuing import issue_signed
from tests.support.wallet_samples import write_upload_signer

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


def test_with_an_upload_certificate_it_signs_the_batches_and_is_published_as_upload(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    certificate_file, key_file, upload = write_upload_signer(tmp_path / "gateway")
    client, services = make_client(
        wallet={"dcc_upload_certificate_file": certificate_file, "dcc_upload_key_file": key_file}
    )
    issue_signed(services)
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    (listed,) = listing(client)["batches"]
    content, carried = open_signed(client.get(f"{LIST}/{listed['batchId']}").text)
    assert carried == [upload]  # the signer is the upload certificate, not the DSC
    (signer,) = services.distribution.issuers.document_signers.all()
    assert base64.b64decode(json.loads(content)["kid"]) == signer.kid  # entries still per DSC

    entries = client.get("/trust/eu-dcc/trustlist.json").json()
    der = upload.public_bytes(serialization.Encoding.DER)
    assert [(e["certificateType"], e["thumbprint"]) for e in entries] == [
        ("DSC", hashlib.sha256(signer.der).hexdigest()),
        ("UPLOAD", hashlib.sha256(der).hexdigest()),
    ]
    # A verifier that imports the list takes the DSC only: an upload certificate signs no DCC.
    assert [s.certificate for s in parse_eu_trust_list(entries)] == [signer.certificate]


def test_an_upload_certificate_without_its_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="go together"):
        WalletSettings(dcc_upload_certificate_file=Path("upload.crt"))
