"""Operations: readiness, logs without personal data, configuration safety."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from certdist.config import load_settings
from certdist.domain.roles import Permission
from certdist.errors import ConfigurationError
from certdist.observability import JsonFormatter
from certdist.services.common.clock import FixedClock
from certdist.services.messaging import WorkerHeartbeat
from certdist.storage import Database
from certdist.web.errors import STORAGE_RETRY_AFTER_SECONDS
from certdist.wiring import Services
from tests.support.clients import ClientFactory, TokenFactory, bearer, client_for
from tests.support.environment import REDIS_URL, redis_reachable, require
from tests.support.loopback import free_port
from tests.support.request_bodies import vaccination_request_body
from tests.support.services import ServicesFactory


def test_readyz_is_503_when_the_database_is_unreachable(services: Services) -> None:
    away = Database("postgresql://postgres@127.0.0.1:9/none", deadline_seconds=1)
    infrastructure = dataclasses.replace(services.infrastructure, database=away)
    services.operations = dataclasses.replace(services.operations, infrastructure=infrastructure)
    with client_for(services, raise_server_exceptions=False) as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "not ready"
    assert set(response.json()["checks"]) == {"database"}


def test_issuance_and_downloads_are_503_with_retry_after_while_the_database_is_away(
    make_sqlite_services: ServicesFactory,
) -> None:
    # A client that sees this waits and sends the same request again (docs/fleet.md).
    services = make_sqlite_services(
        database_url="postgresql://postgres@127.0.0.1:9/none",
        database_deadline_seconds=1,
        migrate=False,
    )
    token = bearer(services, "certificate-issuer", "certificate-api")
    with client_for(services, raise_server_exceptions=False) as client:
        issued = client.post(
            "/divoc/api/v1/certify", json=[vaccination_request_body("AWAY0001")], headers=token
        )
        downloaded = client.get("/certificate/api/certificatePDF/AWAY0001", headers=token)
    for response in (issued, downloaded):
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)


def test_logs_carry_no_personal_data(
    client: TestClient, auth: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    secret_name, code, mobile = "Sunita Kumari Verma", "PII00042", "9880412345"
    body = vaccination_request_body(code, name=secret_name, mobile=mobile)
    with caplog.at_level(logging.DEBUG):
        token = auth("certificate-issuer", "certificate-api")
        assert client.post("/divoc/api/v1/certify", json=[body], headers=token).status_code == 200
        assert client.post("/divoc/api/v1/certify", json=[body], headers=token).status_code == 409
        assert (
            client.get(f"/certificate/api/certificatePDF/{code}", headers=token).status_code == 200
        )
        client.get("/certificate/api/certificatePDF/NOSUCH1", headers=token)
    formatter = JsonFormatter()
    # httpx is the test's own client, not the service.
    ours = [record for record in caplog.records if not record.name.startswith("httpx")]
    lines = "\n".join(formatter.format(record) for record in ours)
    assert '"route": "/certificate/api/certificatePDF/{preEnrollmentCode}"' in lines
    for secret in (secret_name, code, mobile, token["Authorization"].split()[1], "NOSUCH1"):
        assert secret not in lines


def test_settings_from_a_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "certdist.toml"
    config.write_text(
        'public_url = "https://certs.example.gov"\nmax_batch_items = 7\n'
        '[roles]\nissue = ["hospital"]\n'
    )
    monkeypatch.setenv("CERTDIST_CONFIG_FILE", str(config))
    monkeypatch.setenv("CERTDIST_MAX_BATCH_ITEMS", "9")  # the environment wins over the file
    settings = load_settings()
    assert settings.public_url == "https://certs.example.gov"
    assert settings.max_batch_items == 9
    assert settings.roles_for(Permission.ISSUE) == ("hospital",)


def test_bad_settings_are_refused_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTDIST_MAX_BATCH_ITEMS", "zero")
    with pytest.raises(ConfigurationError, match="max_batch_items"):
        load_settings()


def test_json_log_lines_are_json() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
    record.route = "/healthz"
    assert json.loads(JsonFormatter().format(record))["route"] == "/healthz"


def test_readyz_needs_a_recent_worker_heartbeat_when_required(
    make_client: ClientFactory,
) -> None:
    client, services = make_client(
        readiness={"require_worker": True, "worker_heartbeat_max_age_seconds": 60}
    )
    never = client.get("/readyz")
    assert never.status_code == 503
    assert never.json()["checks"] == {"outbox_worker": "no heartbeat: no outbox worker has run"}
    an_hour_ago = FixedClock(datetime.now(UTC) - timedelta(hours=1))
    WorkerHeartbeat(services.state, an_hour_ago).beat()
    stale = client.get("/readyz")
    assert stale.status_code == 503
    assert stale.json()["checks"]["outbox_worker"].startswith("last heartbeat 3600 s ago")
    services.messaging.outbox_worker().run_once()  # a worker's loop beats
    assert client.get("/readyz").json() == {"status": "ready"}


def test_readyz_ignores_the_worker_unless_required(client: TestClient) -> None:
    assert client.get("/readyz").json() == {"status": "ready"}


def test_readyz_names_an_unreachable_redis(make_client: ClientFactory) -> None:
    client, _ = make_client(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert set(answer.json()["checks"]) == {"redis"}


def test_readyz_with_a_reachable_redis(make_client: ClientFactory) -> None:
    require(redis_reachable(), "Redis is not running on 127.0.0.1:6379")
    client, _ = make_client(redis_url=REDIS_URL)  # only pinged: nothing is written
    assert client.get("/readyz").json() == {"status": "ready"}
