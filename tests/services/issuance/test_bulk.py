"""BulkIssuanceService: uploads as leased jobs — running totals, a process that dies and the
upload resumed by another from its cursor, rows never issued twice, too many attempts."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from certdist.domain.models import TEST, VACCINATION, Upload, UploadStatus
from certdist.domain.requests import CertificationRequest
from certdist.services.common.clock import FixedClock
from certdist.services.issuance.bulk import vaccination_row
from certdist.storage.schema import certificates
from certdist.wiring import Services
from tests.support.request_bodies import bulk_test_csv, bulk_vaccination_csv
from tests.support.services import ServicesFactory

T0 = datetime(2021, 6, 1, 12, 0, tzinfo=UTC)
LEASE_SECONDS = 60


class Killed(BaseException):
    """The process dies here: no ``except Exception`` clean-up runs."""


def codes(n: int, prefix: str = "BULKT") -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(n)]


def certificate_counts(services: Services) -> Counter[str]:
    statement = select(certificates.c.pre_enrollment_code)
    with services.database.engine.connect() as connection:
        return Counter(connection.execute(statement).scalars())


def two_processes(
    make_services: ServicesFactory, **fields: Any
) -> tuple[FixedClock, Services, Services]:
    """Two processes on one database (their own worker ids) and the clock they share."""
    clock = FixedClock(T0)
    settings: dict[str, Any] = {"bulk_stale_after_seconds": LEASE_SECONDS, **fields}
    return clock, make_services(clock=clock, **settings), make_services(clock=clock, **settings)


def start(services: Services, rows: int) -> Upload:
    """An upload of ``rows`` good rows, stored and held by ``services``' process."""
    return services.issuance.bulk.start(
        "b.csv", VACCINATION, "facility-1", bulk_vaccination_csv(codes(rows))
    )


def get(services: Services, upload: Upload) -> Upload:
    found = services.database.uploads().get(upload.id)
    assert found is not None
    return found


def test_totals_are_written_after_each_chunk_and_the_csv_dropped_at_the_end(
    make_services: ServicesFactory,
) -> None:
    services = make_services(clock=FixedClock(T0))
    bulk = services.issuance.bulk
    upload = bulk.start("b.csv", VACCINATION, "facility-1", bulk_vaccination_csv(codes(250)))
    assert services.database.upload_jobs().get(upload.id) is not None  # the CSV is stored
    stored: list[tuple[int, int]] = []

    def progress(done: int, failed: int) -> None:
        stored.append((done, get(services, upload).succeeded))

    finished = bulk.run(upload.id, progress=progress)
    assert stored == [(100, 100), (200, 200), (250, 250)]
    assert (finished.status, finished.total_rows, finished.succeeded, finished.failed) == (
        UploadStatus.COMPLETED,
        250,
        250,
        0,
    )
    assert services.database.upload_jobs().get(upload.id) is None
    assert certificate_counts(services) == Counter(codes(250))


def test_an_upload_whose_process_died_before_it_began_is_resumed_once_its_lease_expires(
    make_services: ServicesFactory,
) -> None:
    clock, first, second = two_processes(make_services)
    upload = start(first, 30)
    # `first` dies before its background task runs.
    clock.advance(timedelta(seconds=LEASE_SECONDS - 1))
    assert second.issuance.bulk.run_next_job() is False  # the lease still holds
    assert [u.status for u in second.issuance.bulk.uploads_of("facility-1")] == [
        UploadStatus.PROCESSING
    ]
    clock.advance(timedelta(seconds=2))
    assert second.issuance.bulk.run_next_job() is True
    assert second.issuance.bulk.run_next_job() is False
    done = get(second, upload)
    assert (done.status, done.succeeded, done.failed) == (UploadStatus.COMPLETED, 30, 0)
    assert certificate_counts(second) == Counter(codes(30))


def test_a_process_killed_mid_upload_is_resumed_from_its_cursor(
    make_services: ServicesFactory,
) -> None:
    clock, first, second = two_processes(make_services)
    upload = start(first, 250)

    def die_after_first_chunk(done: int, failed: int) -> None:
        raise Killed

    with pytest.raises(Killed):
        first.issuance.bulk.run(upload.id, progress=die_after_first_chunk)
    job = second.database.upload_jobs().get(upload.id)
    assert job is not None
    assert (job.next_record, job.upload.succeeded, job.attempts) == (100, 100, 1)

    clock.advance(timedelta(seconds=LEASE_SECONDS + 1))
    assert second.issuance.bulk.run_next_job() is True
    done = get(second, upload)
    assert (done.status, done.total_rows, done.succeeded, done.failed) == (
        UploadStatus.COMPLETED,
        250,
        250,
        0,
    )
    assert certificate_counts(second) == Counter(codes(250))


