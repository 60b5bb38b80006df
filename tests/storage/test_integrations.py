"""DigiLocker transactions, issued URIs and the integration audit, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from certdist.storage import Database
from certdist.storage.integrations import IntegrationEvent, IssuedUri

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_transaction_is_claimed_once_per_operation(database: Database) -> None:
    repo = database.integrations()
    later = T0 + timedelta(minutes=31)
    assert repo.claim_transaction("pull-uri", "t1", now=T0, expires_at=later)
    assert not repo.claim_transaction("pull-uri", "t1", now=T0, expires_at=later)
    assert repo.claim_transaction("pull-doc", "t1", now=T0, expires_at=later)


def test_an_expired_transaction_can_be_claimed_again(database: Database) -> None:
    repo = database.integrations()
    assert repo.claim_transaction("op", "t1", now=T0, expires_at=T0 + timedelta(minutes=1))
    after = T0 + timedelta(minutes=2)
    assert repo.claim_transaction("op", "t1", now=after, expires_at=after + timedelta(minutes=1))


def test_concurrent_claims_of_one_transaction_let_exactly_one_through(database: Database) -> None:
    repo = database.integrations()
    results: list[bool] = []
    lock = threading.Lock()

    def claim() -> None:
        won = repo.claim_transaction("op", "same", now=T0, expires_at=T0 + timedelta(hours=1))
        with lock:
            results.append(won)

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]


def test_issued_uris_are_per_account_and_idempotent(database: Database) -> None:
    repo = database.integrations()
    issued = IssuedUri("acct-a", "in.gov.x-VACER-1", "1", "BEN1", T0)
    repo.record_issued(issued)
    repo.record_issued(IssuedUri("acct-a", "in.gov.x-VACER-1", "1", "BEN1", T0 + timedelta(1)))
    assert repo.issued("acct-a", "in.gov.x-VACER-1") == issued
    assert repo.issued("acct-b", "in.gov.x-VACER-1") is None
    assert repo.issued("acct-a", "in.gov.x-VACER-2") is None


def test_events_come_back_newest_first_by_channel(database: Database) -> None:
    repo = database.integrations()
    for n, channel in enumerate(["a", "b", "a"]):
        repo.record_event(
            IntegrationEvent(
                id=f"e{n}",
                at=T0 + timedelta(seconds=n),
                channel=channel,
                actor="actor",
                outcome="ok",
                txn=f"t{n}" if n else None,
                certificate_id=None,
            )
        )
    assert [e.id for e in repo.events(channel="a")] == ["e2", "e0"]
    assert [e.id for e in repo.events()] == ["e2", "e1", "e0"]
    assert repo.events(channel="b")[0].txn == "t1"


@pytest.mark.parametrize(
    "statement", ["UPDATE integration_audit SET actor = 'x'", "DELETE FROM integration_audit"]
)
def test_the_integration_audit_is_append_only(database: Database, statement: str) -> None:
    database.integrations().record_event(
        IntegrationEvent(id="e1", at=T0, channel="c", actor="a", outcome="ok")
    )
    with pytest.raises(DBAPIError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text(statement))
    assert len(database.integrations().events()) == 1
