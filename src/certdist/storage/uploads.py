"""``UploadRepository`` on SQLAlchemy Core: bulk uploads and the rows that failed."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import RowMapping, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from certdist.domain.models import Upload, UploadRowError, UploadStatus
from certdist.errors import Conflict, FieldError, NotFound
from certdist.storage.schema import upload_errors, upload_jobs, uploads
from certdist.storage.transactions import Transactions

_u = uploads.c
_e = upload_errors.c


class SqlUploadRepository:
    """Uploads in ``uploads``; their row errors in ``upload_errors``, keyed by (upload, row)."""

    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def create(self, upload: Upload) -> None:
        try:
            with self._tx.write() as connection:
                connection.execute(insert(uploads).values(upload_values(upload)))
        except IntegrityError:
            raise Conflict(f"upload {upload.id} already exists") from None

    def finish(
        self,
        upload_id: str,
        *,
        status: UploadStatus,
        total_rows: int,
        succeeded: int,
        failed: int,
        at: datetime,
    ) -> None:
        """Record the outcome; raises ``NotFound`` for an unknown upload."""
        with self._tx.write() as connection:
            result = connection.execute(
                update(uploads)
                .where(_u.id == upload_id)
                .values(
                    status=status.value,
                    total_rows=total_rows,
                    succeeded=succeeded,
                    failed=failed,
                    finished_at=at,
                )
            )
        if result.rowcount != 1:
            raise NotFound(f"upload {upload_id} does not exist")

    def fail_abandoned(self, *, before: datetime, at: datetime) -> int:
        """Mark ``failed`` the uploads still processing with no heartbeat (or, before their
        first chunk, no creation) since ``before`` and no job to resume them (uploads from
        before migration 0013, which kept no CSV); returns how many."""
        last_sign_of_life = func.coalesce(_u.heartbeat_at, _u.created_at)
        has_job = exists().where(upload_jobs.c.upload_id == _u.id)
        with self._tx.write() as connection:
            result = connection.execute(
                update(uploads)
                .where(
                    _u.status == UploadStatus.PROCESSING.value,
                    last_sign_of_life < before,
                    ~has_job,
                )
                .values(status=UploadStatus.FAILED.value, finished_at=at)
            )
        return max(0, result.rowcount)

    def add_errors(self, errors: Sequence[UploadRowError]) -> None:
        """Store row errors, all or none; ``Conflict`` for a repeated row or unknown upload."""
        if not errors:
            return
        try:
            with self._tx.write() as connection:
                connection.execute(insert(upload_errors), error_rows(errors))
        except IntegrityError:
            raise Conflict("row errors repeat a stored row or name an unknown upload") from None

    def get(self, upload_id: str) -> Upload | None:
        with self._tx.read() as connection:
            row = connection.execute(select(uploads).where(_u.id == upload_id)).mappings().first()
        return None if row is None else upload_of(row)

    def list(self, *, uploaded_by: str | None = None, limit: int = 100) -> list[Upload]:
        statement = select(uploads).order_by(_u.created_at.desc(), _u.id.desc()).limit(limit)
        if uploaded_by is not None:
            statement = statement.where(_u.uploaded_by == uploaded_by)
        with self._tx.read() as connection:
            rows = connection.execute(statement).mappings().all()
        return [upload_of(row) for row in rows]

    def errors(self, upload_id: str) -> builtins.list[UploadRowError]:
        statement = select(upload_errors).where(_e.upload_id == upload_id).order_by(_e.row)
        with self._tx.read() as connection:
            rows = connection.execute(statement).mappings().all()
        return [
            UploadRowError(
                upload_id=row["upload_id"],
                row=row["row"],
                pre_enrollment_code=row["pre_enrollment_code"],
                errors=tuple(FieldError(e["location"], e["message"]) for e in row["errors"]),
            )
            for row in rows
        ]


def upload_values(upload: Upload) -> dict[str, object]:
    """An upload as a row of ``uploads``."""
    return {
        "id": upload.id,
        "filename": upload.filename,
        "entity_type": upload.entity_type,
        "uploaded_by": upload.uploaded_by,
        "created_at": upload.created_at,
        "status": upload.status.value,
        "total_rows": upload.total_rows,
        "succeeded": upload.succeeded,
        "failed": upload.failed,
        "finished_at": upload.finished_at,
    }


def error_rows(errors: Sequence[UploadRowError]) -> builtins.list[dict[str, object]]:
    """Row errors as rows of ``upload_errors``."""
    return [
        {
            "upload_id": error.upload_id,
            "row": error.row,
            "pre_enrollment_code": error.pre_enrollment_code,
            "errors": [{"location": e.location, "message": e.message} for e in error.errors],
        }
        for error in errors
    ]


def upload_of(row: RowMapping) -> Upload:
    return Upload(
        id=row["id"],
        filename=row["filename"],
        entity_type=row["entity_type"],
        uploaded_by=row["uploaded_by"],
        created_at=row["created_at"],
        status=UploadStatus(row["status"]),
        total_rows=row["total_rows"],
        succeeded=row["succeeded"],
        failed=row["failed"],
        finished_at=row["finished_at"],
    )
