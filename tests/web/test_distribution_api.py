"""The certificate distribution API through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from certdist.formats.divoc_qr import decode_payload
from certdist.signing.ldproof import verify_credential
from certdist.wiring import Services
from tests.support.clients import TokenFactory, bearer, client_for
from tests.support.imaging import open_image, pdf_text, rasterise_pdf, scan
from tests.support.request_bodies import lab_test_request_body, vaccination_request_body
from tests.support.services import ServicesFactory

API = "/certificate/api"
CLIENT = "certificate-api"


def _issue(client: TestClient, auth: TokenFactory, *bodies: dict[str, Any]) -> list[str]:
    response = client.post(
        "/divoc/api/v1/certify", json=list(bodies), headers=auth("certificate-issuer")
    )
    assert response.status_code == 200, response.text
    return [item["certificateId"] for item in response.json()]


def _pdf(client: TestClient, auth: TokenFactory, code: str) -> Any:
    return client.get(f"{API}/certificatePDF/{code}", headers=auth(CLIENT))


def test_pdf_of_latest_certificate_lists_every_dose_and_scans(
    client: TestClient, auth: TokenFactory, services: Services, tmp_path: Path
) -> None:
    ids = _issue(
        client,
        auth,
        *(vaccination_request_body("D1", dose=d, total=2, name="Asha Devi") for d in (1, 2, 3)),
    )
    response = _pdf(client, auth, "D1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert f"certificate-{ids[2]}.pdf" in response.headers["content-disposition"]
    text = pdf_text(response.content, tmp_path)
    assert "Asha Devi" in text
    assert "Booster" in text
    assert "बूस्टर" in text  # the Hindi title
    assert ids[2] in text
    # The QR on the page, rendered as a printer would, holds the latest signed credential.
    [payload] = scan(rasterise_pdf(response.content, tmp_path, dpi=150))
    credential = json.loads(decode_payload(payload))
    assert credential["evidence"][0]["certificateId"] == ids[2]
    verify_credential(credential, services.keys.public_key)


def test_qr_png_holds_the_exact_signed_text(
    client: TestClient, auth: TokenFactory, services: Services
) -> None:
    [certificate_id] = _issue(client, auth, vaccination_request_body("Q1", name="प्रिया 🙂"))
    response = client.get(f"{API}/certificateQRCode/Q1", headers=auth(CLIENT))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    [payload] = scan(open_image(response.content))
    assert decode_payload(payload) == services.issuance.certificates.signed_credential(
        certificate_id
    )


def test_head_says_whether_a_certificate_exists(client: TestClient, auth: TokenFactory) -> None:
    _issue(client, auth, vaccination_request_body("H1"))
    found = client.head(f"{API}/certificatePDF/H1", headers=auth(CLIENT))
    assert found.status_code == 200
    assert found.content == b""
    assert client.head(f"{API}/certificatePDF/H2", headers=auth(CLIENT)).status_code == 404


def test_etag_gives_304_until_a_correction_and_then_a_new_document(
    client: TestClient, auth: TokenFactory, services: Services
) -> None:
    [first_id] = _issue(client, auth, vaccination_request_body("E1", name="Old Name"))
    first = _pdf(client, auth, "E1")
    etag = first.headers["etag"]
    again = client.get(f"{API}/certificatePDF/E1", headers={**auth(CLIENT), "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    client.put(
        "/divoc/api/v1/certificate",
        json=[vaccination_request_body("E1", name="New Name")],
        headers=auth("certificate-corrector"),
    )
    after = client.get(f"{API}/certificatePDF/E1", headers={**auth(CLIENT), "If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["etag"] != etag
    assert first_id not in after.content.decode("latin-1")  # the superseded certificate is gone


def test_revoked_certificates_are_never_served(
    client: TestClient, auth: TokenFactory, tmp_path: Path
) -> None:
    _issue(
        client, auth, vaccination_request_body("R1", dose=1), vaccination_request_body("R1", dose=2)
    )
    client.delete("/divoc/api/v1/certificates/R1?doses=2", headers=auth("certificate-revoker"))
    response = _pdf(client, auth, "R1")
    assert response.status_code == 200
    assert "Provisional" in pdf_text(response.content, tmp_path)  # dose 1 of 2 again
    client.delete(
        "/divoc/api/v1/certificates/R1?allDoses=true", headers=auth("certificate-revoker")
    )
    gone = _pdf(client, auth, "R1")
    assert gone.status_code == 404
    assert set(gone.json()) >= {"date", "source", "type", "extra"}
    assert client.head(f"{API}/certificatePDF/R1", headers=auth(CLIENT)).status_code == 404


def test_recipients_reach_only_their_own_certificates(
    client: TestClient, auth: TokenFactory
) -> None:
    [mine] = _issue(client, auth, vaccination_request_body("M1", mobile="9880414889"))
    [theirs] = _issue(client, auth, vaccination_request_body("M2", mobile="9880414890"))
    me = auth("recipient", username="citizen-1", mobile="+919880414889")
    assert client.get(f"{API}/certificatePDF?certificateId={mine}", headers=me).status_code == 200
    denied = client.get(f"{API}/certificatePDF?certificateId={theirs}", headers=me)
    assert denied.status_code == 404
    unknown = client.get(f"{API}/certificatePDF?certificateId=999999999999", headers=me)
    assert unknown.status_code == 404
    assert denied.json()["extra"] == unknown.json()["extra"]  # indistinguishable
    no_mobile = auth("recipient", username="citizen-2")
    assert (
        client.get(f"{API}/certificatePDF?certificateId={mine}", headers=no_mobile).status_code
        == 404
    )
    # A recipient token cannot use the beneficiary-id routes.
    assert client.get(f"{API}/certificatePDF/M1", headers=me).status_code == 403


def test_lab_test_and_v2_entity_routes(
    client: TestClient, auth: TokenFactory, tmp_path: Path
) -> None:
    response = client.post(
        "/divoc/api/v1/test/certify",
        json=[lab_test_request_body("T1")],
        headers=auth("certificate-issuer"),
    )
    assert response.status_code == 200
    pdf = client.get(f"{API}/test/certificatePDF/T1", headers=auth(CLIENT))
    assert pdf.status_code == 200
    assert "Negative" in pdf_text(pdf.content, tmp_path)
    v2 = client.get(
        f"{API}/v2/TestCertificate/certificate?preEnrollmentCode=T1&format=json",
        headers=auth(CLIENT),
    )
    assert v2.status_code == 200
    assert v2.json()["evidence"][0]["result"] == "Negative"
    assert (
        client.get(
            f"{API}/v2/VaccinationCertificate/certificate?preEnrollmentCode=T1",
            headers=auth(CLIENT),
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"{API}/v2/NoSuchType/certificate?preEnrollmentCode=T1", headers=auth(CLIENT)
        ).status_code
        == 404
    )
    assert (
        client.get(
            f"{API}/v2/TestCertificate/certificate?preEnrollmentCode=T1&format=exe",
            headers=auth(CLIENT),
        ).status_code
        == 400
    )


def test_beneficiaries_search_for_print_staff(client: TestClient, auth: TokenFactory) -> None:
    _issue(
        client,
        auth,
        vaccination_request_body("F1", mobile="9880414889"),
        vaccination_request_body("F1", dose=2, mobile="9880414889"),
    )
    other = vaccination_request_body("F2", mobile="9880414889")
    other["recipient"]["dob"] = "1960-01-01"
    _issue(client, auth, other)
    staff = auth("facility-print")
    response = client.get(f"{API}/beneficiaries?phoneno=9880414889&dob=1994-11-30", headers=staff)
    assert response.status_code == 200
    assert response.json() == [
        {"preEnrollmentCode": "F1", "name": "Bhaya Mitra", "gender": "Male", "dob": "1994-11-30"}
    ]
    assert (
        client.get(
            f"{API}/beneficiaries?phoneno=%2B91%2098804%2014889&dob=1960-01-01", headers=staff
        ).json()[0]["preEnrollmentCode"]
        == "F2"
    )
    assert (
        client.get(
            f"{API}/beneficiaries?phoneno=9880414889&dob=1994-11-30", headers=auth(CLIENT)
        ).status_code
        == 403
    )
    assert (
        client.get(f"{API}/beneficiaries?phoneno=12&dob=1994-11-30", headers=staff).status_code
        == 400
    )
    assert (
        client.get(
            f"{API}/beneficiaries?phoneno=9880414889&dob=30-11-1994", headers=staff
        ).status_code
        == 400
    )


def test_downloads_already_sent_are_audited_after_a_normal_shutdown(
    make_services: ServicesFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit is written off the request path, in batches; rows of responses already sent
    (rendered by the route, or answered from the render cache by ``FastReads``) are still
    queued when the server stops, and its shutdown writes them."""
    from sqlalchemy import text

    from certdist.storage import audit as audit_module

    monkeypatch.setattr(audit_module, "FLUSH_SECONDS", 60.0)  # nothing written before shutdown
    services = make_services()
    with client_for(services) as client:
        issuer = bearer(services, "certificate-issuer")
        assert client.post("/divoc/api/v1/certify", json=[vaccination_request_body("S1")],
                           headers=issuer).status_code == 200  # fmt: skip
        sent = [
            client.get(f"{API}/{kind}/S1", headers=bearer(services, CLIENT)).status_code
            for kind in ["certificatePDF"] * 2 + ["certificateQRCode"] * 2
        ]
        assert sent == [200] * 4  # the second of each from the render cache, by FastReads
        with services.database.engine.connect() as connection:
            count = text("SELECT count(*) FROM download_audit WHERE pre_enrollment_code = 'S1'")
            assert connection.execute(count).scalar() == 0
    # The client's exit ran the application's shutdown, which closes the services.
    with services.database.engine.connect() as connection:
        assert connection.execute(count).scalar() == 4


