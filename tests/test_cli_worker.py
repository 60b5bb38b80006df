"""``certdist worker``: one pass with --once, and the loop that stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from fastapi.testclient import TestClient

from certdist.config import MailSettings
from certdist.domain.models import VACCINATION, UploadStatus
from certdist.domain.roles import Principal
from certdist.services.common.clock import FixedClock
from certdist.services.facility.printing import BatchFormat, BeneficiaryList
from certdist.services.messaging.outbox import embedded_worker_enabled
from certdist.web.app import create_app
from tests.support.cli import Cli
from tests.support.request_bodies import bulk_vaccination_csv, vaccination_request_body
from tests.support.services import ServicesFactory

MAILTO = "mailto:asha@example.org"


def issue_with_mail_contact(run: Cli, tmp_path: Path, code: str) -> None:
    body = vaccination_request_body(code)
    body["recipient"]["contact"].append(MAILTO)
    requests = tmp_path / f"{code}.json"
    requests.write_text(json.dumps([body]))
    result = run("issue", str(requests))
    assert result.exit_code == 0, result.output


def mail_files(data_dir: Path) -> list[Path]:
    folder = data_dir / "mail"
    return sorted(folder.glob("*.eml")) if folder.is_dir() else []


def test_worker_once_sends_what_is_due(tmp_path: Path, migrated_database_url: str) -> None:
    run = Cli(tmp_path / "data", migrated_database_url)
    issue_with_mail_contact(run, tmp_path, "CLIW0001")
    result = run("worker", "--once")
    assert result.exit_code == 0, result.output
    assert "messages attempted: 2" in result.output  # one SMS, one mail
    [eml] = mail_files(tmp_path / "data")
    parsed = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert parsed["To"] == "asha@example.org"
    assert parsed["Subject"] == "Your vaccination certificate is ready"
    assert "messages attempted: 0" in run("worker", "--once").output


def test_worker_runs_until_sigterm(tmp_path: Path, migrated_database_url: str) -> None:
    run = Cli(tmp_path / "data", migrated_database_url)
    issue_with_mail_contact(run, tmp_path, "CLIW0002")
    env = {
        **os.environ,
        **run.env,
        "CERTDIST_MAIL__WORKER_POLL_SECONDS": "0.1",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "certdist.cli", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not mail_files(tmp_path / "data") and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[0]
            time.sleep(0.1)
        assert mail_files(tmp_path / "data"), "the worker sent nothing"
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "outbox worker stopped" in output


def test_the_server_process_runs_the_worker_when_embedded(
    tmp_path: Path, make_services: ServicesFactory
) -> None:
    settings = make_services.settings(mail=MailSettings(worker_poll_seconds=0.1))
    assert embedded_worker_enabled(settings.mail, production=False)
    assert not embedded_worker_enabled(settings.mail, production=True)
    assert not embedded_worker_enabled(MailSettings(embedded_worker=False), production=False)
    run = Cli(make_services.data_dir, make_services.database_url)
    issue_with_mail_contact(run, tmp_path, "CLIW0003")
    services = make_services(settings)
    with TestClient(create_app(settings, services=services, embedded_worker=True)):
        deadline = time.monotonic() + 20
        while not mail_files(tmp_path / "data") and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(mail_files(tmp_path / "data")) == 1


def test_worker_once_runs_queued_print_jobs(tmp_path: Path, make_services: ServicesFactory) -> None:
    run = Cli(make_services.data_dir, make_services.database_url)
    issue_with_mail_contact(run, tmp_path, "CLIW0003")
    services = make_services()
    staff = Principal("staff", "staff", frozenset({"facility-print"}))
    job = services.facility.printing.submit(
        staff, BeneficiaryList(codes=("CLIW0003",)), BatchFormat.PDF
    )
    result = run("worker", "--once")
    assert result.exit_code == 0, result.output
    assert "print jobs run: 1" in result.output
    output = services.facility.printing.output(job.id, staff)
    assert output.path.read_bytes().startswith(b"%PDF-")


def test_worker_once_resumes_a_bulk_upload_whose_process_died(
    make_services: ServicesFactory,
) -> None:
    run = Cli(make_services.data_dir, make_services.database_url)
    # Received an hour ago by a process that died at once: its lease (10 min) has expired.
    services = make_services(clock=FixedClock(datetime.now(UTC) - timedelta(hours=1)))
    upload = services.issuance.bulk.start(
        "b.csv", VACCINATION, "facility-1", bulk_vaccination_csv(["CLIW0004", "CLIW0005"])
    )
    result = run("worker", "--once")
    assert result.exit_code == 0, result.output
    assert "bulk uploads resumed: 1" in result.output
    done = services.database.uploads().get(upload.id)
    assert done is not None
    assert (done.status, done.succeeded, done.failed) == (UploadStatus.COMPLETED, 2, 0)
    assert "bulk uploads resumed: 0" in run("worker", "--once").output
