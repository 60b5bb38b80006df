"""Database: URLs, engine settings, migrations, deadlines — on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from certdist.domain.models import CertificateRecord
from certdist.errors import ConfigurationError, StorageUnavailable
from certdist.storage import Database
from certdist.storage.engine import normalise_url
from certdist.storage.schema import CERTIFICATE_PARTITIONS, metadata
from tests.support.loopback import free_port

TABLES = {"certificates", "certificate_ids", "uploads", "upload_errors", "token_status_entries"}


# --- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw@db.example:5432/certdist",
        "postgres://u:pw@db.example:5432/certdist",
        "postgresql+psycopg://u:pw@db.example:5432/certdist",
    ],
)
def test_postgresql_urls_are_pinned_to_psycopg(url: str) -> None:
    assert normalise_url(url).drivername == "postgresql+psycopg"


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "mysql://u@h/db", "postgresql+psycopg2://u@h/db"]
)
def test_unusable_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError):
        Database(url)


def test_repr_hides_the_password() -> None:
    db = Database("postgresql://user:s3cret@127.0.0.1:1/x")
    assert "s3cret" not in repr(db)
    db.dispose()


def test_sqlite_creates_the_parent_folders(sqlite_database_url: str) -> None:
    path = make_url(sqlite_database_url).database
    assert path is not None
    with Database(sqlite_database_url) as db:
        db.certificates().ping()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)


# --- migrations ----------------------------------------------------------------------------


def test_migrate_from_empty_and_again_is_a_no_op(database_url: str) -> None:
    with Database(database_url) as db:
        assert db.current_revision() is None
        db.migrate()
        assert db.current_revision() == Database.head_revision() == "0013_upload_jobs"
        assert set(inspect(db.engine).get_table_names()) >= TABLES
        db.migrate()
        assert db.current_revision() == "0013_upload_jobs"


def test_concurrent_migrations_both_succeed(database_url: str) -> None:
    """Several processes starting at once must not trip over each other's migration."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            with Database(database_url, deadline_seconds=10) as db:
                barrier.wait()
                db.migrate()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Database(database_url) as db:
        assert db.current_revision() == Database.head_revision()


def test_migration_creates_exactly_the_schema_module(database: Database) -> None:
    """schema.py (what the code queries) and the migrations (what exists) must not drift."""

    def ignore_partitions(name: str | None, type_: str, *_: object) -> bool:
        return not (type_ == "table" and name is not None and name.startswith("certificates_p"))

    with database.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_name": ignore_partitions, "compare_type": True}
        )
        assert compare_metadata(context, metadata) == []


def test_live_dose_index_is_partial_and_unique(database: Database) -> None:
    indexes = {ix["name"]: ix for ix in inspect(database.engine).get_indexes("certificates")}
    live = indexes["uq_certificates_live_dose"]
    assert live["unique"]
    assert live["column_names"] == ["pre_enrollment_code", "entity_type", "program_id", "dose"]
    where = live.get("dialect_options", {}).get(f"{database.dialect}_where")
    assert where is not None
    assert "superseded_by IS NULL" in str(where)
    assert "revoked_at IS NULL" in str(where)
    assert {"ix_certificates_pre_enrollment_code", "ix_certificates_mobile"} <= set(indexes)


@pytest.mark.postgres
def test_postgresql_certificates_are_hash_partitioned(postgresql_database_url: str) -> None:
    with Database(postgresql_database_url) as db:
        db.migrate()
        with db.engine.connect() as connection:
            strategy = connection.execute(
                text(
                    "SELECT p.partstrat, a.attname FROM pg_partitioned_table p "
                    "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
                    "WHERE p.partrelid = 'certificates'::regclass"
                )
            ).one()
            partitions = connection.execute(
                text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'certificates'::regclass")
            ).scalar_one()
    assert tuple(strategy) == ("h", "pre_enrollment_code")
    assert partitions == CERTIFICATE_PARTITIONS


# --- connection settings -------------------------------------------------------------------


def test_sqlite_pragmas(sqlite_database_url: str) -> None:
    with Database(sqlite_database_url, deadline_seconds=2.5) as db, db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 2500
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -512  # KiB per connection


@pytest.mark.postgres
def test_postgresql_session_has_deadlines(postgresql_database_url: str) -> None:
    with Database(postgresql_database_url, deadline_seconds=2.5) as db, db.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "2500ms"
        assert conn.exec_driver_sql("SHOW TimeZone").scalar() == "UTC"
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        params = dbapi.info.get_parameters()  # type: ignore[attr-defined]
    assert params["connect_timeout"] == "3"
    assert params["tcp_user_timeout"] == "2500"
    assert params["keepalives"] == "1"
    assert params["keepalives_idle"] == "3"


