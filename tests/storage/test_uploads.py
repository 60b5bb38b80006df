"""SqlUploadRepository, run on SQLite and on PostgreSQL (via the ``database`` fixture)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from certdist.domain.models import VACCINATION, Upload, UploadRowError, UploadStatus
from certdist.errors import Conflict, FieldError, NotFound
from certdist.storage import Database
from certdist.storage.schema import uploads
from certdist.storage.uploads import SqlUploadRepository

T0 = datetime(2021, 6, 1, 12, 0, 0, 250000, tzinfo=UTC)


@pytest.fixture
def repo(database: Database) -> SqlUploadRepository:
    return database.uploads()


def _upload(n: int, uploaded_by: str = "facility-admin-1") -> Upload:
    return Upload(
        id=f"upload-{n}",
        filename=f"batch {n} — ಕನ್ನಡ.csv",
        entity_type=VACCINATION,
        uploaded_by=uploaded_by,
        created_at=T0 + timedelta(minutes=n),
        status=UploadStatus.PROCESSING,
    )


def test_create_then_get(repo: SqlUploadRepository) -> None:
    upload = _upload(1)
    repo.create(upload)
    assert repo.get(upload.id) == upload
    assert repo.get("upload-404") is None


def test_create_twice_is_a_conflict(repo: SqlUploadRepository) -> None:
    repo.create(_upload(1))
    with pytest.raises(Conflict):
        repo.create(replace(_upload(1), filename="other.csv"))
    assert repo.get("upload-1") == _upload(1)


def test_finish_records_the_outcome(repo: SqlUploadRepository) -> None:
    repo.create(_upload(1))
    done = T0 + timedelta(hours=1)
    repo.finish(
        "upload-1", status=UploadStatus.COMPLETED, total_rows=10, succeeded=8, failed=2, at=done
    )
    assert repo.get("upload-1") == replace(
        _upload(1),
        status=UploadStatus.COMPLETED,
        total_rows=10,
        succeeded=8,
        failed=2,
        finished_at=done,
    )
    finished = repo.get("upload-1")
    assert finished is not None
    assert finished.finished_at is not None
    assert finished.finished_at.utcoffset() == timedelta(0)


def test_finish_of_an_unknown_upload_is_not_found(repo: SqlUploadRepository) -> None:
    with pytest.raises(NotFound):
        repo.finish("nope", status=UploadStatus.FAILED, total_rows=0, succeeded=0, failed=0, at=T0)


def test_list_is_newest_first_filtered_and_limited(repo: SqlUploadRepository) -> None:
    for n, who in [(2, "alice"), (1, "bob"), (4, "alice"), (3, "bob")]:
        repo.create(_upload(n, uploaded_by=who))
    assert [u.id for u in repo.list()] == ["upload-4", "upload-3", "upload-2", "upload-1"]
    assert [u.id for u in repo.list(uploaded_by="alice")] == ["upload-4", "upload-2"]
    assert [u.id for u in repo.list(limit=2)] == ["upload-4", "upload-3"]
    assert repo.list(uploaded_by="carol") == []


def test_row_errors_round_trip_in_row_order(repo: SqlUploadRepository) -> None:
    repo.create(_upload(1))
    repo.create(_upload(2))
    row_7 = UploadRowError(
        "upload-1",
        7,
        "BEN-7",
        (
            FieldError("recipient.dob", "must be a date like 1990-01-31"),
            FieldError("recipient.name", "required — ಹೆಸರು"),
        ),
    )
    row_2 = UploadRowError("upload-1", 2, "BEN-2", (FieldError("vaccination.dose", "≥ 1"),))
    row_12 = UploadRowError("upload-1", 12, "", ())
    elsewhere = UploadRowError("upload-2", 3, "BEN-3", (FieldError("x", "y"),))
    repo.add_errors([row_7, row_12, elsewhere])
    repo.add_errors([row_2])
    assert repo.errors("upload-1") == [row_2, row_7, row_12]
    assert repo.errors("upload-2") == [elsewhere]
    assert repo.errors("upload-404") == []
    repo.add_errors([])


def test_row_errors_are_all_or_nothing(repo: SqlUploadRepository) -> None:
    repo.create(_upload(1))
    first = UploadRowError("upload-1", 2, "BEN-2", (FieldError("a", "b"),))
    repo.add_errors([first])
    with pytest.raises(Conflict):
        repo.add_errors([UploadRowError("upload-1", 3, "BEN-3", ()), first])
    with pytest.raises(Conflict):
        repo.add_errors([UploadRowError("upload-404", 2, "BEN-2", ())])
    assert repo.errors("upload-1") == [first]
    assert repo.errors("upload-404") == []


def _heartbeat(database: Database, upload_id: str, at: datetime, succeeded: int) -> None:
    """What uploads before migration 0013 wrote after each chunk (while still processing)."""
    with database.engine.begin() as connection:
        connection.execute(
            update(uploads)
            .where(uploads.c.id == upload_id, uploads.c.status == UploadStatus.PROCESSING.value)
            .values(heartbeat_at=at, succeeded=succeeded)
        )


def test_an_upload_from_before_jobs_without_a_recent_heartbeat_is_failed(
    repo: SqlUploadRepository, database: Database
) -> None:
    for n in (1, 2, 3):
        repo.create(_upload(n))  # created at T0 + n minutes
    repo.finish(
        "upload-3",
        status=UploadStatus.COMPLETED,
        total_rows=1,
        succeeded=1,
        failed=0,
        at=T0 + timedelta(minutes=3),
    )
    # upload-2 is still making progress; upload-1 stopped after its first chunk.
    _heartbeat(database, "upload-1", T0 + timedelta(minutes=2), 100)
    _heartbeat(database, "upload-2", T0 + timedelta(minutes=20), 400)
    now = T0 + timedelta(minutes=25)
    assert repo.fail_abandoned(before=T0 + timedelta(minutes=15), at=now) == 1
    assert repo.get("upload-1") == replace(
        _upload(1), status=UploadStatus.FAILED, succeeded=100, finished_at=now
    )
    assert repo.get("upload-2") == replace(_upload(2), succeeded=400)
    assert repo.get("upload-3").status is UploadStatus.COMPLETED  # type: ignore[union-attr]
    # Never created a heartbeat: its creation is its last sign of life.
    repo.create(_upload(4))
    assert repo.fail_abandoned(before=T0 + timedelta(minutes=5), at=now) == 1
    assert repo.get("upload-4").status is UploadStatus.FAILED  # type: ignore[union-attr]
