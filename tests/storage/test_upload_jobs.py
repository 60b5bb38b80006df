"""SqlUploadJobRepository, run on SQLite and on PostgreSQL (via the ``database`` fixture):
claims, leases, the cursor stored with the totals and row errors, and the job's end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certdist.domain.models import VACCINATION, Upload, UploadJob, UploadRowError, UploadStatus
from certdist.errors import Conflict, FieldError
from certdist.storage.database import Database
from certdist.storage.upload_jobs import SqlUploadJobRepository

T0 = datetime(2021, 6, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=10)
CSV = b"preEnrollmentCode\nA1\n"


@pytest.fixture
def jobs(database: Database) -> SqlUploadJobRepository:
    return database.upload_jobs()


def _open(jobs: SqlUploadJobRepository, upload_id: str = "u1", worker: str = "w1") -> UploadJob:
    upload = Upload(upload_id, "b.csv", VACCINATION, "facility-1", T0, UploadStatus.PROCESSING)
    return jobs.open(
        upload,
        program_id="P1",
        csv=CSV,
        total_rows=1,
        worker=worker,
        lease_expires_at=T0 + LEASE,
    )


def _error(row: int) -> UploadRowError:
    return UploadRowError("u1", row, f"C{row}", (FieldError("row", "bad"),))


def test_open_stores_the_upload_and_its_job_held_by_the_opener(
    jobs: SqlUploadJobRepository, database: Database
) -> None:
    job = _open(jobs)
    assert (job.csv, job.program_id, job.next_record, job.attempts, job.claimed_by) == (
        CSV,
        "P1",
        0,
        1,
        "w1",
    )
    assert job.lease_expires_at == T0 + LEASE
    assert database.uploads().get("u1") == job.upload
    with pytest.raises(Conflict):
        _open(jobs)


def test_only_an_expired_lease_is_claimed_and_by_one_worker(jobs: SqlUploadJobRepository) -> None:
    _open(jobs)
    before = T0 + LEASE - timedelta(seconds=1)
    assert jobs.claim_expired("w2", now=before, lease_expires_at=before, max_attempts=3) is None
    after = T0 + LEASE + timedelta(seconds=1)
    claimed = jobs.claim_expired("w2", now=after, lease_expires_at=after + LEASE, max_attempts=3)
    assert claimed is not None
    assert (claimed.claimed_by, claimed.attempts, claimed.lease_expires_at) == (
        "w2",
        2,
        after + LEASE,
    )
    assert jobs.claim_expired("w3", now=after, lease_expires_at=after, max_attempts=3) is None


def test_advance_stores_cursor_totals_and_errors_only_for_the_holder(
    jobs: SqlUploadJobRepository, database: Database
) -> None:
    job = _open(jobs)
    now = T0 + timedelta(minutes=1)
    assert jobs.advance(
        job,
        next_record=100,
        succeeded=98,
        failed=2,
        errors=[_error(5), _error(7)],
        now=now,
        lease_expires_at=now + LEASE,
    )
    stored = jobs.get("u1")
    assert stored is not None
    assert (stored.next_record, stored.lease_expires_at) == (100, now + LEASE)
    assert (stored.upload.succeeded, stored.upload.failed) == (98, 2)
    assert [e.row for e in database.uploads().errors("u1")] == [5, 7]

    # Taken over by w2 once the lease expired: w1's writes change nothing.
    later = now + LEASE + timedelta(seconds=1)
    assert jobs.claim_expired("w2", now=later, lease_expires_at=later + LEASE, max_attempts=3)
    assert not jobs.advance(
        job,
        next_record=200,
        succeeded=198,
        failed=3,
        errors=[_error(150)],
        now=later,
        lease_expires_at=later + LEASE,
    )
    assert not jobs.complete(job, succeeded=1, failed=0, errors=(), now=later)
    assert not jobs.let_go(job, now=later, counts_as_attempt=True)
    stored = jobs.get("u1")
    assert stored is not None
    assert stored.next_record == 100
    assert [e.row for e in database.uploads().errors("u1")] == [5, 7]


def test_complete_ends_the_upload_and_drops_the_csv(
    jobs: SqlUploadJobRepository, database: Database
) -> None:
    job = _open(jobs)
    now = T0 + timedelta(minutes=1)
    assert jobs.complete(job, succeeded=0, failed=1, errors=[_error(2)], now=now)
    assert jobs.get("u1") is None
    upload = database.uploads().get("u1")
    assert upload is not None
    assert (upload.status, upload.total_rows, upload.failed, upload.finished_at) == (
        UploadStatus.COMPLETED,
        1,
        1,
        now,
    )


def test_let_go_makes_the_job_claimable_now_counting_the_attempt_or_not(
    jobs: SqlUploadJobRepository,
) -> None:
    job = _open(jobs)
    assert jobs.let_go(job, now=T0, counts_as_attempt=False)  # a graceful stop
    now = T0 + timedelta(seconds=1)
    again = jobs.claim_expired("w2", now=now, lease_expires_at=now + LEASE, max_attempts=3)
    assert again is not None
    assert again.attempts == 1
    assert jobs.let_go(again, now=now, counts_as_attempt=True)  # an error
    later = now + timedelta(seconds=1)
    third = jobs.claim_expired("w3", now=later, lease_expires_at=later + LEASE, max_attempts=3)
    assert third is not None
    assert third.attempts == 2


def test_jobs_out_of_attempts_are_failed_with_the_reason(
    jobs: SqlUploadJobRepository, database: Database
) -> None:
    _open(jobs, "u1")
    _open(jobs, "u2")
    now = T0 + LEASE + timedelta(seconds=1)
    assert jobs.claim_expired("w2", now=now, lease_expires_at=now, max_attempts=3) is not None
    later = now + timedelta(seconds=1)
    # u1 (or u2) had 2 attempts, the other 1: only the one with 2 is out of attempts.
    failed = jobs.fail_exhausted(now=later, max_attempts=2, reason="stopped twice")
    assert len(failed) == 1
    [gone] = failed
    assert jobs.get(gone) is None
    upload = database.uploads().get(gone)
    assert upload is not None
    assert upload.status is UploadStatus.FAILED
    [error] = database.uploads().errors(gone)
    assert (error.row, error.errors) == (0, (FieldError("upload", "stopped twice"),))
    assert jobs.fail_exhausted(now=later, max_attempts=2, reason="stopped twice") == []
