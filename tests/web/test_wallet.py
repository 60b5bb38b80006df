"""Health-wallet routes through HTTP, on SQLite and PostgreSQL: SMART Health Card, EU DCC,
FHIR and the issuer keys; recipient scoping; no request ever sees another's certificate."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from certdist.domain.models import TEST, VACCINATION
from certdist.domain.requests import TestCertificationRequest
from certdist.formats.eu_dcc import verify_hc1
from certdist.formats.fhir import verify_fhir
from certdist.formats.sd_jwt_vc import verify_presentation
from certdist.formats.shc import verify_shc
from certdist.signing.jose import public_key_from_jwk
from certdist.wiring import Services
from tests.support.clients import TokenFactory
from tests.support.imaging import open_image, rasterise_pdf, scan
from tests.support.request_bodies import lab_test_request_body, vaccination_request_body
from tests.support.sd_jwt import named, present

API = "/certificate/api"
CLIENT = "certificate-api"
NAMES = {"fn": "Mitra", "fnt": "MITRA", "gn": "Bhaya", "gnt": "BHAYA"}


def issue(client: TestClient, auth: TokenFactory, *bodies: dict[str, Any]) -> list[str]:
    response = client.post(
        "/divoc/api/v1/certify", json=list(bodies), headers=auth("certificate-issuer")
    )
    assert response.status_code == 200, response.text
    return [item["certificateId"] for item in response.json()]


def jws_of_shc_text(text: str) -> str:
    digits = text.removeprefix("shc:/")
    return "".join(chr(int(digits[i : i + 2]) + 45) for i in range(0, len(digits), 2))


def jwks_keys(client: TestClient) -> dict[str, Any]:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    return {key["kid"]: public_key_from_jwk(key) for key in response.json()["keys"]}


def now(services: Services) -> datetime:
    return services.clock.now()


@pytest.fixture
def two_doses(client: TestClient, auth: TokenFactory) -> list[str]:
    return issue(client, auth, *(vaccination_request_body("W1", dose=d) for d in (1, 2)))


def test_shc_qr_verifies_with_the_published_keys(
    client: TestClient, auth: TokenFactory, services: Services, two_doses: list[str]
) -> None:
    response = client.get(f"{API}/shc-certificate?refId=W1&type=qrcode", headers=auth(CLIENT))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    [text] = scan(open_image(response.content))
    assert text.startswith(b"shc:/")
    keys = jwks_keys(client)
    card = verify_shc(
        jws_of_shc_text(text.decode()),
        lambda iss, kid: [keys[kid]] if iss == services.settings.public_url else [],
        now(services),
    )
    entries = card.fhir_bundle["entry"]
    assert [e["resource"]["resourceType"] for e in entries] == [
        "Patient",
        "Immunization",
        "Immunization",
    ]
    # The ETag names the content: a repeat with If-None-Match is a 304.
    again = client.get(
        f"{API}/shc-certificate?refId=W1&type=qrcode",
        headers={**auth(CLIENT), "If-None-Match": response.headers["etag"]},
    )
    assert again.status_code == 304


def test_shc_pdf_and_file(
    client: TestClient, auth: TokenFactory, services: Services, two_doses: list[str], tmp_path: Path
) -> None:
    pdf = client.get(f"{API}/shc-certificate?refId=W1", headers=auth(CLIENT))
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    [text] = scan(rasterise_pdf(pdf.content, tmp_path, dpi=150))
    assert text.startswith(b"shc:/")
    card = client.get(f"{API}/shc-certificate?refId=W1&type=file", headers=auth(CLIENT))
    assert card.status_code == 200
    assert card.headers["content-type"] == "application/smart-health-card"
    assert ".smart-health-card" in card.headers["content-disposition"]
    [jws] = json.loads(card.content)["verifiableCredential"]
    assert jws == jws_of_shc_text(text.decode())


def test_eu_certificate_with_names(
    client: TestClient, auth: TokenFactory, services: Services, two_doses: list[str], tmp_path: Path
) -> None:
    response = client.post(
        f"{API}/eu-certificate?refId=W1&type=qrcode", json=NAMES, headers=auth(CLIENT)
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "no-store"
    [text] = scan(open_image(response.content))
    signers = services.distribution.wallet.issuers.document_signers
    dcc = verify_hc1(text.decode(), signers.keys_for_kid, now(services))
    assert dcc.payload["nam"] == NAMES
    assert dcc.payload["v"][0]["ci"] == f"URN:UVCI:01:IN:{two_doses[1]}"
    assert dcc.payload["v"][0]["dn"] == 2
    pdf = client.post(f"{API}/eu-certificate?refId=W1", json=NAMES, headers=auth(CLIENT))
    assert pdf.headers["content-type"] == "application/pdf"
    [on_paper] = scan(rasterise_pdf(pdf.content, tmp_path, dpi=150))
    assert (
        verify_hc1(on_paper.decode(), signers.keys_for_kid, now(services)).payload["nam"] == NAMES
    )


def test_eu_certificate_without_body_derives_the_names(
    client: TestClient, auth: TokenFactory, services: Services, two_doses: list[str]
) -> None:
    response = client.post(f"{API}/eu-certificate?refId=W1&type=qrcode", headers=auth(CLIENT))
    assert response.status_code == 200, response.text
    [text] = scan(open_image(response.content))
    dcc = verify_hc1(
        text.decode(),
        services.distribution.wallet.issuers.document_signers.keys_for_kid,
        now(services),
    )
    assert dcc.payload["nam"] == NAMES  # "Bhaya Mitra"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"fn": "Mitra", "fnt": "Mitra"}, "fnt"),
        ({"fn": "Mitra", "fnt": "MITRA", "gnt": "BHAYA 2"}, "gnt"),
        ({"gn": "Bhaya"}, "fnt"),
    ],
)
def test_eu_certificate_refuses_bad_transliterations(
    client: TestClient, auth: TokenFactory, two_doses: list[str], body: dict[str, str], field: str
) -> None:
    response = client.post(f"{API}/eu-certificate?refId=W1", json=body, headers=auth(CLIENT))
    assert response.status_code == 400
    assert field in {error["field"] for error in response.json()["errors"]}


def test_fhir_bundle_is_signed_with_a_published_key(
    client: TestClient, auth: TokenFactory, two_doses: list[str]
) -> None:
    response = client.get(f"{API}/fhir-certificate?refId=W1", headers=auth(CLIENT))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json"
    document = response.json()
    assert document["type"] == "document"
    keys = jwks_keys(client)
    assert verify_fhir(document, lambda kid: [keys[kid]] if kid in keys else []) in keys


def test_recipient_sees_only_their_own(
    client: TestClient, auth: TokenFactory, two_doses: list[str]
) -> None:
    issue(client, auth, vaccination_request_body("W2", mobile="9000000002"))
    own = auth("recipient", mobile="+919880414889")
    for path in (
        "shc-certificate?refId=W1&type=qrcode",
        "fhir-certificate?refId=W1",
    ):
        assert client.get(f"{API}/{path}", headers=own).status_code == 200
    assert (
        client.post(
            f"{API}/eu-certificate?refId=W1&type=qrcode", json=NAMES, headers=own
        ).status_code
        == 200
    )
    for code in ("W2", "NOSUCH"):
        for path in (f"shc-certificate?refId={code}", f"fhir-certificate?refId={code}"):
            assert client.get(f"{API}/{path}", headers=own).status_code == 404
        response = client.post(f"{API}/eu-certificate?refId={code}", json=NAMES, headers=own)
        assert response.status_code == 404
    no_mobile = auth("recipient")
    assert client.get(f"{API}/fhir-certificate?refId=W1", headers=no_mobile).status_code == 404


def test_authentication_and_roles(
    client: TestClient, auth: TokenFactory, two_doses: list[str]
) -> None:
    assert client.get(f"{API}/fhir-certificate?refId=W1").status_code == 401
    wrong_role = auth("facility-staff")
    assert client.get(f"{API}/fhir-certificate?refId=W1", headers=wrong_role).status_code == 403
    assert client.get("/.well-known/jwks.json").status_code == 200  # public


def test_bad_parameters_are_client_errors(
    client: TestClient, auth: TokenFactory, two_doses: list[str]
) -> None:
    for path in (
        "shc-certificate?refId=W1&type=svg",
        "shc-certificate",
        "fhir-certificate?refId=a b",
    ):
        assert client.get(f"{API}/{path}", headers=auth(CLIENT)).status_code in (400, 422)
    response = client.post(
        f"{API}/eu-certificate?refId=W1", json={"fnt": "X", "extra": 1}, headers=auth(CLIENT)
    )
    assert response.status_code in (400, 422)


def test_downloads_are_audited(
    client: TestClient, auth: TokenFactory, services: Services, two_doses: list[str]
) -> None:
    client.get(f"{API}/shc-certificate?refId=W1&type=file", headers=auth(CLIENT, username="app-7"))
    client.post(
        f"{API}/eu-certificate?refId=W1", json=NAMES, headers=auth(CLIENT, username="app-7")
    )
    client.get(f"{API}/fhir-certificate?refId=W1", headers=auth(CLIENT, username="app-7"))
    formats = {
        (d.format, d.actor, d.certificate_id)
        for d in services.database.audit().for_beneficiary("W1")
    }
    assert {f for f, _, _ in formats} >= {"shc-file", "eu-dcc-pdf", "fhir"}
    assert {a for _, a, _ in formats} == {"app-7"}
    assert {c for _, _, c in formats} == {two_doses[1]}


def test_concurrent_eu_requests_never_mix_people(
    client: TestClient, auth: TokenFactory, services: Services
) -> None:
    people = {
        f"P{n}": {"fn": f"Family{chr(65 + n)}", "fnt": f"FAMILY{chr(65 + n)}", "gnt": "GIVEN"}
        for n in range(4)
    }
    ids = {code: issue(client, auth, vaccination_request_body(code))[0] for code in people}
    headers = auth(CLIENT)
    signers = services.distribution.wallet.issuers.document_signers

    def fetch(code: str) -> tuple[str, dict[str, Any]]:
        response = client.post(
            f"{API}/eu-certificate?refId={code}&type=qrcode", json=people[code], headers=headers
        )
        [text] = scan(open_image(response.content))
        return code, verify_hc1(text.decode(), signers.keys_for_kid, now(services)).payload

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(fetch, [code for _ in range(5) for code in people]))
    for code, payload in results:
        assert payload["nam"]["fnt"] == people[code]["fnt"]
        assert payload["v"][0]["ci"] == f"URN:UVCI:01:IN:{ids[code]}"


def crl_versions(client: TestClient) -> set[int]:
    return {key["crlVersion"] for key in client.get("/.well-known/jwks.json").json()["keys"]}


def test_revocation_list_names_the_cards_of_withdrawn_certificates(
    client: TestClient, auth: TokenFactory, services: Services, two_doses: list[str]
) -> None:
    assert crl_versions(client) == {1}
    kid = client.get("/.well-known/jwks.json").json()["keys"][0]["kid"]
    empty = client.get(f"/.well-known/crl/{kid}.json")
    assert empty.status_code == 200
    assert empty.json() == {"kid": kid, "method": "rid", "ctr": 1, "rids": []}
    assert empty.headers["cache-control"] == "public, max-age=300"
    assert empty.headers["access-control-allow-origin"] == "*"

    card = client.get(f"{API}/shc-certificate?refId=W1&type=file", headers=auth(CLIENT))
    [jws] = json.loads(card.content)["verifiableCredential"]
    keys = jwks_keys(client)
    rid = verify_shc(jws, lambda iss, kid: [keys[kid]], now(services)).rid
    assert rid is not None
    services.issuance.certificates.revoke("W1", [2], reason="issued in error")

    listed = client.get(f"/.well-known/crl/{kid}.json").json()
    assert listed == {"kid": kid, "method": "rid", "ctr": 2, "rids": [rid]}
    assert crl_versions(client) == {2}
    # The card now served is of dose 1, whose certificate is live: another rid.
    again = client.get(f"{API}/shc-certificate?refId=W1&type=file", headers=auth(CLIENT))
    [current] = json.loads(again.content)["verifiableCredential"]
    assert verify_shc(current, lambda iss, kid: [keys[kid]], now(services)).rid != rid


def test_revocation_list_of_an_unknown_key(client: TestClient) -> None:
    assert client.get("/.well-known/crl/not-our-key.json").status_code == 404
    assert client.get("/.well-known/crl/a%20b.json").status_code in (400, 422)


def test_a_lab_test_gets_its_card_and_eu_dcc_but_no_ddcc_vs(
    client: TestClient, auth: TokenFactory, services: Services
) -> None:
    body = lab_test_request_body("WLAB1")
    services.issuance.certificates.certify([TestCertificationRequest.model_validate(body)])
    headers = auth(CLIENT)
    card = client.get(f"{API}/shc-certificate?refId=WLAB1&type=file", headers=headers)
    assert card.status_code == 200
    [jws] = card.json()["verifiableCredential"]
    keys = jwks_keys(client)
    verified = verify_shc(jws, lambda iss, kid: [keys[kid]] if kid in keys else [], now(services))
    assert "https://smarthealth.cards#laboratory" in verified.payload["vc"]["type"]
    eu = client.post(f"{API}/eu-certificate?refId=WLAB1&type=qrcode", json=NAMES, headers=headers)
    assert eu.status_code == 200
    [hc1] = scan(open_image(eu.content))
    assert services.verifier.verify(hc1).kind == "test"
    refused = client.get(f"{API}/fhir-certificate?refId=WLAB1", headers=headers)
    assert refused.status_code == 400
    assert "not issued for lab-test certificates" in refused.text


def test_sd_jwt_vc_issuer_metadata_and_the_verify_api(
    client: TestClient, auth: TokenFactory, services: Services, two_doses: list[str]
) -> None:
    """The JWT VC issuer metadata names our ``iss`` and its keys: an SD-JWT VC verifies with
    them alone, and ``POST /verify`` shows only the disclosed claims."""
    response = client.get("/.well-known/jwt-vc-issuer")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    metadata = response.json()
    sd_jwt = services.distribution.wallet.issuers.sd_jwt_vc.issue(
        services.distribution.certificates.bundle("W1")
    )
    keys = {key["kid"]: public_key_from_jwk(key) for key in metadata["jwks"]["keys"]}

    def published(iss: str, kid: str) -> list[Any]:
        return [keys[kid]] if iss == metadata["issuer"] and kid in keys else []

    assert verify_presentation(sd_jwt, published, now(services)).claims["vaccinations"]
    answer = client.post("/verify", json={"payload": present(sd_jwt, named("name"))})
    assert answer.status_code == 200
    assert answer.json()["status"] == "valid"
    shown = answer.json()["certificate"]
    assert shown["format"] == "sd-jwt-vc"
    assert shown["holder_binding"] == "not shown"
    assert "date_of_birth" not in shown
    assert "vaccine" not in shown
    # Without the name (a verifier asking only for the doses): the answer leaves it out.
    answer = client.post(
        "/verify", json={"payload": present(sd_jwt, named("vaccinations", "vaccine"))}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "valid"
    shown = answer.json()["certificate"]
    assert "name" not in shown
    assert shown["vaccine"] == "Covishield"


@pytest.mark.parametrize("kind", ["vaccination", "lab-test"])
def test_the_type_metadata_is_served_at_each_vct(
    client: TestClient, services: Services, kind: str
) -> None:
    issuer = services.distribution.wallet.issuers.sd_jwt_vc
    vct = issuer.vct({"vaccination": VACCINATION, "lab-test": TEST}[kind])
    assert vct.endswith(f"/credentials/{kind}/v1")
    response = client.get(vct.removeprefix(issuer.issuer))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["access-control-allow-origin"] == "*"
    metadata = response.json()
    assert metadata["vct"] == vct
    assert [d["locale"] for d in metadata["display"]] == ["en", "hi"]
    assert ["name"] in [claim["path"] for claim in metadata["claims"]]


def test_an_unknown_type_is_a_client_error(client: TestClient) -> None:
    for path in ("/credentials/training/v1", "/credentials/vaccination/v2"):
        assert 400 <= client.get(path).status_code < 500, path
