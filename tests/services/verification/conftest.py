"""Services on SQLite and PostgreSQL with the verifier under test (``make_services`` takes
verifier settings and ``build_services`` overrides)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certdist.config import Settings, VerifierSettings
from certdist.wiring import Services, build_services
from tests.services.verification.samples import ServicesFactory


@pytest.fixture
def make_services(tmp_path: Path, migrated_database_url: str) -> Iterator[ServicesFactory]:
    built: list[Services] = []

    def make(verifier: VerifierSettings | None = None, **overrides: Any) -> Services:
        settings = Settings(
            data_dir=tmp_path / "data",
            database_url=migrated_database_url,
            log_json=False,
            verifier=verifier or VerifierSettings(),
        )
        services = build_services(settings, **overrides)
        built.append(services)
        return services

    yield make
    for services in built:
        services.close()


@pytest.fixture
def services(make_services: ServicesFactory) -> Services:
    return make_services()
