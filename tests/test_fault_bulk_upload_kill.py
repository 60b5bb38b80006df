"""Fault test: the server SIGKILLed in the middle of a bulk CSV upload (issue #16, test 5).

Uploads are not durable jobs: the server that receives the file issues its rows in a
background task, a chunk of 100 rows per transaction. So the fault is the whole
``certdist serve`` process group killed half-way. What must hold: the interrupted upload does
not stay ``processing`` (its heartbeat stops and it is marked ``failed``), and uploading the
same file again gives every beneficiary exactly one certificate — the rows issued before the
kill are refused as duplicates, the others issued.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from certdist.domain.models import UploadStatus
from certdist.storage.database import Database
from certdist.storage.schema import certificates
from tests.support.cli import Cli
from tests.support.loopback import free_port
from tests.support.request_bodies import bulk_vaccination_csv

ROWS = 600
STALE_AFTER_SECONDS = 20
DEADLINE_SECONDS = 120.0
UPLOADS = "/divoc/api/v1/certify/uploads"


@contextmanager
def server(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``certdist serve`` in a session of its own, the whole group killed when done."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "certdist.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(lambda: ready(port), "the server ready", process, log)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(
    condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert process.poll() is None, f"the server exited:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"gave up waiting: {what}\n{log.read_text()}"
        time.sleep(0.1)


def api_client(port: int, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def certificate_counts(database: Database) -> dict[str, int]:
    statement = select(certificates.c.pre_enrollment_code, func.count()).group_by(
        certificates.c.pre_enrollment_code
    )
    with database.engine.connect() as connection:
        return {code: int(n) for code, n in connection.execute(statement)}


def test_a_bulk_upload_cut_short_by_a_kill_is_failed_and_its_re_upload_issues_each_row_once(
    tmp_path: Path, database: Database, migrated_database_url: str
) -> None:
    run = Cli(tmp_path / "data", migrated_database_url)
    assert run("init").exit_code == 0
    token = run("token", "--role", "certificate-issuer").output.strip()
    port = free_port()
    api = api_client(port, token)
    env = {
        **os.environ,
        **run.env,
        # Far longer than a chunk of 100 rows takes on a busy machine (the re-upload's first
        # chunk, all duplicates, is retried row by row), much shorter than the default.
        "CERTDIST_BULK_STALE_AFTER_SECONDS": str(STALE_AFTER_SECONDS),
        "CERTDIST_MAIL__NOTIFY_ON_ISSUE": "false",
        "CERTDIST_LOG_LEVEL": "INFO",
    }
    log = tmp_path / "server.log"
    data = bulk_vaccination_csv([f"BULKKILL{n:04d}" for n in range(ROWS)])

    def post() -> dict[str, Any]:
        response = api.post("/divoc/api/v1/bulkCertify", files={"file": ("b.csv", data)})
        assert response.status_code == 200, response.text
        upload: dict[str, Any] = response.json()
        return upload

    def listed(upload_id: str) -> dict[str, Any]:
        [found] = [u for u in api.get(UPLOADS).json() if u["id"] == upload_id]
        return found

    with api, server(env, port, log) as first:
        cut = post()
        # Kill once some chunks are committed (the heartbeat carries the running totals).
        wait_until(lambda: listed(cut["id"])["succeeded"] >= 100, "a chunk issued", first, log)
        os.killpg(first.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        first.wait(timeout=15)
    issued_before = sum(certificate_counts(database).values())
    assert 100 <= issued_before < ROWS, "the upload was not cut short: make it larger"
    stuck = database.uploads().get(cut["id"])
    assert stuck is not None
    assert stuck.status is UploadStatus.PROCESSING  # nobody is left to finish it…

    with api_client(port, token) as api, server(env, port, log) as second:
        # …and once its heartbeat is older than the limit, it is failed.
        wait_until(
            lambda: listed(cut["id"])["status"] == UploadStatus.FAILED.value,
            "the interrupted upload failed",
            second,
            log,
        )
        assert time.monotonic() - killed_at >= STALE_AFTER_SECONDS - 1
        again = post()
        wait_until(
            lambda: listed(again["id"])["status"] != UploadStatus.PROCESSING.value,
            "the second upload finished",
            second,
            log,
        )
        finished = listed(again["id"])
        errors = api.get(f"{UPLOADS}/{again['id']}/errors").json()

    assert finished["status"] == UploadStatus.COMPLETED.value
    assert (finished["succeeded"], finished["failed"]) == (ROWS - issued_before, issued_before)
    assert {e["errors"][0]["message"].split(";")[0] for e in errors} == {
        "a certificate already exists for this beneficiary, programme '' and dose 1"
    }
    counts = certificate_counts(database)
    assert counts == {f"BULKKILL{n:04d}": 1 for n in range(ROWS)}
