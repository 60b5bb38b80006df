"""An API client over a real database (SQLite and PostgreSQL) and real keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from certdist.config import Settings
from certdist.web.app import create_app
from certdist.wiring import Services, build_services

TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def settings(tmp_path: Path, migrated_database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=migrated_database_url, log_json=False)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build_services(settings)
    yield built
    built.close()


@pytest.fixture
def client(settings: Settings, services: Services) -> Iterator[TestClient]:
    with TestClient(
        create_app(settings, services=services), raise_server_exceptions=False
    ) as test_client:
        yield test_client


@pytest.fixture
def auth(services: Services) -> TokenFactory:
    """``auth("certificate-issuer")`` → an Authorization header with those roles."""

    def headers(
        *roles: str, username: str = "facility-1", mobile: str | None = None
    ) -> dict[str, str]:
        assert services.access.local_issuer is not None
        token = services.access.local_issuer.mint(roles, username=username, mobile=mobile)
        return {"Authorization": f"Bearer {token}"}

    return headers