def test_every_download_is_audited(
    client: TestClient, auth: TokenFactory, services: Services
) -> None:
    [certificate_id] = _issue(client, auth, vaccination_request_body("A1"))
    etag = _pdf(client, auth, "A1").headers["etag"]
    client.get(f"{API}/certificateQRCode/A1", headers=auth("facility-print", username="printer-7"))
    client.get(f"{API}/certificatePDF/A1", headers={**auth(CLIENT), "If-None-Match": etag})  # 304
    client.head(f"{API}/certificatePDF/A1", headers=auth(CLIENT))
    entries = services.database.audit().for_beneficiary("A1")
    assert [(e.format, e.actor, e.permission) for e in entries] == [
        ("qr", "printer-7", "print"),
        ("pdf", "facility-1", "distribute"),
    ]
    assert {e.certificate_id for e in entries} == {certificate_id}


@pytest.mark.parametrize(
    "path",
    [
        "/certificatePDF/..%2Fetc",
        "/certificatePDF/" + "x" * 65,
        "/certificatePDF/a%20b",
        "/certificateQRCode/%3Cscript%3E",
        "/certificatePDF?certificateId=%27%3B--",
        "/v2/Bad%20Type/certificate?preEnrollmentCode=A1",
    ],
)
def test_malformed_ids_are_400_or_404_never_500(
    client: TestClient, auth: TokenFactory, path: str
) -> None:
    response = client.get(API + path, headers=auth(CLIENT, "recipient", mobile="+919880414889"))
    assert response.status_code in (400, 404)


