"""``GET /metrics``: closed unless an operator token is configured, then every series the
service documents (docs/operations.md), with the counts the requests made."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.support.clients import ClientFactory, bearer
from tests.support.loopback import free_port
from tests.support.portal import NEIGHBOUR, csrf_of, outbox_reader, wait_for_code
from tests.support.request_bodies import vaccination_request_body

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


def test_certdist_serve_sums_the_counts_of_its_worker_processes(tmp_path: Path) -> None:
    """``certdist serve --workers 2``: whichever worker answers the scrape reports every
    request the workers answered (each keeps its counters in files of its own)."""
    data, port = tmp_path / "data", free_port()
    env = {
        **os.environ,
        "CERTDIST_DATA_DIR": str(data),
        "CERTDIST_METRICS__TOKEN": TOKEN,
        "CERTDIST_ACCESS_LOG": "false",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "certdist.cli", "serve", "--workers", "2", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(server, url)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: httpx.get(f"{url}/healthz", timeout=30), range(32)))
        assert {a.status_code for a in answers} == {200}
        sent = len(answers)
        # The counters are in the folder serve prepared, one file per worker that answered.
        # Which workers answer is the kernel's choice (tests/services/common/test_metrics.py
        # sums two processes for certain); whichever answers the scrape reads all the files.
        assert list((data / "metrics").glob("counter_*.db"))
        for _ in range(3):  # any worker may answer: every answer has the sum
            text = httpx.get(f"{url}/metrics", headers=SCRAPE, timeout=10).text
            series = 'certdist_http_requests_total{method="GET",route="/healthz",status="200"}'
            assert _value(text, series) == sent
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_for(server: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            assert server.stderr is not None
            raise AssertionError(f"server exited: {server.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not start within 90 s")
