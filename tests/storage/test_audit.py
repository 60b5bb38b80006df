import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from certdist.domain.models import Download
from certdist.storage import Database

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


def test_entries_recorded_while_the_database_is_away_are_written_later(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    database = Database(url)
    database.migrate()
    audit = database.audit()
    # Take the write lock from another connection: the writer must wait, not lose entries.
    blocker = sqlite3.connect(tmp_path / "audit.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
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
