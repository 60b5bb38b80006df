"""The exchange's single-use secrets across processes: two service instances on one
database (or one Redis) are two processes of a fleet; a nonce or a pre-authorized code
raced between them is spent exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from certdist.services.openid4vci.grants import Grant, GrantStore
from certdist.wiring import Services
from tests.support.environment import REDIS_URL, redis_reachable, require
from tests.support.services import ServicesFactory

GRANT = Grant("BEN0001", "VaccinationCertificate", "vaccination_sd_jwt_vc", "a", "b", "distribute")


@pytest.fixture(params=["database", "redis"])
def two_processes(request: pytest.FixtureRequest, make_services: ServicesFactory) -> list[Services]:
    fields: dict[str, Any] = {}
    if request.param == "redis":
        require(redis_reachable(), "Redis is not running on 127.0.0.1:6379")
        fields["redis_url"] = REDIS_URL
    first = make_services(**fields)
    return [first, make_services(first.settings)]


def stores(processes: list[Services]) -> list[GrantStore]:
    return [GrantStore(p.infrastructure.state, p.infrastructure.hasher) for p in processes]


def test_a_nonce_is_spent_once(two_processes: list[Services]) -> None:
    grants = stores(two_processes)
    for _ in range(5):
        c_nonce = two_processes[0].openid4vci.credentials.nonce("127.0.0.1")["c_nonce"]
        with ThreadPoolExecutor(8) as pool:
            spent = list(pool.map(lambda i, n=c_nonce: grants[i % 2].spend_nonce(n), range(8)))
        assert spent.count(True) == 1


def test_a_pre_authorized_code_is_taken_once(two_processes: list[Services]) -> None:
    grants = stores(two_processes)
    for attempt in range(5):
        code = f"code-{attempt}"
        grants[0].put_grant("code", code, GRANT, 60)
        assert grants[1].grant("code", code) == GRANT
        with ThreadPoolExecutor(8) as pool:
            taken = list(pool.map(lambda i, c=code: grants[i % 2].take_grant("code", c), range(8)))
        assert [t for t in taken if t is not None] == [GRANT]
