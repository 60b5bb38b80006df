"""Fault test: a worker SIGKILLed in the middle of a print job (issue #16, test 5).

A real ``certdist worker`` process renders a batch of a few hundred certificates; it is
killed once the job has reported progress, and a second worker process must take the job
over when its heartbeat is stale and finish it: one page per certificate (no page twice),
status ``succeeded``, no half-written file of the dead attempt left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pypdf import PdfReader

from certdist.domain.printing import PrintJob, PrintJobStatus
from certdist.domain.roles import Principal
from certdist.services.facility.printing import PROGRESS_EVERY, BatchFormat, BeneficiaryList
from certdist.wiring import Services
from tests.support.cli import Cli, worker_process
from tests.support.issuing import certify
from tests.support.request_bodies import vaccination_request_body
from tests.support.services import ServicesFactory

#: Enough certificates that the job reports progress a few times before it ends.
CERTIFICATES = 4 * PROGRESS_EVERY
DEADLINE_SECONDS = 120.0
STAFF = Principal("staff", "staff", frozenset({"facility-print"}))


def worker_env(run: Cli) -> dict[str, str]:
    """A heartbeat older than 2 s means the worker died (the default is 5 minutes)."""
    return {
        **os.environ,
        **run.env,
        "CERTDIST_PRINTING__BATCH_STALE_AFTER_SECONDS": "2",
        "CERTDIST_PRINTING__BATCH_POLL_SECONDS": "0.2",
        "CERTDIST_MAIL__WORKER_POLL_SECONDS": "0.5",
        "PYTHONUNBUFFERED": "1",
    }


def wait_for_job(
    services: Services,
    job_id: str,
    condition: Callable[[PrintJob], bool],
    what: str,
    process: subprocess.Popen[bytes],
    log: Path,
) -> PrintJob:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        job = services.facility.printing.job(job_id, STAFF)
        if condition(job):
            return job
        assert process.poll() is None, f"the worker exited:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"gave up waiting: {what} ({job})\n{log.read_text()}"
        time.sleep(0.05)


def test_a_print_job_whose_worker_is_killed_is_finished_by_another_once(
    tmp_path: Path, make_services: ServicesFactory
) -> None:
    services = make_services()
    codes = [f"PRINTKILL{n:04d}" for n in range(CERTIFICATES)]
    for start in range(0, len(codes), 100):
        certify(services, *(vaccination_request_body(c) for c in codes[start : start + 100]))
    job = services.facility.printing.submit(STAFF, BeneficiaryList(tuple(codes)), BatchFormat.PDF)
    run = Cli(make_services.data_dir, make_services.database_url)
    env = worker_env(run)
    log = tmp_path / "worker.log"
    prints = make_services.data_dir / "prints"

    with worker_process(env, log) as first:
        running = wait_for_job(
            services,
            job.id,
            lambda j: j.status is PrintJobStatus.RUNNING and j.done >= PROGRESS_EVERY,
            "the job half done",
            first,
            log,
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=15)
    assert running.done < CERTIFICATES, "the job ended before the kill: make it larger"
    abandoned = services.facility.printing.job(job.id, STAFF)
    assert abandoned.status is PrintJobStatus.RUNNING  # nobody is left to finish it…
    assert abandoned.attempts == 1
    assert list(prints.glob("*.part")), "the killed attempt left no partial file"

    with worker_process(env, log) as second:  # …until another worker sees it is stale
        finished = wait_for_job(
            services,
            job.id,
            lambda j: j.status not in (PrintJobStatus.QUEUED, PrintJobStatus.RUNNING),
            "the job finished by the second worker",
            second,
            log,
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0, log.read_text()

    assert finished.status is PrintJobStatus.SUCCEEDED, finished.error
    assert finished.attempts == 2
    assert (finished.done, finished.total, finished.unknown) == (CERTIFICATES, CERTIFICATES, ())
    output = services.facility.printing.output(job.id, STAFF)
    assert len(PdfReader(output.path).pages) == CERTIFICATES
    # The dead attempt's partial file is gone: only the finished output is in the folder.
    assert sorted(p.name for p in prints.iterdir()) == [output.path.name]
