"""Reads a standby may answer (storage/replica.py): routed to it, the primary behind it on a
miss or an outage. The "standby" here is a second PostgreSQL database with the same schema,
so the test decides what it holds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from certdist.errors import ConfigurationError, StorageUnavailable
from certdist.storage import Database
from certdist.storage.replica import PAUSE_SECONDS, ReplicaReads
from tests.storage.conftest import MakeCertificate
from tests.support.databases import TEST_DEADLINE_SECONDS, new_postgresql_database


class Fallbacks:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def _migrated(url: str) -> str:
    with Database(url, deadline_seconds=TEST_DEADLINE_SECONDS) as database:
        database.migrate()
    return url


@pytest.fixture
def primary_and_standby(postgresql_admin_url: str) -> Iterator[tuple[str, str]]:
    with (
        new_postgresql_database(postgresql_admin_url) as primary,
        new_postgresql_database(postgresql_admin_url) as standby,
    ):
        yield _migrated(primary), _migrated(standby)


def _codes(database: Database, code: str) -> list[str]:
    return [record.certificate_id for record in database.certificates().for_beneficiary(code)]


@pytest.mark.postgres
def test_the_standby_answers_what_it_holds(
    primary_and_standby: tuple[str, str], make_certificate: MakeCertificate
) -> None:
    primary_url, standby_url = primary_and_standby
    fallbacks = Fallbacks()
    on_standby = make_certificate(pre_enrollment_code="BEN-STANDBY")
    with Database(standby_url, deadline_seconds=TEST_DEADLINE_SECONDS) as standby:
        standby.certificates().add([on_standby])
    with Database(
        primary_url,
        deadline_seconds=TEST_DEADLINE_SECONDS,
        replica_url=standby_url,
        on_replica_fallback=fallbacks,
    ) as database:
        # Only the standby has it: the read went there.
        assert _codes(database, "BEN-STANDBY") == [on_standby.certificate_id]
        assert fallbacks.count == 0
        # Reads that must see the caller's own writes stay on the primary.
        assert database.certificates().for_beneficiary("BEN-STANDBY", include_inactive=True) == []


@pytest.mark.postgres
def test_a_miss_on_the_standby_is_answered_by_the_primary(
    primary_and_standby: tuple[str, str], make_certificate: MakeCertificate
) -> None:
    primary_url, standby_url = primary_and_standby
    fallbacks = Fallbacks()
    just_issued = make_certificate(pre_enrollment_code="BEN-NEW")
    with Database(
        primary_url,
        deadline_seconds=TEST_DEADLINE_SECONDS,
        replica_url=standby_url,
        on_replica_fallback=fallbacks,
    ) as database:
        database.certificates().add([just_issued])  # not replayed on the standby yet
        assert _codes(database, "BEN-NEW") == [just_issued.certificate_id]
        assert _codes(database, "BEN-UNKNOWN") == []  # the primary's answer: none
    assert fallbacks.count == 2


@pytest.mark.postgres
def test_a_standby_that_does_not_answer_leaves_the_primary_answering(
    postgresql_module_database_url: str, make_certificate: MakeCertificate
) -> None:
    fallbacks = Fallbacks()
    record = make_certificate(pre_enrollment_code="BEN-DOWN")
    nobody = "postgresql+psycopg://postgres@127.0.0.1:1/none"  # port 1: refused at once
    with Database(
        postgresql_module_database_url,
        deadline_seconds=TEST_DEADLINE_SECONDS,
        replica_url=nobody,
        on_replica_fallback=fallbacks,
    ) as database:
        database.certificates().add([record])
        assert _codes(database, "BEN-DOWN") == [record.certificate_id]
        assert _codes(database, "BEN-DOWN") == [record.certificate_id]
    assert fallbacks.count == 2


def test_sqlite_has_no_replica(sqlite_database_url: str) -> None:
    with pytest.raises(ConfigurationError, match="needs PostgreSQL"):
        Database(sqlite_database_url, replica_url="postgresql://postgres@127.0.0.1/none")


def test_a_standby_that_failed_is_left_alone_for_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[dict[str, Any]] = []

    def refused(_engine: Any, _prepared: Any, parameters: dict[str, Any]) -> list[Any]:
        attempts.append(parameters)
        raise StorageUnavailable("the database did not answer within its deadline (test)")

    monkeypatch.setattr("certdist.storage.transactions.fetch_on", refused)
    now = [100.0]
    fallbacks = Fallbacks()
    reads = ReplicaReads(object(), on_fallback=fallbacks, clock=lambda: now[0])  # type: ignore[arg-type]
    prepared: Any = object()
    assert reads.fetch(prepared, {"code": "A"}) == []
    now[0] += PAUSE_SECONDS - 0.1
    assert reads.fetch(prepared, {"code": "B"}) == []  # paused: not asked
    now[0] += 0.2
    assert reads.fetch(prepared, {"code": "C"}) == []  # asked again
    assert [attempt["code"] for attempt in attempts] == ["A", "C"]
    assert fallbacks.count == 3
