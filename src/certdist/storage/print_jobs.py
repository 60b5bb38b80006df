"""Batch printing in SQL: durable print jobs, and the certificates a batch selects.

Jobs are claimed with one guarded ``UPDATE``: the sub-select picks the oldest claimable row
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent workers pick different rows; SQLite
serialises writers anyway) and the outer ``WHERE`` repeats the condition, so of two workers
racing for the same row exactly one changes it. A running job whose heartbeat is older than
the caller's cut-off belonged to a worker that died: it is claimable again. Every later
write of a worker is guarded by ``claimed_by``, so a worker whose job was taken over cannot
overwrite the new owner's progress.

Certificates are read in keyset order (``pre_enrollment_code`` after the last one seen), never
with ``OFFSET``, which would rescan everything before each chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    and_,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from certdist.domain.models import CertificateRecord
from certdist.domain.printing import PrintJob, PrintJobStatus
from certdist.storage.rows import certificate_record
from certdist.storage.schema import certificates, credential_day, credential_facility, print_jobs
from certdist.storage.transactions import Transactions

_c = certificates.c
_j = print_jobs.c
_live: ColumnElement[bool] = and_(_c.superseded_by.is_(None), _c.revoked_at.is_(None))


#: A worker's later writes only touch a job that is still running (and still its own).
_held: ColumnElement[bool] = _j.status == PrintJobStatus.RUNNING.value


def _job(row: RowMapping) -> PrintJob:
    return PrintJob(
        id=row["id"],
        owner=row["owner"],
        owner_issuer=row["owner_issuer"],
        status=PrintJobStatus(row["status"]),
        format=row["format"],
        selection=row["selection"],
        created_at=row["created_at"],
        total=row["total"],
        done=row["done"],
        unknown=tuple(row["unknown"]),
        error=row["error"],
        output_file=row["output_file"],
        output_bytes=row["output_bytes"],
        attempts=row["attempts"],
        claimed_by=row["claimed_by"],
        heartbeat_at=row["heartbeat_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


class SqlPrintJobRepository:
    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def add(self, job: PrintJob) -> None:
        with self._tx.write() as connection:
            connection.execute(
                insert(print_jobs).values(
                    id=job.id,
                    owner=job.owner,
                    owner_issuer=job.owner_issuer,
                    status=job.status.value,
                    format=job.format,
                    selection=job.selection,
                    total=job.total,
                    done=job.done,
                    unknown=list(job.unknown),
                    attempts=job.attempts,
                    created_at=job.created_at,
                )
            )

    def get(self, job_id: str) -> PrintJob | None:
        with self._tx.read() as connection:
            row = connection.execute(select(print_jobs).where(_j.id == job_id)).mappings().first()
        return None if row is None else _job(row)

    def claim_next(
        self, worker: str, *, now: datetime, stale_before: datetime, max_attempts: int
    ) -> PrintJob | None:
        """Claim the oldest queued job, or a running one whose worker stopped heartbeating.

        A stale job that already had ``max_attempts`` claims is failed instead: a job that
        kills its worker every time must not take the next worker down with it.
        """
        stale = and_(_j.status == PrintJobStatus.RUNNING.value, _j.heartbeat_at < stale_before)
        claimable = or_(_j.status == PrintJobStatus.QUEUED.value, stale)
        # Idle workers poll: a read first, so an empty queue costs no write transaction.
        with self._tx.read() as connection:
            if connection.execute(select(_j.id).where(claimable).limit(1)).first() is None:
                return None
        with self._tx.write() as connection:
            connection.execute(
                update(print_jobs)
                .where(stale, _j.attempts >= max_attempts)
                .values(
                    status=PrintJobStatus.FAILED.value,
                    error=f"the job stopped {max_attempts} times without finishing",
                    claimed_by=None,
                    finished_at=now,
                )
            )
            candidate = (
                select(_j.id)
                .where(claimable)
                .order_by(_j.created_at, _j.id)
                .limit(1)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            row = (
                connection.execute(
                    update(print_jobs)
                    .where(_j.id == candidate, claimable)
                    .values(
                        status=PrintJobStatus.RUNNING.value,
                        claimed_by=worker,
                        heartbeat_at=now,
                        started_at=now,
                        attempts=_j.attempts + 1,
                        done=0,
                    )
                    .returning(*print_jobs.c)
                )
                .mappings()
                .first()
            )
        return None if row is None else _job(row)

    def heartbeat(self, job_id: str, worker: str, *, now: datetime, done: int, total: int) -> bool:
        """Record progress; False when ``worker`` no longer holds the job."""
        with self._tx.write() as connection:
            result = connection.execute(
                update(print_jobs)
                .where(_j.id == job_id, _j.claimed_by == worker, _held)
                .values(heartbeat_at=now, done=done, total=total)
            )
        return result.rowcount == 1

    def release(self, job_id: str, worker: str) -> bool:
        """Put a job ``worker`` holds back in the queue (the worker is stopping)."""
        with self._tx.write() as connection:
            result = connection.execute(
                update(print_jobs)
                .where(_j.id == job_id, _j.claimed_by == worker, _held)
                .values(
                    status=PrintJobStatus.QUEUED.value,
                    claimed_by=None,
                    done=0,
                    attempts=_j.attempts - 1,  # a graceful stop is not a failed attempt
                )
            )
        return result.rowcount == 1

    def finish(
        self,
        job_id: str,
        worker: str,
        *,
        now: datetime,
        status: PrintJobStatus,
        done: int,
        total: int,
        unknown: Sequence[str] = (),
        error: str | None = None,
        output_file: str | None = None,
        output_bytes: int | None = None,
    ) -> bool:
        """Close the job as succeeded or failed; False when ``worker`` no longer holds it."""
        with self._tx.write() as connection:
            result = connection.execute(
                update(print_jobs)
                .where(_j.id == job_id, _j.claimed_by == worker, _held)
                .values(
                    status=status.value,
                    done=done,
                    total=total,
                    unknown=list(unknown),
                    error=error,
                    output_file=output_file,
                    output_bytes=output_bytes,
                    heartbeat_at=now,
                    finished_at=now,
                )
            )
        return result.rowcount == 1

    def finished_before(self, cutoff: datetime, *, limit: int = 100) -> list[PrintJob]:
        """Finished jobs older than ``cutoff`` (whose output files may be removed)."""
        statement = (
            select(print_jobs)
            .where(_j.finished_at < cutoff, _j.output_file.is_not(None))
            .order_by(_j.finished_at)
            .limit(limit)
        )
        with self._tx.read() as connection:
            return [_job(row) for row in connection.execute(statement).mappings()]

    def forget_output(self, job_id: str) -> None:
        with self._tx.write() as connection:
            connection.execute(
                update(print_jobs)
                .where(_j.id == job_id)
                .values(output_file=None, output_bytes=None)
            )


# --- the certificates a batch prints -------------------------------------------------------


def _facility_day(facility: str, day: date) -> ColumnElement[bool]:
    return and_(
        credential_facility(_c.certificate) == facility,
        credential_day(_c.certificate) == day.isoformat(),
    )


@dataclass(frozen=True)
class SelectedCertificate:
    """A live certificate of a selected beneficiary; ``matched`` when it is one of the
    certificates the selection names (given at that facility on that day)."""

    record: CertificateRecord
    matched: bool


class SqlPrintSelection:
    """Reads for batch printing: every query names ``pre_enrollment_code`` or goes through
    the facility-day index."""

    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def count_facility_day(self, facility: str, day: date, entity_type: str) -> int:
        """How many beneficiaries have a live certificate from that facility on that day."""
        statement = select(func.count(func.distinct(_c.pre_enrollment_code))).where(
            _facility_day(facility, day), _c.entity_type == entity_type, _live
        )
        with self._tx.read() as connection:
            return int(connection.execute(statement).scalar_one())

    def facility_day_codes(
        self, facility: str, day: date, entity_type: str, *, after: str | None, limit: int
    ) -> list[str]:
        """The next ``limit`` beneficiary ids (sorted) with a live certificate from that
        facility on that day, after ``after``."""
        statement = (
            select(_c.pre_enrollment_code)
            .where(_facility_day(facility, day), _c.entity_type == entity_type, _live)
            .group_by(_c.pre_enrollment_code)
            .order_by(_c.pre_enrollment_code)
            .limit(limit)
        )
        if after is not None:
            statement = statement.where(_c.pre_enrollment_code > after)
        with self._tx.read() as connection:
            return list(connection.execute(statement).scalars())

    def live_for_codes(
        self,
        codes: Sequence[str],
        entity_type: str,
        *,
        facility_day: tuple[str, date] | None = None,
    ) -> list[SelectedCertificate]:
        """Every live certificate of type ``entity_type`` of these beneficiaries (one query;
        callers pass a chunk of a few hundred codes). With ``facility_day``, each is marked
        whether it was given there and then."""
        matched: ColumnElement[bool] = (
            literal(True) if facility_day is None else _facility_day(*facility_day)
        )
        statement = (
            select(certificates, matched.label("print_matched"))
            .where(_c.pre_enrollment_code.in_(list(codes)), _c.entity_type == entity_type, _live)
            .order_by(_c.pre_enrollment_code, _c.created_at, _c.id)
        )
        with self._tx.read() as connection:
            rows = connection.execute(statement).mappings().all()
        return [
            SelectedCertificate(certificate_record(row), bool(row["print_matched"])) for row in rows
        ]
