import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from certdist.domain.models import Download
from certdist.errors import StorageUnavailable
from certdist.storage import Database
from certdist.storage import audit as audit_module

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _download(n: int, code: str = "B1") -> Download:
    return Download(
        id=f"id-{n}",
        at=T0 + timedelta(seconds=n),
        actor="api-client",
        issuer="certdist-local",
        permission="distribute",
        certificate_id=f"10000000000{n}",
        pre_enrollment_code=code,
        format="pdf",
    )


def test_recorded_downloads_come_back_newest_first(database: Database) -> None:
    audit = database.audit()
    for n in range(3):
        audit.record(_download(n))
    audit.record(_download(9, code="B2"))
    assert [d.id for d in audit.for_beneficiary("B1")] == ["id-2", "id-1", "id-0"]
    assert audit.for_beneficiary("B1")[0] == _download(2)


@pytest.mark.parametrize(
    "statement", ["UPDATE download_audit SET actor = 'x'", "DELETE FROM download_audit"]
)
def test_the_audit_is_append_only(database: Database, statement: str) -> None:
    database.audit().record(_download(1))
    assert database.audit().flush()
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text(statement))
    assert len(database.audit().for_beneficiary("B1")) == 1


def _locked(tmp_path: Path, **options: float) -> tuple[Database, sqlite3.Connection]:
    """A migrated SQLite database whose write lock another connection holds (roll it back to
    let writes through): the database is "away" for the audit writer."""
    database = Database(f"sqlite:///{tmp_path / 'audit.db'}", **options)
    database.migrate()
    blocker = sqlite3.connect(tmp_path / "audit.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    return database, blocker


def test_entries_recorded_while_the_database_is_away_are_written_later(tmp_path: Path) -> None:
    # The writer must wait for the lock, not lose entries.
    database, blocker = _locked(tmp_path)
    audit = database.audit()
    for n in range(5):
        audit.record(_download(n))
    assert not audit.flush(timeout=0.5)
    blocker.execute("ROLLBACK")
    blocker.close()
    assert audit.flush(timeout=30)
    assert len(audit.for_beneficiary("B1")) == 5
    database.dispose()


def test_dispose_writes_what_is_queued(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    database = Database(url)
    database.migrate()
    for n in range(50):
        database.audit().record(_download(n))
    database.dispose()
    with Database(url) as again:
        assert len(again.audit().for_beneficiary("B1")) == 50


def test_a_full_queue_writes_in_place_and_never_drops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_QUEUED the entry is written by ``record`` itself; if the database cannot take
    it, ``record`` raises (the document is not delivered) instead of dropping an entry."""
    monkeypatch.setattr(audit_module, "MAX_QUEUED", 3)
    database, blocker = _locked(tmp_path, deadline_seconds=0.5)
    audit = database.audit()
    for n in range(3):
        audit.record(_download(n))
    with pytest.raises(StorageUnavailable):
        audit.record(_download(3))  # queue full, database locked: refused, not dropped
    blocker.execute("ROLLBACK")
    blocker.close()
    assert audit.flush(timeout=30)
    audit.record(_download(4))
    assert sorted(d.id for d in audit.for_beneficiary("B1")) == ["id-0", "id-1", "id-2", "id-4"]
    database.dispose()


def test_close_writes_at_once_what_is_still_gathering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shutdown does not wait out the batch interval, and loses nothing queued."""
    monkeypatch.setattr(audit_module, "FLUSH_SECONDS", 60.0)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    database = Database(url)
    database.migrate()
    for n in range(20):
        database.audit().record(_download(n))
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM download_audit")).scalar() == 0
    started = time.monotonic()
    database.dispose()
    assert time.monotonic() - started < 5
    with Database(url) as again:
        assert len(again.audit().for_beneficiary("B1")) == 20
