"""The public URL of a development data folder: chosen once (``init`` or first use), stored in
``data/identity.toml``, named by every command and by the server on any port; configuration
wins over it and production never reads it."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from certdist.config import read_identity, store_identity
from certdist.web.app import app_from_environment
from tests.support.cli import Cli
from tests.support.request_bodies import vaccination_request_body
from tests.support.services import ServicesFactory

DEFAULT = "http://127.0.0.1:8000"


@pytest.fixture
def run(make_services: ServicesFactory, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``certdist`` on a fresh data folder. ``serve`` and ``--config`` hand settings to the
    server's workers through the environment: registered here so that the test restores it."""
    for name in ("CERTDIST_HOST", "CERTDIST_PORT", "CERTDIST_PUBLIC_URL", "CERTDIST_CONFIG_FILE"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return Cli(make_services.data_dir, make_services.database_url)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[TestClient]]:
    """Instead of a server, the application its workers would build from the environment,
    held open for the test."""
    clients: list[TestClient] = []

    def fake_run(app: str, **options: object) -> None:
        client = TestClient(app_from_environment())
        client.__enter__()
        clients.append(client)

    monkeypatch.setattr("uvicorn.run", fake_run)
    yield clients
    for client in clients:
        client.__exit__(None, None, None)


def issue(run: Cli, tmp_path: Path, code: str) -> None:
    file = tmp_path / f"{code}.json"
    file.write_text(json.dumps([vaccination_request_body(code)]))
    result = run("issue", str(file))
    assert result.exit_code == 0, result.output


def export_card(run: Cli, code: str, extra_env: dict[str, str] | None = None) -> str:
    """The SMART Health Card of ``code`` as the CLI exports it (a compact JWS)."""
    result = run("export", "--format", "shc-file", code, extra_env=extra_env)
    assert result.exit_code == 0, result.output
    [jws] = json.loads(result.stdout_bytes)["verifiableCredential"]
    assert isinstance(jws, str)
    return jws


def issuer_of(jws: str) -> Any:
    payload = jws.split(".")[1]
    deflated = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return json.loads(zlib.decompress(deflated, -15))["iss"]


def web_verdict(client: TestClient, jws: str) -> Any:
    response = client.post("/verify", json={"payload": jws})
    assert response.status_code == 200, response.text
    return response.json()["status"]


def test_init_stores_the_identity_once(run: Cli, make_services: ServicesFactory) -> None:
    data_dir = make_services.data_dir
    first = run("init", extra_env={"CERTDIST_PORT": "8300"})
    assert first.exit_code == 0, first.output
    assert read_identity(data_dir) == "http://127.0.0.1:8300"
    assert "public URL: http://127.0.0.1:8300  (this data folder's" in first.output
    # Chosen once: another port later does not move it.
    again = run("init", extra_env={"CERTDIST_PORT": "8301"})
    assert "public URL: http://127.0.0.1:8300" in again.output
    assert read_identity(data_dir) == "http://127.0.0.1:8300"


def test_init_public_url_stores_a_new_one(run: Cli, make_services: ServicesFactory) -> None:
    assert run("init").exit_code == 0
    result = run("init", "--public-url", "http://192.168.1.5:8000/")
    assert result.exit_code == 0, result.output
    assert read_identity(make_services.data_dir) == "http://192.168.1.5:8000"
    assert "public URL: http://192.168.1.5:8000" in result.output
    bad = run("init", "--public-url", "ftp://example.org")
    assert bad.exit_code == 1
    assert "invalid public URL" in bad.output
    assert read_identity(make_services.data_dir) == "http://192.168.1.5:8000"


def test_the_identity_file_reads_back(tmp_path: Path) -> None:
    stored = store_identity(tmp_path / "new", ' http://example.org:81/a"b\\ ')
    assert read_identity(tmp_path / "new") == stored == 'http://example.org:81/a"b\\'
    assert read_identity(tmp_path / "absent") is None


def test_a_broken_identity_file_is_named(run: Cli, make_services: ServicesFactory) -> None:
    make_services.data_dir.mkdir(parents=True, exist_ok=True)
    (make_services.data_dir / "identity.toml").write_text('public_url = "nowhere"\n')
    result = run("keys", "public")
    assert result.exit_code == 1
    assert "identity.toml is not a valid identity file" in result.output


