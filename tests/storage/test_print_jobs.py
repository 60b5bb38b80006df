"""Print jobs and batch selection queries, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from certdist.domain.models import TEST, VACCINATION
from certdist.domain.printing import PrintJob, PrintJobStatus
from certdist.storage import Database
from certdist.storage.schema import (
    CERTIFICATE_PARTITIONS,
    certificates,
    credential_day,
    credential_facility,
)
from tests.storage.conftest import MakeCertificate
from tests.support.databases import TEST_DEADLINE_SECONDS

T0 = datetime(2021, 7, 1, 9, 0, tzinfo=UTC)
DAY = date(2021, 5, 2)


def _job(created: datetime = T0, **overrides: Any) -> PrintJob:
    fields: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "owner": "printer-1",
        "owner_issuer": "local",
        "status": PrintJobStatus.QUEUED,
        "format": "pdf",
        "selection": {"codes": ["BEN-1", "BEN-2"]},
        "created_at": created,
        "total": 2,
    }
    fields.update(overrides)
    return PrintJob(**fields)


def _claim(database: Database, worker: str, now: datetime = T0, **kw: Any) -> PrintJob | None:
    return database.print_jobs().claim_next(
        worker,
        now=now,
        stale_before=kw.get("stale_before", now - timedelta(minutes=5)),
        max_attempts=kw.get("max_attempts", 3),
    )


def test_a_job_round_trips(database: Database) -> None:
    job = _job(selection={"facility": "PHC Indiranagar", "date": "2021-05-02"})
    database.print_jobs().add(job)
    assert database.print_jobs().get(job.id) == job
    assert database.print_jobs().get(str(uuid.uuid4())) is None


def test_claims_take_the_oldest_queued_job_once(database: Database) -> None:
    jobs = database.print_jobs()
    newer, older = _job(T0 + timedelta(seconds=1)), _job(T0)
    jobs.add(newer)
    jobs.add(older)
    first = _claim(database, "w1")
    second = _claim(database, "w2")
    assert first is not None
    assert second is not None
    assert (first.id, second.id) == (older.id, newer.id)
    assert (first.status, first.claimed_by, first.attempts) == (PrintJobStatus.RUNNING, "w1", 1)
    assert _claim(database, "w3") is None


def test_concurrent_claimers_never_share_a_job(migrated_database_url: str) -> None:
    with Database(migrated_database_url, deadline_seconds=TEST_DEADLINE_SECONDS) as db:
        for index in range(4):
            db.print_jobs().add(_job(T0 + timedelta(seconds=index)))
    claimed: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def claimer(name: str) -> None:
        try:
            with Database(migrated_database_url, deadline_seconds=TEST_DEADLINE_SECONDS) as db:
                barrier.wait()
                while (job := _claim(db, name)) is not None:
                    claimed.append(job.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(claimed) == len(set(claimed)) == 4


def test_heartbeat_and_finish_only_for_the_claimer(database: Database) -> None:
    jobs = database.print_jobs()
    job = _job()
    jobs.add(job)
    assert _claim(database, "w1") is not None
    later = T0 + timedelta(seconds=30)
    assert not jobs.heartbeat(job.id, "intruder", now=later, done=1, total=2)
    assert jobs.heartbeat(job.id, "w1", now=later, done=1, total=2)
    stored = jobs.get(job.id)
    assert stored is not None
    assert (stored.done, stored.heartbeat_at) == (1, later)
    assert not jobs.finish(
        job.id, "intruder", now=later, status=PrintJobStatus.FAILED, done=0, total=2
    )
    assert jobs.finish(
        job.id,
        "w1",
        now=later,
        status=PrintJobStatus.SUCCEEDED,
        done=2,
        total=2,
        unknown=["BEN-2"],
        output_file=f"{job.id}.pdf",
        output_bytes=1234,
    )
    done = jobs.get(job.id)
    assert done is not None
    assert done.finished
    assert (done.unknown, done.output_file, done.finished_at) == (
        ("BEN-2",),
        f"{job.id}.pdf",
        later,
    )
    # A finished job is no longer the worker's to change.
    assert not jobs.heartbeat(job.id, "w1", now=later, done=0, total=2)


def test_a_job_whose_worker_stopped_heartbeating_is_claimed_again(database: Database) -> None:
    jobs = database.print_jobs()
    job = _job()
    jobs.add(job)
    assert _claim(database, "dead") is not None
    assert _claim(database, "w2", T0 + timedelta(minutes=4)) is None  # still fresh
    taken = _claim(database, "w2", T0 + timedelta(minutes=6))
    assert taken is not None
    assert (taken.id, taken.claimed_by, taken.attempts) == (job.id, "w2", 2)
    # The first worker, if it was only slow, learns it lost the job.
    assert not jobs.heartbeat(job.id, "dead", now=T0 + timedelta(minutes=7), done=1, total=2)


def test_a_job_that_keeps_dying_is_failed(database: Database) -> None:
    jobs = database.print_jobs()
    job = _job()
    jobs.add(job)
    now = T0
    for _ in range(2):
        assert _claim(database, "w", now, max_attempts=2) is not None
        now += timedelta(minutes=10)
    assert _claim(database, "w", now, max_attempts=2) is None
    failed = jobs.get(job.id)
    assert failed is not None
    assert failed.status is PrintJobStatus.FAILED
    assert failed.error is not None
    assert "2 times" in failed.error


def test_release_puts_the_job_back_without_counting_an_attempt(database: Database) -> None:
    jobs = database.print_jobs()
    job = _job()
    jobs.add(job)
    assert _claim(database, "w1") is not None
    assert not jobs.release(job.id, "w2")
    assert jobs.release(job.id, "w1")
    back = jobs.get(job.id)
    assert back is not None
    assert (back.status, back.claimed_by, back.attempts) == (
        PrintJobStatus.QUEUED,
        None,
        0,
    )


def test_finished_jobs_past_their_retention_are_listed(database: Database) -> None:
    jobs = database.print_jobs()
    job = _job()
    jobs.add(job)
    assert _claim(database, "w") is not None
    jobs.finish(
        job.id, "w", now=T0, status=PrintJobStatus.SUCCEEDED, done=2, total=2, output_file="x.pdf"
    )
    assert jobs.finished_before(T0) == []
    assert [j.id for j in jobs.finished_before(T0 + timedelta(seconds=1))] == [job.id]
    jobs.forget_output(job.id)
    assert jobs.finished_before(T0 + timedelta(seconds=1)) == []


# --- batch selection -------------------------------------------------------------------------


def _credential(facility: str, when: str, certificate_id: str) -> str:
    return json.dumps(
        {
            "evidence": [
                {"certificateId": certificate_id, "date": when, "facility": {"name": facility}}
            ]
        },
        separators=(",", ":"),
    )


def _given(make: MakeCertificate, code: str, facility: str, when: str, **overrides: Any) -> Any:
    certificate_id = str(uuid.uuid4().int % 10**12)
    return make(
        pre_enrollment_code=code,
        certificate_id=certificate_id,
        certificate=_credential(facility, when, certificate_id),
        **overrides,
    )


def test_facility_day_codes_in_keyset_order(
    database: Database, make_certificate: MakeCertificate
) -> None:
    here, there = "PHC Indiranagar", "PHC Whitefield"
    records = [
        _given(make_certificate, "B-3", here, "2021-05-02T10:00:00.000Z"),
        _given(make_certificate, "B-1", here, "2021-05-02T16:30:00+05:30"),
        _given(make_certificate, "B-2", here, "2021-05-02T09:00:00.000Z"),
        _given(make_certificate, "B-2", here, "2021-05-02T09:05:00.000Z", dose=2),
        _given(make_certificate, "B-4", there, "2021-05-02T10:00:00.000Z"),
        _given(make_certificate, "B-5", here, "2021-05-03T10:00:00.000Z"),
        _given(make_certificate, "B-6", here, "2021-05-02T11:00:00.000Z", entity_type=TEST),
        _given(make_certificate, "B-7", here, "2021-05-02T11:00:00.000Z", revoked_at=T0),
        _given(make_certificate, "B-8", here, "2021-05-02T11:00:00.000Z", superseded_by="1"),
    ]
    database.certificates().add(records)
    selection = database.print_selection()
    assert selection.count_facility_day(here, DAY, VACCINATION) == 3
    first = selection.facility_day_codes(here, DAY, VACCINATION, after=None, limit=2)
    rest = selection.facility_day_codes(here, DAY, VACCINATION, after=first[-1], limit=2)
    assert (first, rest) == (["B-1", "B-2"], ["B-3"])
    assert selection.facility_day_codes(here, DAY, VACCINATION, after="B-3", limit=2) == []


def test_live_certificates_of_codes_are_marked_by_facility_day(
    database: Database, make_certificate: MakeCertificate
) -> None:
    here = "PHC Indiranagar"
    earlier = _given(make_certificate, "B-1", "Elsewhere", "2021-03-01T10:00:00Z", dose=1)
    today = _given(make_certificate, "B-1", here, "2021-05-02T10:00:00Z", dose=2)
    revoked = _given(make_certificate, "B-1", here, "2021-05-02T10:00:00Z", dose=3, revoked_at=T0)
    database.certificates().add([earlier, today, revoked])
    found = database.print_selection().live_for_codes(
        ["B-1", "NOBODY"], VACCINATION, facility_day=(here, DAY)
    )
    assert [(item.record.certificate_id, item.matched) for item in found] == [
        (earlier.certificate_id, False),
        (today.certificate_id, True),
    ]
    plain = database.print_selection().live_for_codes(["B-1"], VACCINATION)
    assert all(item.matched for item in plain)
    assert len(plain) == 2


def test_the_facility_day_query_uses_its_index(database: Database) -> None:
    statement = select(certificates.c.id).where(
        credential_facility(certificates.c.certificate) == "PHC",
        credential_day(certificates.c.certificate) == "2021-05-02",
    )
    sql = str(statement.compile(database.engine, compile_kwargs={"literal_binds": True}))
    with database.engine.begin() as connection:
        if database.dialect == "sqlite":
            plan = " ".join(
                str(r[-1]) for r in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)
            )
        else:
            # A tiny table would be scanned anyway; forbid that to see the index is usable.
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(r[0] for r in connection.exec_driver_sql("EXPLAIN " + sql))
            # The index on the parent exists on every partition under a generated name.
            children = connection.exec_driver_sql(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'ix_certificates_facility_day'::regclass"
            ).scalars()
            used = [name for name in children if f"using {name} " in plan]
            assert len(used) == CERTIFICATE_PARTITIONS
            return
    assert "ix_certificates_facility_day" in plan


def test_count_of_an_empty_facility_day(database: Database) -> None:
    assert database.print_selection().count_facility_day("Nowhere", DAY, VACCINATION) == 0