def test_rows_issued_before_the_cursor_was_stored_count_as_issued_and_are_not_issued_again(
    make_services: ServicesFactory,
) -> None:
    """The kill falls between a chunk's certificates and its cursor: the resumed chunk finds
    them (they name the upload and row). A beneficiary certified before the upload is still
    that row's error, and every bad row's error is stored once."""
    clock, first, second = two_processes(make_services)
    rows = codes(250)
    data = bulk_vaccination_csv(rows)
    lines = data.decode().splitlines()
    lines[150] = lines[150].replace(",Asha,", ",,")  # row 151: no name
    data = ("\n".join(lines) + "\n").encode()
    before = CertificationRequest.model_validate(_request_of(lines, 120))  # row 121
    first.issuance.certificates.certify([before])
    upload = first.issuance.bulk.start("b.csv", VACCINATION, "facility-1", data)

    jobs = first.database.upload_jobs()
    original = jobs.advance
    calls: list[int] = []

    def killed_before_the_second_cursor(*args: Any, **kwargs: Any) -> bool:
        calls.append(kwargs["next_record"])
        if len(calls) == 2:
            raise Killed  # the chunk's certificates are committed, its cursor is not
        return original(*args, **kwargs)

    first.issuance.bulk._jobs.advance = killed_before_the_second_cursor  # type: ignore[method-assign]
    with pytest.raises(Killed):
        first.issuance.bulk.run(upload.id)
    assert calls == [100, 200]
    assert get(second, upload).succeeded == 100
    assert certificate_counts(second)[rows[199]] == 1  # issued, not yet counted

    clock.advance(timedelta(seconds=LEASE_SECONDS + 1))
    assert second.issuance.bulk.run_next_job() is True
    done = get(second, upload)
    assert (done.status, done.succeeded, done.failed) == (UploadStatus.COMPLETED, 248, 2)
    errors = second.issuance.bulk.row_errors(upload.id)
    assert [(e.row, e.pre_enrollment_code) for e in errors] == [(121, rows[119]), (151, rows[149])]
    assert "already exists" in errors[0].errors[0].message
    assert errors[1].errors[0].location == "recipientName"
    assert certificate_counts(second) == Counter(c for c in rows if c != rows[149])


def _request_of(lines: list[str], index: int) -> dict[str, Any]:
    """The certification request of one CSV line, as the upload makes it."""
    [header, values] = csv.reader([lines[0], lines[index]])
    return vaccination_row(dict(zip(header, values, strict=False)), "")


def test_an_upload_that_stops_every_time_is_failed_with_a_reason(
    make_services: ServicesFactory,
) -> None:
    clock, first, second = two_processes(make_services, bulk_max_attempts=2)
    upload = start(first, 10)
    clock.advance(timedelta(seconds=LEASE_SECONDS + 1))  # attempt 1 died
    job = second.database.upload_jobs().claim_expired(
        "doomed", now=clock.now(), lease_expires_at=clock.now(), max_attempts=2
    )
    assert job is not None
    assert job.attempts == 2
    clock.advance(timedelta(seconds=1))
    assert second.issuance.bulk.run_next_job() is False
    failed = get(second, upload)
    assert (failed.status, failed.finished_at) == (UploadStatus.FAILED, clock.now())
    [reason] = second.issuance.bulk.row_errors(upload.id)
    assert reason.row == 0
    assert reason.errors[0].message.startswith("processing stopped 2 times")
    assert second.database.upload_jobs().get(upload.id) is None


def test_a_holder_whose_lease_was_taken_over_stores_nothing_more(
    make_services: ServicesFactory,
) -> None:
    clock, first, second = two_processes(make_services)
    upload = start(first, 150)
    clock.advance(timedelta(seconds=LEASE_SECONDS + 1))  # `first` stalled
    assert second.issuance.bulk.run_next_job() is True
    finished = get(second, upload)
    first.issuance.bulk.run(upload.id)  # wakes up: the job is gone, nothing happens
    assert get(second, upload) == finished
    assert certificate_counts(second) == Counter(codes(150))


def test_an_upload_from_before_csvs_were_stored_is_failed_when_its_heartbeat_is_old(
    make_services: ServicesFactory,
) -> None:
    clock = FixedClock(T0)
    services = make_services(clock=clock, bulk_stale_after_seconds=LEASE_SECONDS)
    legacy = Upload("legacy", "a.csv", VACCINATION, "facility-1", T0, UploadStatus.PROCESSING)
    services.database.uploads().create(legacy)  # no job: it cannot be resumed
    kept = start(services, 5)
    clock.advance(timedelta(seconds=LEASE_SECONDS + 1))
    statuses = {u.id: u.status for u in services.issuance.bulk.uploads_of("facility-1")}
    assert statuses == {"legacy": UploadStatus.FAILED, kept.id: UploadStatus.PROCESSING}


def test_a_stopping_process_gives_its_upload_back_without_counting_an_attempt(
    make_services: ServicesFactory,
) -> None:
    clock, first, second = two_processes(make_services)
    upload = start(first, 150)
    first.issuance.bulk.stop()  # SIGTERM before the background task ran
    first.issuance.bulk.run(upload.id)
    job = second.database.upload_jobs().get(upload.id)
    assert job is not None
    assert (job.claimed_by, job.attempts, job.next_record) == (None, 0, 0)
    clock.advance(timedelta(seconds=1))  # not the lease: it was given back
    assert second.issuance.bulk.run_next_job() is True
    done = get(second, upload)
    assert (done.status, done.succeeded) == (UploadStatus.COMPLETED, 150)


def test_lab_tests_which_have_no_natural_key_are_not_issued_twice_on_resume(
    make_services: ServicesFactory,
) -> None:
    """A person may have many lab tests, so no duplicate refusal protects a resumed chunk:
    only the upload and row each certificate names do."""
    clock, first, second = two_processes(make_services)
    rows = [f"LT{i % 90:03d}" for i in range(150)]  # 60 people tested twice
    upload = first.issuance.bulk.start("t.csv", TEST, "lab-1", bulk_test_csv(rows))

    def killed_before_the_first_cursor(*args: Any, **kwargs: Any) -> bool:
        raise Killed

    first.issuance.bulk._jobs.advance = killed_before_the_first_cursor  # type: ignore[method-assign]
    with pytest.raises(Killed):
        first.issuance.bulk.run(upload.id)
    assert sum(certificate_counts(second).values()) == 100  # issued, none counted

    clock.advance(timedelta(seconds=LEASE_SECONDS + 1))
    assert second.issuance.bulk.run_next_job() is True
    done = get(second, upload)
    assert (done.status, done.succeeded, done.failed) == (UploadStatus.COMPLETED, 150, 0)
    assert certificate_counts(second) == Counter(rows)
