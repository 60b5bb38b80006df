"""The prepared reads on PostgreSQL (``Transactions.fetch``, behind every download): one round
trip to the server each, and a connection the server dropped costs no failed read."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO, Any

import psycopg
import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool

from certdist.storage import Database
from tests.storage.conftest import MakeCertificate
from tests.support.databases import TEST_DEADLINE_SECONDS

pytestmark = pytest.mark.postgres


@pytest.fixture
def protocol_trace() -> Iterator[IO[bytes]]:
    """libpq's trace of every PostgreSQL connection opened during the test: the messages
    each side sent, one a line ("F" from us, "B" from the server)."""
    traced: list[psycopg.Connection[Any]] = []

    def start_tracing(dbapi_connection: psycopg.Connection[Any], _record: object) -> None:
        dbapi_connection.pgconn.trace(trace.fileno())
        dbapi_connection.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        traced.append(dbapi_connection)

    with tempfile.TemporaryFile() as trace:
        event.listen(Pool, "connect", start_tracing)
        try:
            yield trace
        finally:
            event.remove(Pool, "connect", start_tracing)
            for connection in traced:
                if not connection.closed:
                    connection.pgconn.untrace()


def _round_trips_after(trace: IO[bytes], offset: int) -> list[str]:
    """The server's "ready for the next query" messages written since ``offset``: one per
    round trip."""
    trace.seek(offset)
    lines = trace.read().decode().splitlines()
    return [line for line in lines if "\tReadyForQuery" in line]


def test_a_prepared_read_is_one_round_trip(
    postgresql_module_database_url: str,
    make_certificate: MakeCertificate,
    protocol_trace: IO[bytes],
) -> None:
    with Database(postgresql_module_database_url, deadline_seconds=TEST_DEADLINE_SECONDS) as db:
        db.certificates().add(
            [make_certificate(certificate_id="100000000071", pre_enrollment_code="BEN-TRIPS")]
        )
        db.certificates().for_beneficiary("BEN-TRIPS")  # a pooled connection, now in use
        before = protocol_trace.seek(0, 2)
        records = db.certificates().for_beneficiary("BEN-TRIPS")
        assert [r.pre_enrollment_code for r in records] == ["BEN-TRIPS"]
        # No ping before it, no BEGIN, no ROLLBACK after it: the connection stays idle.
        assert [line.split("\t")[-1].strip() for line in _round_trips_after(
            protocol_trace, before
        )] == ["I"]  # fmt: skip


def _drop_connections(database: Database) -> int:
    """End every other session on the test's database, as a server restart would."""
    with database.transactions.read() as connection:
        ended = connection.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).scalar_one()
    return int(ended)


def test_a_read_on_a_connection_the_server_dropped_is_made_again_on_a_new_one(
    postgresql_module_database_url: str, make_certificate: MakeCertificate
) -> None:
    with Database(postgresql_module_database_url, deadline_seconds=TEST_DEADLINE_SECONDS) as db:
        db.certificates().add(
            [make_certificate(certificate_id="100000000072", pre_enrollment_code="BEN-DROPPED")]
        )
        assert len(db.certificates().for_beneficiary("BEN-DROPPED")) == 1
        assert _drop_connections(db) >= 1
        # The pooled read connection is gone; the read still answers, from a new one.
        assert len(db.certificates().for_beneficiary("BEN-DROPPED")) == 1
        assert len(db.certificates().for_beneficiary("BEN-DROPPED")) == 1
