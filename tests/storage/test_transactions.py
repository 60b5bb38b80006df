"""Transactions: the prepared reads' observer (tracing's spans for the reads that run without
SQLAlchemy's events), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from certdist.storage import Database
from tests.storage.conftest import MakeCertificate


def test_an_observer_wraps_each_prepared_read_with_its_sql_and_never_its_values(
    database: Database, make_certificate: MakeCertificate
) -> None:
    certificates = database.certificates()
    certificates.add([make_certificate(pre_enrollment_code="OBSERVED42")])
    seen: list[tuple[str, str]] = []
    inside = False

    @contextmanager
    def observer(dialect: str, sql: str) -> Iterator[None]:
        nonlocal inside
        inside = True
        try:
            yield
        finally:
            inside = False
            seen.append((dialect, sql))

    assert len(certificates.for_beneficiary("OBSERVED42")) == 1  # no observer: none called
    database.observe(observer)
    records = certificates.for_beneficiary("OBSERVED42")
    assert [r.pre_enrollment_code for r in records] == ["OBSERVED42"]
    assert not inside
    ((dialect, sql),) = seen
    assert dialect == database.dialect
    assert sql.lstrip().upper().startswith("SELECT")
    assert "OBSERVED42" not in sql
