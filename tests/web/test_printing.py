"""The print-jobs API: queue, follow, download; owner only; roles; bad input."""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from typing import Any

import pytest
from fastapi.testclient import TestClient

from certdist.config import PrintSettings, Settings
from certdist.domain.requests import CertificationRequest
from certdist.wiring import Services
from tests.support.clients import ClientFactory, TokenFactory, bearer
from tests.support.request_bodies import vaccination_request_body
from tests.support.services import ServicesFactory

JOBS = "/certificate/api/print-jobs"
PRINT = "facility-print"
FACILITY = "ABC Medical Center"  # tests/support/request_bodies.py
DAY = "2021-05-02"


@pytest.fixture
def settings(make_services: ServicesFactory) -> Settings:
    # Jobs run when a test says so (run_next_job), not in the server's background thread.
    return make_services.settings(
        printing=PrintSettings(batch_run_in_server=False, batch_max_codes=50)
    )


def _issue(services: Services, *codes: str) -> None:
    services.issuance.certificates.certify(
        [CertificationRequest.model_validate(vaccination_request_body(code)) for code in codes]
    )


def _pdf_pages(content: bytes) -> int:
    import pypdf

    return len(pypdf.PdfReader(io.BytesIO(content), strict=True).pages)


def test_a_job_is_queued_followed_and_downloaded_by_its_owner(
    client: TestClient, services: Services, auth: TokenFactory
) -> None:
    _issue(services, "BEN-1", "BEN-2")
    headers = auth(PRINT, username="print-centre")
    created = client.post(
        JOBS, json={"codes": ["BEN-2", "NOBODY", "BEN-1"], "format": "pdf"}, headers=headers
    )
    assert created.status_code == 202, created.text
    job = created.json()
    assert created.headers["location"] == f"{JOBS}/{job['id']}"
    assert (job["status"], job["done"], job["total"], job["output"]) == ("queued", 0, 3, None)
    early = client.get(f"{JOBS}/{job['id']}/output", headers=headers)
    assert early.status_code == 409

    assert services.facility.printing.run_next_job()
    status = client.get(created.headers["location"], headers=headers)
    assert status.status_code == 200
    body = status.json()
    assert (body["status"], body["done"], body["total"], body["unknown"]) == (
        "succeeded",
        3,
        3,
        ["NOBODY"],
    )
    output = client.get(body["output"], headers=headers)
    assert output.status_code == 200
    assert output.headers["content-type"] == "application/pdf"
    assert f"certificates-{job['id']}.pdf" in output.headers["content-disposition"]
    assert _pdf_pages(output.content) == 2


def test_facility_day_as_a_zip(client: TestClient, services: Services, auth: TokenFactory) -> None:
    _issue(services, "BEN-1", "BEN-2", "BEN-3")
    headers = auth(PRINT)
    created = client.post(
        JOBS, json={"facility": FACILITY, "date": DAY, "format": "zip"}, headers=headers
    )
    assert created.status_code == 202, created.text
    assert services.facility.printing.run_next_job()
    body = client.get(created.headers["location"], headers=headers).json()
    assert (body["status"], body["done"], body["total"]) == ("succeeded", 3, 3)
    output = client.get(body["output"], headers=headers)
    assert output.headers["content-type"] == "application/zip"
    assert len(zipfile.ZipFile(io.BytesIO(output.content)).namelist()) == 3


def test_another_user_sees_a_job_as_missing(
    client: TestClient, services: Services, auth: TokenFactory
) -> None:
    _issue(services, "BEN-1")
    created = client.post(JOBS, json={"codes": ["BEN-1"]}, headers=auth(PRINT, username="a"))
    assert services.facility.printing.run_next_job()
    other = auth(PRINT, username="b")
    location = created.headers["location"]
    missing = client.get(f"{JOBS}/{uuid.uuid4()}", headers=other)
    assert missing.status_code == 404

    def shown(response: Any) -> dict[str, Any]:
        return {k: v for k, v in response.json().items() if k != "date"}

    # Indistinguishable from a job that does not exist.
    assert shown(client.get(location, headers=other)) == shown(missing)
    assert client.get(location, headers=other).status_code == 404
    assert client.get(f"{location}/output", headers=other).status_code == 404
    assert client.get(location, headers=auth(PRINT, username="a")).status_code == 200


def test_print_role_is_required(client: TestClient, auth: TokenFactory) -> None:
    body = {"codes": ["BEN-1"]}
    assert client.post(JOBS, json=body).status_code == 401
    assert client.post(JOBS, json=body, headers=auth("certificate-api")).status_code == 403
    assert client.get(f"{JOBS}/{uuid.uuid4()}", headers=auth("recipient")).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"facility": FACILITY, "date": DAY, "codes": ["BEN-1"]}, None),
        ({"facility": FACILITY}, "date"),
        ({"facility": FACILITY, "date": "02-05-2021"}, "date"),
        ({"codes": ["BEN-1", "no spaces allowed"]}, "codes.1"),
        ({"codes": []}, "codes"),
        ({"codes": [f"B{i}" for i in range(51)]}, "codes"),
        ({"codes": ["BEN-1"], "format": "docx"}, "format"),
        ({"codes": ["BEN-1"], "colour": "red"}, "colour"),
        ([], None),
    ],
)
def test_bad_requests_are_400_naming_the_field(
    client: TestClient, auth: TokenFactory, body: Any, field: str | None
) -> None:
    response = client.post(JOBS, json=body, headers=auth(PRINT))
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["type"] == "invalid-input"
    if field is not None:
        assert field in {error["field"] for error in answer["errors"]}


def test_a_malformed_job_id_is_400(client: TestClient, auth: TokenFactory) -> None:
    assert client.get(f"{JOBS}/not-a-job", headers=auth(PRINT)).status_code == 400


@pytest.fixture
def background_client(make_client: ClientFactory) -> tuple[TestClient, Services]:
    return make_client(printing=PrintSettings(batch_poll_seconds=0.2))


def test_the_server_runs_jobs_in_the_background(
    background_client: tuple[TestClient, Services],
) -> None:
    client, services = background_client
    _issue(services, "BEN-1")
    headers = bearer(services, PRINT, username="bg")
    created = client.post(JOBS, json={"codes": ["BEN-1"]}, headers=headers)
    assert created.status_code == 202
    deadline = time.monotonic() + 30
    status = created.json()["status"]
    while status != "succeeded" and time.monotonic() < deadline:
        time.sleep(0.1)
        status = client.get(created.headers["location"], headers=headers).json()["status"]
    assert status == "succeeded"
    output = client.get(f"{created.headers['location']}/output", headers=headers)
    assert _pdf_pages(output.content) == 1
