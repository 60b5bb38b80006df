"""The DIVOC issuance API through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from certdist.domain.models import UploadRowError
from certdist.errors import FieldError
from certdist.services.issuance import errors_csv
from certdist.signing.ldproof import verify_credential
from certdist.wiring import Services
from tests.support.clients import TokenFactory
from tests.support.request_bodies import lab_test_request_body, vaccination_request_body

CERTIFY = "/divoc/api/v1/certify"
ISSUER = "certificate-issuer"


def _certify(
    client: TestClient, auth: TokenFactory, *bodies: dict[str, Any]
) -> list[dict[str, Any]]:
    response = client.post(CERTIFY, json=list(bodies), headers=auth(ISSUER))
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def _signed(client: TestClient, auth: TokenFactory, certificate_id: str) -> dict[str, Any]:
    response = client.get(
        f"/divoc/api/v1/certificates/{certificate_id}", headers=auth("facility-admin")
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_certify_signs_and_stores(
    client: TestClient, auth: TokenFactory, services: Services
) -> None:
    [issued] = _certify(
        client, auth, vaccination_request_body("BEN1", name='Zoë "Q" \\ 李 🙂 प्रिया')
    )
    assert issued["preEnrollmentCode"] == "BEN1"
    assert issued["certificateId"].isdigit()
    assert len(issued["certificateId"]) == 12
    credential = _signed(client, auth, issued["certificateId"])
    assert credential["credentialSubject"]["name"] == 'Zoë "Q" \\ 李 🙂 प्रिया'
    assert credential["evidence"][0]["certificateId"] == issued["certificateId"]
    assert credential["proof"]["type"] == "RsaSignature2018"
    verify_credential(credential, services.keys.public_key)


def test_divoc_certify_request_from_the_vectors(
    client: TestClient, auth: TokenFactory, testdata: Path
) -> None:
    body = json.loads((testdata / "divoc/certify-request.json").read_text())
    response = client.post(CERTIFY, json=body, headers=auth(ISSUER))
    assert response.status_code == 200, response.text
    assert response.json()[0]["preEnrollmentCode"] == "1112"


def test_served_text_is_byte_identical_to_what_was_signed(
    client: TestClient, auth: TokenFactory, services: Services
) -> None:
    [issued] = _certify(client, auth, vaccination_request_body("BEN2", name="नाम 🙂"))
    response = client.get(
        f"/divoc/api/v1/certificates/{issued['certificateId']}", headers=auth("facility-admin")
    )
    stored = services.issuance.certificates.signed_credential(issued["certificateId"])
    assert response.content == stored.encode("utf-8")


def test_lab_test_certify(client: TestClient, auth: TokenFactory, services: Services) -> None:
    response = client.post(
        "/divoc/api/v1/test/certify", json=[lab_test_request_body()], headers=auth(ISSUER)
    )
    assert response.status_code == 200, response.text
    credential = _signed(client, auth, response.json()[0]["certificateId"])
    assert credential["type"][1] == "ProofOfTestCertificateCredential"
    verify_credential(credential, services.keys.public_key)


def test_duplicate_dose_is_409_and_writes_nothing(
    client: TestClient, auth: TokenFactory, services: Services
) -> None:
    _certify(client, auth, vaccination_request_body("BEN3", dose=1))
    response = client.post(
        CERTIFY,
        json=[vaccination_request_body("BEN3", dose=2), vaccination_request_body("BEN3", dose=1)],
        headers=auth(ISSUER),
    )
    assert response.status_code == 409
    assert response.json()["type"] == "invalid-input"
    doses = [r.dose for r in services.database.certificates().for_beneficiary("BEN3")]
    assert doses == [1]  # the good dose 2 of the failed request was not written


def test_duplicate_inside_one_request_is_409(
    client: TestClient, auth: TokenFactory, services: Services
) -> None:
    body = vaccination_request_body("BEN4")
    response = client.post(CERTIFY, json=[body, body], headers=auth(ISSUER))
    assert response.status_code == 409
    assert services.database.certificates().for_beneficiary("BEN4") == []


def test_invalid_request_is_400_naming_each_field_and_writes_nothing(
    client: TestClient, auth: TokenFactory, services: Services
) -> None:
    good = vaccination_request_body("BEN5")
    bad = vaccination_request_body("BEN6")
    bad["vaccination"]["dose"] = 0
    bad["recipient"]["dob"] = "not-a-date"
    response = client.post(CERTIFY, json=[good, bad], headers=auth(ISSUER))
    assert response.status_code == 400
    body = response.json()
    assert set(body) >= {"date", "source", "type", "extra", "errors"}
    assert body["type"] == "invalid-input"
    fields = {e["field"] for e in body["errors"]}
    assert {"1.vaccination.dose", "1.recipient.dob"} <= fields
    assert services.database.certificates().for_beneficiary("BEN5") == []


def test_invalid_mobile_is_400(client: TestClient, auth: TokenFactory) -> None:
    response = client.post(
        CERTIFY, json=[vaccination_request_body(mobile="12")], headers=auth(ISSUER)
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "0.recipient.contact.0"


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"{}", b"[]", b'{"a": 1}', b"[1, 2]", b"\xff\xfe"],
)
def test_malformed_bodies_are_400(client: TestClient, auth: TokenFactory, content: bytes) -> None:
    response = client.post(
        CERTIFY, content=content, headers={**auth(ISSUER), "content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "invalid-input"


def test_oversized_body_is_413(client: TestClient, auth: TokenFactory) -> None:
    huge = json.dumps([vaccination_request_body()] * 3000)
    response = client.post(
        CERTIFY, content=huge, headers={**auth(ISSUER), "content-type": "application/json"}
    )
    assert response.status_code == 413


def test_too_many_items_is_400(client: TestClient, auth: TokenFactory) -> None:
    response = client.post(
        CERTIFY, json=[vaccination_request_body(f"B{i}") for i in range(1001)], headers=auth(ISSUER)
    )
    assert response.status_code in (400, 413)


def test_auth_is_required_and_roles_are_checked(client: TestClient, auth: TokenFactory) -> None:
    body = [vaccination_request_body()]
    assert client.post(CERTIFY, json=body).status_code == 401
    assert (
        client.post(CERTIFY, json=body, headers={"Authorization": "Bearer junk"}).status_code == 401
    )
    assert client.post(CERTIFY, json=body, headers=auth("recipient")).status_code == 403
    assert (
        client.put("/divoc/api/v1/certificate", json=body, headers=auth(ISSUER)).status_code == 403
    )
    assert (
        client.delete(
            "/divoc/api/v1/certificates/BEN1?allDoses=true", headers=auth(ISSUER)
        ).status_code
        == 403
    )
    assert client.get("/divoc/api/v1/certificates/123", headers=auth(ISSUER)).status_code == 403


def test_correction_supersedes_and_keeps_history(
    client: TestClient, auth: TokenFactory, services: Services
) -> None:
    [first] = _certify(client, auth, vaccination_request_body("BEN7", name="Wrong Name"))
    corrected = vaccination_request_body("BEN7", name="Right Name")
    response = client.put(
        "/divoc/api/v1/certificate", json=[corrected], headers=auth("certificate-corrector")
    )
    assert response.status_code == 200, response.text
    [second] = response.json()
    assert second["previousCertificateId"] == first["certificateId"]
    assert second["certificateId"] != first["certificateId"]
    history = services.database.certificates().for_beneficiary("BEN7", include_inactive=True)
    assert [(r.name, r.is_live) for r in history] == [("Wrong Name", False), ("Right Name", True)]
    assert history[0].superseded_by == second["certificateId"]
    # The superseded certificate answers "revoked" to verifier apps.
    old = _signed(client, auth, first["certificateId"])
    assert client.post("/divoc/api/v1/certificate/revoked", json=old).status_code == 200
    new = _signed(client, auth, second["certificateId"])
    assert client.post("/divoc/api/v1/certificate/revoked", json=new).status_code == 404


def test_correction_without_a_live_certificate_is_404(
    client: TestClient, auth: TokenFactory
) -> None:
    response = client.put(
        "/divoc/api/v1/certificate",
        json=[vaccination_request_body("NOPE")],
        headers=auth("certificate-corrector"),
    )
    assert response.status_code == 404
    assert response.json()["type"] == "invalid-input"


def test_revocation_of_some_and_all_doses(client: TestClient, auth: TokenFactory) -> None:
    issued = _certify(
        client, auth, *(vaccination_request_body("BEN8", dose=d, total=3) for d in (1, 2, 3))
    )
    revoker = auth("certificate-revoker")
    response = client.delete("/divoc/api/v1/certificates/BEN8?doses=2", headers=revoker)
    assert response.status_code == 200, response.text
    assert [r["dose"] for r in response.json()["revoked"]] == [2]
    credentials = [_signed(client, auth, i["certificateId"]) for i in issued]
    statuses = [
        client.post("/divoc/api/v1/certificate/revoked", json=c).status_code for c in credentials
    ]
    assert statuses == [404, 200, 404]
    response = client.delete("/divoc/api/v1/certificates/BEN8?allDoses=true", headers=revoker)
    assert sorted(r["dose"] for r in response.json()["revoked"]) == [1, 3]
    assert (
        client.delete("/divoc/api/v1/certificates/BEN8?allDoses=true", headers=revoker).status_code
        == 404
    )
    # After revocation the dose may be issued again.
    _certify(client, auth, vaccination_request_body("BEN8", dose=1, total=3))


@pytest.mark.parametrize("query", ["", "?doses=abc", "?doses=0", "?doses=1,x"])
def test_revocation_needs_valid_doses(client: TestClient, auth: TokenFactory, query: str) -> None:
    response = client.delete(
        f"/divoc/api/v1/certificates/BEN9{query}", headers=auth("certificate-revoker")
    )
    assert response.status_code == 400


def test_revocation_check_rejects_credentials_without_id(client: TestClient) -> None:
    assert (
        client.post("/divoc/api/v1/certificate/revoked", json={"evidence": []}).status_code == 400
    )
    assert (
        client.post(
            "/divoc/api/v1/certificate/revoked", json={"evidence": [{"certificateId": "999"}]}
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/divoc/api/v1/certificate/revoked",
            content=b"[]",
            headers={"content-type": "application/json"},
        ).status_code
        == 400
    )


def test_unknown_certificate_and_bad_ids(client: TestClient, auth: TokenFactory) -> None:
    admin = auth("facility-admin")
    assert client.get("/divoc/api/v1/certificates/424242424242", headers=admin).status_code == 404
    assert client.get("/divoc/api/v1/certificates/%3Cscript%3E", headers=admin).status_code == 400


def test_unknown_route_is_a_real_404_in_divoc_shape(client: TestClient) -> None:
    response = client.get("/divoc/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["type"] == "invalid-input"
    assert client.patch(CERTIFY).status_code == 405


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def _upload(
    client: TestClient, auth: TokenFactory, csv_text: str, path: str = "/divoc/api/v1/bulkCertify"
) -> dict[str, Any]:
    response = client.post(
        path, files={"file": ("batch.csv", csv_text.encode(), "text/csv")}, headers=auth(ISSUER)
    )
    assert response.status_code == 200, response.text
    upload: dict[str, Any] = response.json()
    return upload


def _wait_for(client: TestClient, auth: TokenFactory, upload_id: str) -> dict[str, Any]:
    # Generous: CI runs two test processes on two cores next to PostgreSQL and Chromium.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        [found] = [
            u
            for u in client.get("/divoc/api/v1/certify/uploads", headers=auth(ISSUER)).json()
            if u["id"] == upload_id
        ]
        if found["status"] != "processing":
            return found
        time.sleep(0.05)
    raise AssertionError("upload did not finish")


def test_bulk_csv_reports_bad_rows_and_issues_good_ones(
    client: TestClient, auth: TokenFactory, testdata: Path
) -> None:
    header = (testdata / "divoc/bulk-certify-header.csv").read_text().strip()
    good = (
        "B100,Asha,9880414889,1990-01-02,,Female,Indian,,L1,,Dist,State,560001,B1,"
        "2021-05-02T10:00:00Z,1,2,2021-05-02,2022-05-02,SII,Covishield,Dr A,PHC,F1,,FD,FS,560002"
    )
    bad_dose = good.replace("B100", "B101").replace(",1,2,", ",0,2,")
    bad_mobile = good.replace("B100", "B102").replace("9880414889", "12")
    duplicate = good
    csv_text = "\n".join([header, good, bad_dose, bad_mobile, duplicate]) + "\n"
    upload = _upload(client, auth, csv_text)
    finished = _wait_for(client, auth, upload["id"])
    assert (
        finished["status"],
        finished["totalRows"],
        finished["succeeded"],
        finished["failed"],
    ) == ("completed", 4, 1, 3)
    errors = client.get(
        f"/divoc/api/v1/certify/uploads/{upload['id']}/errors", headers=auth(ISSUER)
    ).json()
    by_row = {e["row"]: e for e in errors}
    assert set(by_row) == {3, 4, 5}
    assert by_row[3]["errors"][0]["field"] == "vaccinationDose"
    assert by_row[4]["errors"][0]["field"] == "recipientMobileNumber"
    assert "already exists" in by_row[5]["errors"][0]["message"]
    # Another user cannot read these errors.
    other = client.get(
        f"/divoc/api/v1/certify/uploads/{upload['id']}/errors",
        headers=auth(ISSUER, username="facility-2"),
    )
    assert other.status_code == 404


@pytest.mark.parametrize("path", ["/divoc/api/v1/bulkCertify", "/divoc/api/v1/test/bulkCertify"])
def test_an_over_long_cell_fails_its_row_and_the_rest_goes_on(
    client: TestClient, auth: TokenFactory, testdata: Path, path: str
) -> None:
    # Python's CSV reader refuses a field over 131,072 characters; that used to be a 500 (or
    # an upload "failed" with no errors). Now it is that row's error, named to the uploader.
    test = path.startswith("/divoc/api/v1/test")
    header = (testdata / f"divoc/bulk-{'test-' if test else ''}certify-header.csv").read_text()
    good = (
        "L100,Asha,9880414889,1990-01-02,Female,Indian,,L1,,Dist,State,560001,TB1,COVID-19,"
        "CoviSelf,RAT,Negative,2021-06-01T09:30:00Z,Mylab,2021-06-01T08:00:00Z,Nasal,"
        "Lab Officer,Lab,F1,,FD,FS,560002"
        if test
        else "B100,Asha,9880414889,1990-01-02,,Female,Indian,,L1,,Dist,State,560001,B1,"
        "2021-05-02T10:00:00Z,1,2,2021-05-02,2022-05-02,SII,Covishield,Dr A,PHC,F1,,FD,FS,560002"
    )
    long_row = good.replace("Asha", "A" * 200_000).replace("00,", "01,", 1)
    later = good.replace("100,", "102,", 1)
    upload = _upload(client, auth, "\n".join([header.strip(), long_row, later]) + "\n", path)
    finished = _wait_for(client, auth, upload["id"])
    assert (finished["status"], finished["succeeded"], finished["failed"]) == ("completed", 1, 1)
    errors = client.get(
        f"/divoc/api/v1/certify/uploads/{upload['id']}/errors", headers=auth(ISSUER)
    ).json()
    assert [(e["row"], e["errors"]) for e in errors] == [
        (2, [{"field": "row", "message": "a cell is longer than 131,072 characters"}])
    ]


def test_an_over_long_header_is_400(client: TestClient, auth: TokenFactory) -> None:
    response = client.post(
        "/divoc/api/v1/bulkCertify",
        files={"file": ("x.csv", b"preEnrollmentCode," + b"x" * 200_000 + b"\nA,B\n", "text/csv")},
        headers=auth(ISSUER),
    )
    assert response.status_code == 400
    assert "a cell is longer than 131,072 characters" in response.json()["extra"]


def test_bulk_csv_with_missing_columns_is_400(client: TestClient, auth: TokenFactory) -> None:
    response = client.post(
        "/divoc/api/v1/bulkCertify",
        files={"file": ("x.csv", b"preEnrollmentCode,recipientName\nA,B\n", "text/csv")},
        headers=auth(ISSUER),
    )
    assert response.status_code == 400
    assert any(e["field"] == "header.recipientDOB" for e in response.json()["errors"])


def test_bulk_test_csv(client: TestClient, auth: TokenFactory, testdata: Path) -> None:
    header = (testdata / "divoc/bulk-test-certify-header.csv").read_text().strip()
    row = (
        "L100,Asha,9880414889,1990-01-02,Female,Indian,,L1,,Dist,State,560001,TB1,COVID-19,"
        "CoviSelf,RAT,Negative,2021-06-01T09:30:00Z,Mylab,2021-06-01T08:00:00Z,Nasal,"
        "Lab Officer,Lab,F1,,FD,FS,560002"
    )
    upload = _upload(client, auth, f"{header}\n{row}\n", "/divoc/api/v1/test/bulkCertify")
    finished = _wait_for(client, auth, upload["id"])
    assert (finished["succeeded"], finished["failed"]) == (1, 0)


def test_openapi_documents_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/divoc/api/v1/certify",
        "/divoc/api/v1/test/certify",
        "/divoc/api/v1/certificate",
        "/divoc/api/v1/certificates/{preEnrollmentCode}",
        "/divoc/api/v1/certificates/{certificateId}",
        "/divoc/api/v1/certificate/revoked",
        "/divoc/api/v1/bulkCertify",
        "/divoc/api/v1/certify/uploads",
        "/divoc/api/v1/certify/uploads/{uploadId}/errors",
        "/healthz",
        "/readyz",
    ):
        assert path in paths


def test_a_formula_in_a_bulk_row_is_that_rows_error_and_the_report_is_inert(
    client: TestClient, auth: TokenFactory, testdata: Path
) -> None:
    header = (testdata / "divoc/bulk-certify-header.csv").read_text().strip()
    good = (
        "B200,Asha,9880414889,1990-01-02,,Female,Indian,,L1,,Dist,State,560001,B1,"
        "2021-05-02T10:00:00Z,1,2,2021-05-02,2022-05-02,SII,Covishield,Dr A,PHC,F1,,FD,FS,560002"
    )
    formula = good.replace("B200", "B201").replace(
        ",Asha,", ',"=HYPERLINK(""http://evil.example/"",""x"")",'
    )
    upload = _upload(client, auth, "\n".join([header, good, formula]) + "\n")
    finished = _wait_for(client, auth, upload["id"])
    assert (finished["succeeded"], finished["failed"]) == (1, 1)
    [row] = client.get(
        f"/divoc/api/v1/certify/uploads/{upload['id']}/errors", headers=auth(ISSUER)
    ).json()
    assert row["row"] == 3
    assert row["errors"][0]["field"] == "recipientName"
    assert "formula" in row["errors"][0]["message"]
    report = client.get(
        f"/divoc/api/v1/certify/uploads/{upload['id']}/errors.csv", headers=auth(ISSUER)
    )
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    assert "attachment" in report.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(report.text)))
    assert lines[0] == ["row", "preEnrollmentCode", "field", "message"]
    assert lines[1][:3] == ["3", "B201", "recipientName"]
    other = client.get(
        f"/divoc/api/v1/certify/uploads/{upload['id']}/errors.csv",
        headers=auth(ISSUER, username="facility-2"),
    )
    assert other.status_code == 404


def test_the_error_report_neutralises_every_cell_a_spreadsheet_would_run() -> None:
    errors = [
        UploadRowError(
            upload_id="u",
            row=7,
            pre_enrollment_code="-1+1",
            errors=(FieldError("=cmd", "@SUM(1)"), FieldError("name", "\tx")),
        )
    ]
    lines = list(csv.reader(io.StringIO(errors_csv(errors))))
    assert lines[1] == ["7", "'-1+1", "'=cmd", "'@SUM(1)"]
    assert lines[2] == ["7", "'-1+1", "name", "'\tx"]
