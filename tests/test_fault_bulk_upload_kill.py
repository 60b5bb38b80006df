"""Fault test: the server SIGKILLed in the middle of a bulk CSV upload (issue #16, test 5).

A bulk upload is a leased job: the CSV is stored with the upload, and the server that
received it issues its rows a chunk of 100 at a time, storing the cursor and totals after
each chunk and renewing its lease. The fault is the whole ``certdist serve`` process group
killed half-way. What must hold, without uploading the file again: once the lease expires, a
``certdist worker`` claims the same upload and resumes it from its cursor; it ends
``completed`` with every beneficiary issued exactly once, the totals right, no row errors,
and nothing left ``processing`` (its stored CSV dropped).
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
from tests.support.cli import Cli, worker_process
from tests.support.loopback import free_port
from tests.support.request_bodies import bulk_vaccination_csv

ROWS = 600
LEASE_SECONDS = 20
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
        assert process.poll() is None, f"the process exited:\n{log.read_text()}"
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


def test_a_bulk_upload_cut_short_by_a_kill_is_resumed_by_a_worker_and_issues_each_row_once(
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
        # Far longer than a chunk of 100 rows takes on a busy machine, much shorter than the
        # default; the worker looks for expired leases every second.
        "CERTDIST_BULK_STALE_AFTER_SECONDS": str(LEASE_SECONDS),
        "CERTDIST_BULK_POLL_SECONDS": "1",
        "CERTDIST_MAIL__NOTIFY_ON_ISSUE": "false",
        "CERTDIST_LOG_LEVEL": "INFO",
    }
    log = tmp_path / "server.log"
    data = bulk_vaccination_csv([f"BULKKILL{n:04d}" for n in range(ROWS)])

    def listed(upload_id: str) -> dict[str, Any]:
        listing: list[dict[str, Any]] = api.get(UPLOADS).json()
        [found] = [u for u in listing if u["id"] == upload_id]
        return found

    with api, server(env, port, log) as first:
        response = api.post("/divoc/api/v1/bulkCertify", files={"file": ("b.csv", data)})
        assert response.status_code == 200, response.text
        cut: dict[str, Any] = response.json()
        assert cut["status"] == UploadStatus.PROCESSING.value
        # Kill once some chunks are committed (the totals are stored with each cursor).
        wait_until(lambda: listed(cut["id"])["succeeded"] >= 100, "a chunk issued", first, log)
        os.killpg(first.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        first.wait(timeout=15)
    issued_before = sum(certificate_counts(database).values())
    assert 100 <= issued_before < ROWS, "the upload was not cut short: make it larger"
    job = database.upload_jobs().get(cut["id"])
    assert job is not None  # the CSV and the cursor outlive the server…
    assert (job.upload.status, job.attempts) == (UploadStatus.PROCESSING, 1)
    assert 100 <= job.next_record < ROWS

    def finished() -> bool:
        upload = database.uploads().get(cut["id"])
        return upload is not None and upload.status is not UploadStatus.PROCESSING

    with worker_process(env, log) as worker:  # …and a worker resumes it once the lease expires
        wait_until(finished, "the upload resumed and finished by the worker", worker, log)
    assert time.monotonic() - killed_at >= LEASE_SECONDS - 1

    done = database.uploads().get(cut["id"])
    assert done is not None
    assert (done.status, done.total_rows, done.succeeded, done.failed) == (
        UploadStatus.COMPLETED,
        ROWS,
        ROWS,
        0,
    )
    assert database.uploads().errors(cut["id"]) == []
    assert database.upload_jobs().get(cut["id"]) is None
    assert [u.id for u in database.uploads().list()] == [cut["id"]]  # never uploaded again
    counts = certificate_counts(database)
    assert counts == {f"BULKKILL{n:04d}": 1 for n in range(ROWS)}
    assert "resumed at record" in log.read_text()
