from datetime import UTC, datetime, timedelta

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
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text(statement))
    assert len(database.audit().for_beneficiary("B1")) == 1