def test_serve_on_another_port_keeps_the_identity_of_export_and_verify(
    run: Cli, make_services: ServicesFactory, tmp_path: Path, served: list[TestClient]
) -> None:
    """The defect: a card the CLI calls valid was an unknown issuer to the server on 8123."""
    assert run("init").exit_code == 0
    issue(run, tmp_path, "IDN1")
    jws = export_card(run, "IDN1")
    assert issuer_of(jws) == DEFAULT

    result = run("serve", "--port", "8123")
    assert result.exit_code == 0, result.output
    assert f"public URL: {DEFAULT}  (this data folder's" in result.output
    assert "listens on port 8123" in result.output
    assert "--move-identity" in result.output
    [client] = served
    assert web_verdict(client, jws) == "valid"
    card = tmp_path / "card.smart-health-card"
    card.write_text(json.dumps({"verifiableCredential": [jws]}))
    assert run("verify", str(card)).exit_code == 0
    assert read_identity(make_services.data_dir) == DEFAULT


def test_serve_move_identity_makes_the_port_the_folders(
    run: Cli, make_services: ServicesFactory, tmp_path: Path, served: list[TestClient]
) -> None:
    assert run("init").exit_code == 0
    issue(run, tmp_path, "IDN2")
    result = run("serve", "--port", "8124", "--move-identity")
    assert result.exit_code == 0, result.output
    assert "public URL: http://127.0.0.1:8124  (this data folder's" in result.output
    assert "note:" not in result.output
    assert read_identity(make_services.data_dir) == "http://127.0.0.1:8124"
    jws = export_card(run, "IDN2")
    assert issuer_of(jws) == "http://127.0.0.1:8124"
    assert web_verdict(served[0], jws) == "valid"


def test_first_use_by_serve_fixes_the_identity_and_links_follow_it(
    run: Cli, make_services: ServicesFactory, served: list[TestClient]
) -> None:
    """``serve --demo`` on a fresh folder, no init: the demo SMS and later exports name the
    port it served, even when the next command runs without --port."""
    result = run("serve", "--demo", "--port", "8125")
    assert result.exit_code == 0, result.output
    assert read_identity(make_services.data_dir) == "http://127.0.0.1:8125"
    assert run("worker", "--once").exit_code == 0
    inbox = run("sms", "inbox")
    assert "http://127.0.0.1:8125/portal/certificates" in inbox.output
    assert DEFAULT not in inbox.output
    assert issuer_of(export_card(run, "DEMO0001")) == "http://127.0.0.1:8125"


def test_configuration_wins_over_the_stored_identity(
    run: Cli, tmp_path: Path, make_services: ServicesFactory, served: list[TestClient]
) -> None:
    assert run("init").exit_code == 0
    issue(run, tmp_path, "IDN3")
    from_env = {"CERTDIST_PUBLIC_URL": "https://certs.example"}
    assert issuer_of(export_card(run, "IDN3", from_env)) == "https://certs.example"
    config = tmp_path / "certdist.toml"
    config.write_text('public_url = "https://config.example"\n')
    result = run("--config", str(config), "export", "--format", "shc-file", "IDN3")
    assert result.exit_code == 0, result.output
    [jws] = json.loads(result.stdout_bytes)["verifiableCredential"]
    assert issuer_of(jws) == "https://config.example"

    refused = run("serve", "--port", "8126", "--move-identity", extra_env=from_env)
    assert refused.exit_code == 1
    assert "public_url is configured" in refused.output
    stored_over = run("init", "--public-url", "http://127.0.0.1:8127", extra_env=from_env)
    assert "the configured public_url wins" in stored_over.output
    assert read_identity(make_services.data_dir) == "http://127.0.0.1:8127"
    serving = run("serve", "--port", "8128", extra_env=from_env)
    assert "public URL: https://certs.example  (configured" in serving.output
    assert web_verdict(served[-1], export_card(run, "IDN3", from_env)) == "valid"


def test_production_never_reads_the_identity_file(run: Cli, make_services: ServicesFactory) -> None:
    store_identity(make_services.data_dir, "https://stored.example")
    result = run("init", extra_env={"CERTDIST_MODE": "production"})
    assert result.exit_code == 1
    assert "public_url must be https in production" in result.output
