"""Bulk uploads as leased jobs in SQL: the stored CSV, the cursor and the lease.

A job is claimed with one guarded ``UPDATE``, as print jobs are (``storage/print_jobs.py``):
the sub-select picks the oldest job whose lease has expired (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL) and the outer ``WHERE`` repeats the condition, so of two processes racing for it
exactly one wins. Every later write names the holder (``claimed_by`` and ``attempts``): a
process whose lease was taken over changes nothing, and learns so from the answer.

The cursor, the running totals and the row errors of a chunk are written in one transaction,
so the row errors are stored exactly once. The certificates of the chunk are committed
before, by the issuance service; the rows of this upload that already have one are found
by :meth:`SqlUploadJobRepository.issued_rows` (their certificates name the upload and row).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from certdist.domain.models import Upload, UploadJob, UploadRowError, UploadStatus
from certdist.errors import Conflict, FieldError
from certdist.storage.schema import certificates, upload_errors, upload_jobs, uploads
from certdist.storage.transactions import Transactions
from certdist.storage.uploads import error_rows, upload_of, upload_values

_j = upload_jobs.c
_u = uploads.c

#: The key under which a certificate's stored ``meta`` names the CSV row it was issued for.
UPLOAD_ROW_META = "uploadRow"


def _expired(now: datetime) -> ColumnElement[bool]:
    return _j.lease_expires_at < now


def _held_by(job: UploadJob) -> ColumnElement[bool]:
    return and_(
        _j.upload_id == job.upload.id,
        _j.claimed_by == job.claimed_by,
        _j.attempts == job.attempts,
    )


class SqlUploadJobRepository:
    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def open(
        self,
        upload: Upload,
        *,
        program_id: str,
        csv: bytes,
        total_rows: int,
        worker: str,
        lease_expires_at: datetime,
    ) -> UploadJob:
        """Store a new upload and its job, held by ``worker``, in one transaction."""
        try:
            with self._tx.write() as connection:
                connection.execute(insert(uploads).values(upload_values(upload)))
                connection.execute(
                    insert(upload_jobs).values(
                        upload_id=upload.id,
                        program_id=program_id,
                        csv=csv,
                        total_rows=total_rows,
                        next_record=0,
                        attempts=1,
                        claimed_by=worker,
                        lease_expires_at=lease_expires_at,
                    )
                )
                job = _read(connection, upload.id)
        except IntegrityError:
            raise Conflict(f"upload {upload.id} already exists") from None
        assert job is not None
        return job

    def get(self, upload_id: str) -> UploadJob | None:
        with self._tx.read() as connection:
            return _read(connection, upload_id)

    def claim_expired(
        self, worker: str, *, now: datetime, lease_expires_at: datetime, max_attempts: int
    ) -> UploadJob | None:
        """Claim the oldest job whose lease expired and that has attempts left."""
        claimable = and_(_expired(now), _j.attempts < max_attempts)
        # Idle processes poll: a read first, so no job costs no write transaction.
        with self._tx.read() as connection:
            if connection.execute(select(_j.upload_id).where(claimable).limit(1)).first() is None:
                return None
        with self._tx.write() as connection:
            candidate = (
                select(_j.upload_id)
                .where(claimable)
                .order_by(_j.lease_expires_at, _j.upload_id)
                .limit(1)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            claimed = connection.execute(
                update(upload_jobs)
                .where(_j.upload_id == candidate, claimable)
                .values(
                    claimed_by=worker,
                    attempts=_j.attempts + 1,
                    lease_expires_at=lease_expires_at,
                )
                .returning(_j.upload_id)
            ).scalar()
            return None if claimed is None else _read(connection, claimed)

    def fail_exhausted(self, *, now: datetime, max_attempts: int, reason: str) -> list[str]:
        """End as ``failed`` the uploads whose lease expired after ``max_attempts`` claims,
        with ``reason`` as their error (row 0: the upload as a whole); their ids."""
        exhausted = and_(_expired(now), _j.attempts >= max_attempts)
        with self._tx.read() as connection:
            if connection.execute(select(_j.upload_id).where(exhausted).limit(1)).first() is None:
                return []
        with self._tx.write() as connection:
            ids = list(
                connection.execute(
                    select(_j.upload_id).where(exhausted).with_for_update(skip_locked=True)
                ).scalars()
            )
            for upload_id in ids:
                error = UploadRowError(upload_id, 0, "", (FieldError("upload", reason),))
                connection.execute(insert(upload_errors), error_rows([error]))
                connection.execute(
                    update(uploads)
                    .where(_u.id == upload_id)
                    .values(status=UploadStatus.FAILED.value, finished_at=now)
                )
                connection.execute(delete(upload_jobs).where(_j.upload_id == upload_id))
        return ids

    def advance(
        self,
        job: UploadJob,
        *,
        next_record: int,
        succeeded: int,
        failed: int,
        errors: Sequence[UploadRowError],
        now: datetime,
        lease_expires_at: datetime,
    ) -> bool:
        """Store a chunk's outcome and renew the lease, in one transaction; False (and
        nothing stored) when ``job``'s holder no longer holds it."""
        with self._tx.write() as connection:
            moved = connection.execute(
                update(upload_jobs)
                .where(_held_by(job))
                .values(next_record=next_record, lease_expires_at=lease_expires_at)
            )
            if moved.rowcount != 1:
                return False
            _store_outcome(connection, job.upload.id, succeeded, failed, errors)
            connection.execute(
                update(uploads).where(_u.id == job.upload.id).values(heartbeat_at=now)
            )
        return True

    def complete(
        self,
        job: UploadJob,
        *,
        succeeded: int,
        failed: int,
        errors: Sequence[UploadRowError],
        now: datetime,
    ) -> bool:
        """Store the last chunk's outcome, end the upload ``completed`` and drop its job (and
        so its CSV); False (and nothing stored) when the holder no longer holds it."""
        with self._tx.write() as connection:
            if connection.execute(delete(upload_jobs).where(_held_by(job))).rowcount != 1:
                return False
            _store_outcome(connection, job.upload.id, succeeded, failed, errors)
            connection.execute(
                update(uploads)
                .where(_u.id == job.upload.id)
                .values(
                    status=UploadStatus.COMPLETED.value,
                    total_rows=job.total_rows,
                    heartbeat_at=now,
                    finished_at=now,
                )
            )
        return True

    def let_go(self, job: UploadJob, *, now: datetime, counts_as_attempt: bool) -> bool:
        """End the holder's lease now, so the next pass of any process resumes the job. A
        graceful stop is not counted as an attempt; an error is."""
        with self._tx.write() as connection:
            result = connection.execute(
                update(upload_jobs)
                .where(_held_by(job))
                .values(
                    claimed_by=None,
                    lease_expires_at=now,
                    attempts=_j.attempts if counts_as_attempt else _j.attempts - 1,
                )
            )
        return result.rowcount == 1

    def issued_rows(self, upload_id: str, codes: Sequence[str]) -> set[int]:
        """The CSV rows of this upload that have a certificate, among those of ``codes``."""
        statement = select(certificates.c.meta).where(
            certificates.c.pre_enrollment_code.in_(list(set(codes))),
            certificates.c.upload_id == upload_id,
        )
        with self._tx.read() as connection:
            metas = connection.execute(statement).scalars().all()
        return {int(meta[UPLOAD_ROW_META]) for meta in metas if UPLOAD_ROW_META in meta}


def _store_outcome(
    connection: Connection,
    upload_id: str,
    succeeded: int,
    failed: int,
    errors: Sequence[UploadRowError],
) -> None:
    if errors:
        connection.execute(insert(upload_errors), error_rows(errors))
    connection.execute(
        update(uploads).where(_u.id == upload_id).values(succeeded=succeeded, failed=failed)
    )


def _read(connection: Connection, upload_id: str) -> UploadJob | None:
    statement = (
        select(uploads, *(c.label(f"job_{c.name}") for c in upload_jobs.c))
        .join(upload_jobs, _j.upload_id == _u.id)
        .where(_u.id == upload_id)
    )
    row = connection.execute(statement).mappings().first()
    if row is None:
        return None
    return UploadJob(
        upload=upload_of(row),
        program_id=row["job_program_id"],
        csv=bytes(row["job_csv"]),
        total_rows=row["job_total_rows"],
        next_record=row["job_next_record"],
        attempts=row["job_attempts"],
        claimed_by=row["job_claimed_by"],
        lease_expires_at=row["job_lease_expires_at"],
    )
