"""Database fixtures for every test that stores something (a pytest plugin, registered for
the whole suite in ``tests/conftest.py``).

``database`` is the fixture most tests want: a migrated, empty
:class:`certdist.storage.Database`, parametrised so that each test runs once on SQLite and
once on PostgreSQL (ids ``[sqlite]`` / ``[postgresql]``; the PostgreSQL runs carry the
``postgres`` marker, so ``-m "not postgres"`` leaves them out).

Isolation, safe under pytest-xdist: SQLite gets a new file per test. PostgreSQL gets a
database of its own per test module — ``CREATE DATABASE certdist_test_<random>`` on the
server, migrated once and dropped after the module — whose rows are deleted after every test.
(Creating and migrating a database costs about half a second; emptying one a few
milliseconds.)

The fixtures, all parametrised over both backends:

* ``database`` — a migrated, empty ``Database`` (disposed after the test);
* ``migrated_database_url`` — the URL of such a database, for code that opens its own
  (the whole service: ``make_services`` in ``tests/support/services.py``);
* ``database_url`` — the URL of a brand-new, unmigrated database (a fresh PostgreSQL
  database per test, slower), for tests of migrations and startup.

Single-backend variants: ``sqlite_database_url``, ``postgresql_database_url`` (fresh,
unmigrated), ``postgresql_module_database_url`` (migrated, shared by the module, not emptied).

The PostgreSQL server is ``postgresql+psycopg://postgres@127.0.0.1:5432/test`` unless
``CERTDIST_TEST_POSTGRES_URL`` names another; its database is only used to create and drop
the test databases. When the server cannot be reached, PostgreSQL runs skip (or fail under
``CERTDIST_TEST_STRICT=1``) through :func:`tests.support.environment.require`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import psycopg
import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from certdist.storage import Database
from tests.support.environment import require

POSTGRES_URL_VARIABLE = "CERTDIST_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TEST_DATABASE_PREFIX = "certdist_test_"
#: Generous, so a busy CI machine does not turn a slow answer into StorageUnavailable.
TEST_DEADLINE_SECONDS = 10.0

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@cache
def _postgres_problem(url: str) -> str | None:
    """Why the server at ``url`` cannot be used, or None; asked once per process."""
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


@pytest.fixture(scope="session")
def postgresql_admin_url() -> str:
    """URL of the server's maintenance database, used to create and drop test databases."""
    url = os.environ.get(POSTGRES_URL_VARIABLE) or DEFAULT_POSTGRES_URL
    shown = make_url(url).render_as_string(hide_password=True)
    problem = _postgres_problem(url)
    require(problem is None, f"PostgreSQL not reachable at {shown} ({problem})")
    return url


@contextmanager
def new_postgresql_database(admin_url: str) -> Iterator[str]:
    name = TEST_DATABASE_PREFIX + secrets.token_hex(6)
    admin = create_engine(
        make_url(admin_url).set(drivername="postgresql+psycopg"),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
    )
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            # FORCE ends connections a failed test may have left open.
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def postgresql_database_url(postgresql_admin_url: str) -> Iterator[str]:
    """URL of a new, empty, unmigrated PostgreSQL database, dropped after the test."""
    with new_postgresql_database(postgresql_admin_url) as url:
        yield url


@pytest.fixture
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of a new SQLite file in a folder of its own (which does not exist yet)."""
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'data' / 'certdist.db'}"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """URL of a new, empty, unmigrated database; the test runs once per backend."""
    url: str = request.getfixturevalue(f"{request.param}_database_url")
    return url


@pytest.fixture(scope="module")
def postgresql_module_database_url(postgresql_admin_url: str) -> Iterator[str]:
    """URL of a migrated PostgreSQL database shared by one test module, dropped after it."""
    with new_postgresql_database(postgresql_admin_url) as url:
        with Database(url, deadline_seconds=TEST_DEADLINE_SECONDS) as db:
            db.migrate()
        yield url


@pytest.fixture(params=BACKENDS)
def migrated_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a migrated database with no rows; the test runs once per backend.

    For tests that build their own ``Database`` (or the whole service) from a URL. Emptied
    after the test, so whatever the test opened on it must be closed by then.
    """
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_database_url")
        with Database(url, deadline_seconds=TEST_DEADLINE_SECONDS) as db:
            db.migrate()
        yield url
        return
    url = request.getfixturevalue("postgresql_module_database_url")
    try:
        yield url
    finally:
        _delete_all_rows(url)


@pytest.fixture
def database(migrated_database_url: str) -> Iterator[Database]:
    """A migrated, empty ``Database``; the test runs once on SQLite, once on PostgreSQL."""
    with Database(migrated_database_url, deadline_seconds=TEST_DEADLINE_SECONDS) as db:
        yield db


def _delete_all_rows(url: str) -> None:
    """Empty every table but Alembic's, children before parents (foreign keys).

    DELETE rather than TRUNCATE: on a handful of rows it takes milliseconds, where TRUNCATE
    of a partitioned table rewrites every partition's files. (Partitions are listed as
    tables too; deleting from them again is harmless.)
    """
    # A bounded wait: a test that leaked an open transaction fails here instead of hanging.
    options = f"-c statement_timeout={int(TEST_DEADLINE_SECONDS * 1000)}"
    engine = create_engine(url, poolclass=NullPool, connect_args={"options": options})
    try:
        sorted_tables = inspect(engine).get_sorted_table_and_fkc_names()
        names = [name for name, _ in reversed(sorted_tables) if name and name != "alembic_version"]
        with engine.begin() as connection:
            # The audit table refuses DELETE through a trigger; replica mode (superuser only)
            # skips triggers for this cleanup transaction.
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
            for name in names:
                # Names come from the database's own catalogue, not from input.
                connection.exec_driver_sql(f'DELETE FROM "{name}"')  # noqa: S608
    finally:
        engine.dispose()
