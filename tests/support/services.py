"""The whole service (``Services``) for tests, built the way ``certdist`` builds it
(:func:`certdist.wiring.build_services`) with test settings, and closed after the test.

A pytest plugin (``tests/conftest.py``). The fixtures:

* ``make_services`` — a :class:`ServicesFactory` on the test's database, which is
  parametrised (``migrated_database_url``: each test runs once on SQLite, once on
  PostgreSQL). ``make_services()`` builds the standard service; keyword arguments change
  settings fields (``make_services(portal=PortalSettings(...))``) or pass ``clock``, ``ids``
  and ``migrate`` on to ``build_services``; ``make_services.settings(**fields)`` gives the
  settings alone, for a test that builds from them later. Whatever it built is closed after
  the test.
* ``make_sqlite_services`` — the same on SQLite only, for tests that need one backend.
* ``settings`` — the test settings. A module that needs other settings for all its tests
  overrides this fixture (``return make_services.settings(printing=...)``), and
  ``services``, ``client`` and ``auth`` follow.
* ``services`` — ``make_services(settings)``. A module whose tests all need a special
  service (a fixed clock, a seeded database) overrides it, usually with one call of
  ``make_services``; an override can take the standard ``services`` and add to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from certdist.config import Settings
from certdist.services.common.clock import Clock
from certdist.services.issuance.ids import CertificateIdGenerator
from certdist.wiring import Services, build_services


class ServicesFactory:
    """Builds ``Services`` with test settings on one database; closes them all at the end.

    The settings: a data folder (keys, uploads) of the test's own, ``data_dir``, unless a
    call names another (a second deployment with other keys), the database at
    ``database_url``, plain-text logs.
    """

    def __init__(self, data_dir: Path, database_url: str) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self._built: list[Services] = []

    def settings(self, **fields: Any) -> Settings:
        """The test settings with ``fields`` changed."""
        defaults: dict[str, Any] = {
            "data_dir": self.data_dir,
            "database_url": self.database_url,
            "log_json": False,
        }
        return Settings(**{**defaults, **fields})

    def __call__(
        self,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        ids: CertificateIdGenerator | None = None,
        migrate: bool = True,
        **fields: Any,
    ) -> Services:
        """``build_services`` of ``settings``, or of the test settings with ``fields``."""
        if settings is None:
            settings = self.settings(**fields)
        elif fields:
            raise TypeError(f"settings given, so these fields are not used: {sorted(fields)}")
        built = build_services(settings, clock=clock, ids=ids, migrate=migrate)
        self._built.append(built)
        return built

    def close(self) -> None:
        """Closes every service built, newest first (``contextlib.closing`` calls this)."""
        while self._built:
            self._built.pop().close()


@pytest.fixture
def make_services(tmp_path: Path, migrated_database_url: str) -> Iterator[ServicesFactory]:
    """Builds services on a migrated, empty database; once on SQLite, once on PostgreSQL."""
    with closing(ServicesFactory(tmp_path / "data", migrated_database_url)) as factory:
        yield factory


@pytest.fixture
def make_sqlite_services(tmp_path: Path, sqlite_database_url: str) -> Iterator[ServicesFactory]:
    """Builds services on a new SQLite database (migrated by the first build)."""
    with closing(ServicesFactory(tmp_path / "data", sqlite_database_url)) as factory:
        yield factory


@pytest.fixture
def settings(make_services: ServicesFactory) -> Settings:
    return make_services.settings()


@pytest.fixture
def services(make_services: ServicesFactory, settings: Settings) -> Services:
    return make_services(settings)
