"""``GET /metrics``: closed unless an operator token is configured, then every series the
service documents (docs/operations.md), with the counts the requests made."""

from __future__ import annotations

import re
from contextlib import closing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.clients import ClientFactory, bearer, client_for
from tests.support.portal import NEIGHBOUR, csrf_of, outbox_reader, wait_for_code
from tests.support.request_bodies import vaccination_request_body
from tests.support.services import ServicesFactory

TOKEN = "operator-metrics-token-0123456789"
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}


def _value(text: str, series: str) -> float:
    """The value of one sample (``name{labels}`` exactly as exposed)."""
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert found is not None, f"{series} not in the exposition"
    return float(found.group(1))


def test_metrics_are_absent_without_a_token_configured(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=SCRAPE).status_code == 404


def test_metrics_need_the_operator_token(make_client: ClientFactory) -> None:
    client, _ = make_client(metrics={"token": TOKEN})
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
    answer = client.get("/metrics", headers=SCRAPE)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")


def test_a_short_token_is_refused(make_client: ClientFactory) -> None:
    with pytest.raises(ValueError, match="at least 16 characters"):
        make_client(metrics={"token": "short"})


def test_every_series_after_issuance_a_download_and_a_login(make_client: ClientFactory) -> None:
    client, services = make_client(metrics={"token": TOKEN}, portal={"otp_sends_per_phone": 1})
    issuer = bearer(services, "certificate-issuer", "certificate-api")
    body = vaccination_request_body("MET0001", mobile=NEIGHBOUR)
    assert client.post("/divoc/api/v1/certify", json=[body], headers=issuer).status_code == 200
    pdf = client.get("/certificate/api/certificatePDF/MET0001", headers=issuer)
    assert pdf.status_code == 200
    # A one-time code sent, a wrong guess, then a second send over the limit of one.
    csrf = csrf_of(client.get("/portal/login").text)
    client.post("/portal/login", data={"mobile": NEIGHBOUR, "csrf_token": csrf})
    wait_for_code(outbox_reader(services.messaging.dev_inbox), NEIGHBOUR)
    client.post("/portal/verify", data={"code": "000000", "csrf_token": csrf})
    client.post("/portal/login", data={"mobile": NEIGHBOUR, "csrf_token": csrf})

    text = client.get("/metrics", headers=SCRAPE).text

    route = "/certificate/api/certificatePDF/{preEnrollmentCode}"
    assert (
        _value(text, f'certdist_http_requests_total{{method="GET",route="{route}",status="200"}}')
        == 1
    )
    assert (
        _value(
            text, f'certdist_http_request_duration_seconds_count{{method="GET",route="{route}"}}'
        )
        == 1
    )
    assert 'route="/certificate/api/certificatePDF/MET0001"' not in text  # templates only
    issued = 'certdist_certificates_issued_total{entity_type="VaccinationCertificate"}'
    assert _value(text, issued) == 1
    assert _value(text, 'certdist_downloads_total{format="pdf"}') == 1
    assert _value(text, "certdist_otp_sends_total") == 1
    assert _value(text, 'certdist_otp_failures_total{reason="wrong_code"}') == 1
    assert _value(text, 'certdist_otp_lockouts_total{action="send"}') == 1
    assert _value(text, "certdist_replica_fallbacks_total") == 0
    # The issuance notification waits in the outbox (no worker runs in this test).
    assert _value(text, "certdist_outbox_depth") >= 1
    assert _value(text, "certdist_outbox_oldest_age_seconds") >= 0
    assert _value(text, "certdist_db_pool_size") >= 1
    assert _value(text, "certdist_db_pool_in_use") >= 0


@pytest.mark.postgres
def test_reads_a_standby_cannot_answer_count_as_replica_fallbacks(
    tmp_path: Path, postgresql_module_database_url: str
) -> None:
    # The primary's own database as its "standby": it has every row, so only the unknown
    # beneficiary (a miss) is asked of the primary: twice, as a download that finds nothing
    # is read by the fast path (web/fast_reads.py) and again by the router that answers 404.
    with closing(ServicesFactory(tmp_path / "data", postgresql_module_database_url)) as factory:
        services = factory(
            database_replica_url=postgresql_module_database_url, metrics={"token": TOKEN}
        )
        with client_for(services) as client:
            issuer = bearer(services, "certificate-issuer", "certificate-api")
            body = vaccination_request_body("MET0002")
            answer = client.post("/divoc/api/v1/certify", json=[body], headers=issuer)
            assert answer.status_code == 200
            pdf = "/certificate/api/certificatePDF/"
            assert client.get(pdf + "MET0002", headers=issuer).status_code == 200
            assert client.get(pdf + "MET0404", headers=issuer).status_code == 404
            text = client.get("/metrics", headers=SCRAPE).text
    assert _value(text, "certdist_replica_fallbacks_total") == 2