def test_distribution_needs_a_token_and_the_role(client: TestClient, auth: TokenFactory) -> None:
    assert client.get(f"{API}/certificatePDF/X1").status_code == 401
    assert (
        client.get(f"{API}/certificatePDF/X1", headers=auth("certificate-issuer")).status_code
        == 403
    )
    assert client.head(f"{API}/certificatePDF/X1").status_code == 401


def test_openapi_documents_every_distribution_route_with_examples(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, method in (
        ("/certificate/api/certificatePDF/{preEnrollmentCode}", "get"),
        ("/certificate/api/certificatePDF/{preEnrollmentCode}", "head"),
        ("/certificate/api/certificateQRCode/{preEnrollmentCode}", "get"),
        ("/certificate/api/certificatePDF", "get"),
        ("/certificate/api/test/certificatePDF/{preEnrollmentCode}", "get"),
        ("/certificate/api/v2/{entityType}/certificate", "get"),
        ("/certificate/api/beneficiaries", "get"),
    ):
        operation = paths[path][method]
        assert operation.get("description"), (path, method)
        parameters = [p for p in operation["parameters"] if p["in"] in ("path", "query")]
        assert parameters
        assert all(
            p.get("examples") or p["schema"].get("examples") for p in parameters if p["required"]
        )


def test_fast_path_answers_like_the_routes(
    client: TestClient, auth: TokenFactory, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    """Repeat downloads, 304s and HEADs are answered before FastAPI's routing (web/fast_reads.py);
    what they answer must not differ from the routes'."""
    _issue(client, auth, vaccination_request_body("FP1"))
    first = _pdf(client, auth, "FP1")  # rendered by the route
    second = _pdf(client, auth, "FP1")  # from this process's cache, by the fast path
    assert second.status_code == 200
    assert second.content == first.content
    for header in ("etag", "content-type", "content-disposition", "cache-control"):
        assert second.headers[header] == first.headers[header]
    assert len(services.database.audit().for_beneficiary("FP1")) == 2
    with caplog.at_level("INFO", logger="certdist.access"):
        etag = first.headers["etag"]
        assert (
            client.get(
                f"{API}/certificatePDF/FP1",
                headers={**auth(CLIENT), "If-None-Match": f'W/"x", {etag}'},
            ).status_code
            == 304
        )
    assert any(
        getattr(r, "route", "") == "/certificate/api/certificatePDF/{preEnrollmentCode}"
        for r in caplog.records
    )
    # Everything it cannot answer completely still gets the routes' answer.
    assert client.head(f"{API}/certificatePDF/FP1", headers=auth("recipient")).status_code == 403
    assert (
        client.head(
            f"{API}/certificatePDF/FP1", headers={"Authorization": "Bearer x.y.z"}
        ).status_code
        == 401
    )
    assert client.head(f"{API}/certificateQRCode/FP1", headers=auth(CLIENT)).status_code == 405