@pytest.mark.postgres
def test_postgresql_url_parameters_win_over_defaults(postgresql_database_url: str) -> None:
    url = f"{postgresql_database_url}?connect_timeout=7&options=-c%20search_path%3Dpg_catalog"
    with Database(url, deadline_seconds=2.5) as db, db.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW search_path").scalar() == "pg_catalog"
        assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "2500ms"
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        assert dbapi.info.get_parameters()["connect_timeout"] == "7"  # type: ignore[attr-defined]


# --- unreachable or stuck databases --------------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    return free_port()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (a frozen server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def _unavailable_url(backend: str, port: int, tmp_path_str: str) -> str:
    if backend == "postgresql":
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"
    # The "file" is a folder: SQLite cannot open it.
    return f"sqlite:///{tmp_path_str}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_unreachable_database_raises_storage_unavailable(
    backend: str, closed_port: int, tmp_path: object
) -> None:
    db = Database(_unavailable_url(backend, closed_port, str(tmp_path)), deadline_seconds=1)
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        db.certificates().ping()
    with pytest.raises(StorageUnavailable):
        db.uploads().get("u-1")
    with pytest.raises(StorageUnavailable):
        db.certificates().for_beneficiary("BEN-0001")  # the prepared hot read
    with pytest.raises(StorageUnavailable):
        db.migrate()
    assert time.monotonic() - started < 10
    db.dispose()


def test_silent_postgresql_server_times_out(silent_server: int) -> None:
    db = Database(f"postgresql://postgres@127.0.0.1:{silent_server}/test", deadline_seconds=1)
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        db.certificates().ping()
    # libpq's connect timeout counts whole seconds, at least 2.
    assert time.monotonic() - started < 6
    db.dispose()


def test_lock_wait_is_bounded_by_the_deadline(
    database: Database, make_certificate: Callable[..., CertificateRecord]
) -> None:
    """A writer stuck behind someone else's lock gives up after the deadline."""
    url = database.engine.url.render_as_string(hide_password=False)
    with _lock_held(database), Database(url, deadline_seconds=1) as impatient:
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            impatient.certificates().add([make_certificate()])
        assert time.monotonic() - started < 8
    assert database.certificates().for_beneficiary("BEN-0001") == []


@contextmanager
def _lock_held(database: Database) -> Iterator[None]:
    """Another client holding the write lock (SQLite) or a table lock (PostgreSQL)."""
    url = database.engine.url
    if database.dialect == "sqlite":
        assert url.database is not None
        holder = sqlite3.connect(url.database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
        return
    blocker = create_engine(url, poolclass=NullPool)
    try:
        with blocker.connect() as connection:
            connection.exec_driver_sql("LOCK TABLE certificate_ids IN ACCESS EXCLUSIVE MODE")
            yield
            connection.rollback()
    finally:
        blocker.dispose()


# --- observing statements (tracing) ----------------------------------------------------------


def test_an_observer_wraps_every_statement_with_its_sql_and_never_its_values(
    database: Database, make_certificate: Callable[..., CertificateRecord]
) -> None:
    """Those the engine executes and the prepared reads, which bypass its events."""
    certificates = database.certificates()
    seen: list[tuple[str, str, type[BaseException] | None]] = []

    @contextmanager
    def observer(dialect: str, sql: str) -> Iterator[None]:
        try:
            yield
        except BaseException as exc:
            seen.append((dialect, sql, type(exc)))
            raise
        seen.append((dialect, sql, None))

    database.observe(observer)
    certificates.add([make_certificate(pre_enrollment_code="OBSERVED42", name="Obi Served")])
    assert [r.pre_enrollment_code for r in certificates.for_beneficiary("OBSERVED42")] == [
        "OBSERVED42"
    ]
    with pytest.raises(Exception, match="no_such_table"), database.transactions.read() as sql:
        sql.execute(text("SELECT * FROM no_such_table"))

    verbs = [s.split(None, 1)[0].upper() for _, s, _ in seen]
    assert "INSERT" in verbs
    assert verbs.count("SELECT") >= 2  # the prepared read and the failing one
    assert {dialect for dialect, _, _ in seen} == {database.dialect}
    assert [sql for _, sql, error in seen if error is not None] == ["SELECT * FROM no_such_table"]
    assert not [sql for _, sql, _ in seen if "OBSERVED42" in sql or "Obi Served" in sql]
