"""Trust material over HTTP: the DID documents and trust lists are public, cacheable for
minutes, hold retired keys beside the active one, and are in the OpenAPI document."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from jwcrypto import jwk

from certdist.formats.trust_lists import parse_eu_trust_list, parse_gdhcn_did
from certdist.signing.keys import KeyUse
from certdist.wiring import Services
from tests.support.services import ServicesFactory

ROUTES = (
    "/.well-known/did.json",
    "/trust/credential-keys.pem",
    "/trust/eu-dcc/trustlist.json",
    "/trust/eu-dcc/did.json",
)


def get(client: TestClient, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["access-control-allow-origin"] == "*"
    return response.json() if path.endswith(".json") else response.text


def test_every_route_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ROUTES:
        assert "get" in paths[path], path


def test_the_did_document_names_every_credential_key_as_proofs_do(
    client: TestClient, services: Services
) -> None:
    retired = services.keys.active(KeyUse.CREDENTIAL)
    active = services.keys.rotate(KeyUse.CREDENTIAL, services.clock.now())
    document = get(client, "/.well-known/did.json")
    did = document["id"]
    host = urlsplit(services.settings.public_url)
    assert did == f"did:web:{host.hostname}%3A{host.port}"  # the port's colon encoded
    assert "https://www.w3.org/ns/did/v1" in document["@context"]
    methods = {m["id"]: m for m in document["verificationMethod"]}
    # A proof's verificationMethod X is the method <did>#X: the retired key too.
    for key in (retired, active):
        method = methods[f"{did}#{key.id}"]
        assert method["type"] == "JsonWebKey2020"
        assert method["controller"] == did
        assert "kid" not in method["publicKeyJwk"]  # the method id names the key
        published = jwk.JWK(**method["publicKeyJwk"])
        assert not published.has_private
        assert published.thumbprint() == jwk.JWK.from_pem(key.public_pem().encode()).thumbprint()
    assert set(document["assertionMethod"]) == set(methods)
    assert len(methods) == 2  # no SHC, DCC or token key


def test_the_pem_route_holds_the_credential_keys(client: TestClient, services: Services) -> None:
    retired = services.keys.active(KeyUse.CREDENTIAL)
    active = services.keys.rotate(KeyUse.CREDENTIAL, services.clock.now())
    every = get(client, "/trust/credential-keys.pem")
    assert f"verificationMethod: {retired.id} (retired)\n{retired.public_pem()}" in every
    assert f"verificationMethod: {active.id} (active)\n{active.public_pem()}" in every
    signing = get(client, "/trust/credential-keys.pem?active=true")
    assert retired.id not in signing
    assert serialization.load_pem_public_key(signing.split("\n", 1)[1].encode()) is not None
    assert (
        client.get("/trust/credential-keys.pem")
        .headers["content-type"]
        .startswith("application/x-pem-file")
    )


def own_signers(services: Services) -> list[x509.Certificate]:
    return [s.certificate for s in services.distribution.issuers.document_signers.all()]


def test_the_eu_trust_list_holds_our_dscs_in_the_gateway_shape(
    client: TestClient, services: Services
) -> None:
    entries = get(client, "/trust/eu-dcc/trustlist.json")
    (certificate,) = own_signers(services)
    der = certificate.public_bytes(serialization.Encoding.DER)
    timestamp = entries[0].pop("timestamp")
    assert timestamp.startswith(certificate.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%S"))
    assert entries == [
        {
            "kid": base64.b64encode(hashlib.sha256(der).digest()[:8]).decode(),
            "country": services.settings.wallet.dcc_country,
            "certificateType": "DSC",
            "thumbprint": hashlib.sha256(der).hexdigest(),
            "rawData": base64.b64encode(der).decode(),
        }
    ]
    # What we publish, we (and anyone with a gateway client) can read back.
    assert [s.certificate for s in parse_eu_trust_list(entries)] == [certificate]


def test_the_gdhcn_did_document_holds_our_dscs(client: TestClient, services: Services) -> None:
    document = get(client, "/trust/eu-dcc/did.json")
    root = get(client, "/.well-known/did.json")["id"]
    assert document["id"] == f"{root}:trust:eu-dcc"  # resolves to /trust/eu-dcc/did.json
    assert document["controller"] == root
    (method,) = document["verificationMethod"]
    key = method["publicKeyJwk"]
    assert method["id"] == f"{document['id']}#{key['kid']}"
    assert (method["type"], key["kty"], key["crv"]) == ("JsonWebKey2020", "EC", "P-256")
    assert [s.certificate for s in parse_gdhcn_did(document)] == own_signers(services)


def test_a_retired_document_signer_stays_in_both_lists(
    make_services: ServicesFactory, services: Services
) -> None:
    (retired,) = own_signers(services)
    services.keys.rotate(KeyUse.DCC, services.clock.now())
    restarted = make_services()  # the new key's DSC is made at start-up
    signers = own_signers(restarted)
    assert len(signers) == 2
    assert retired in signers
    publisher = restarted.trust.publisher
    assert [s.certificate for s in parse_eu_trust_list(publisher.eu_trust_list())] == signers
    assert [s.certificate for s in parse_gdhcn_did(publisher.gdhcn_did_document())] == signers
