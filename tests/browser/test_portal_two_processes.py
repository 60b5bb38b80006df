"""Two server processes on one PostgreSQL database and one Redis (DESIGN §5): a code asked
for on one process is accepted by the other, and the session works on both."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
import redis

from certdist.config import Settings
from certdist.services.issuance.demo import DEMO_MOBILE, seed_demo
from tests.support.environment import require
from tests.support.loopback import free_port
from tests.support.portal import csrf_of, outbox_reader, wait_for_code
from tests.support.services import ServicesFactory

pytestmark = pytest.mark.postgres

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_problem() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture
def make_services(tmp_path: Path, postgresql_database_url: str) -> Iterator[ServicesFactory]:
    """This module's services: on a new PostgreSQL database only (unmigrated), which the
    server processes share."""
    with closing(ServicesFactory(tmp_path / "data", postgresql_database_url)) as factory:
        yield factory


@pytest.fixture
def settings(make_services: ServicesFactory) -> Settings:
    problem = _redis_problem()
    require(problem is None, f"Redis not reachable at {REDIS_URL} ({problem})")
    return make_services.settings(redis_url=REDIS_URL)


@pytest.fixture
def servers(make_services: ServicesFactory, settings: Settings) -> Iterator[list[str]]:
    """Two uvicorn processes, as ``certdist serve`` starts workers: settings from the
    environment, the schema migrated (and demo data issued) once beforehand."""
    seed_demo(make_services(settings).issuance.certificates)
    environment = {
        **os.environ,
        "CERTDIST_DATA_DIR": str(settings.data_dir),
        "CERTDIST_DATABASE_URL": str(settings.database_url),
        "CERTDIST_REDIS_URL": REDIS_URL,
        "CERTDIST_LOG_JSON": "false",
        "CERTDIST_ACCESS_LOG": "false",
    }
    processes, urls = [], []
    for _ in range(2):
        port = free_port()
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "certdist.web.app:app_from_environment",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for process, url in zip(processes, urls, strict=True):
            _wait_until_ready(process, url)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_ready(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            assert process.stderr is not None
            raise AssertionError(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not start within 60 s")


def test_a_code_asked_on_one_process_is_accepted_by_the_other(
    servers: list[str], make_services: ServicesFactory, settings: Settings
) -> None:
    first, second = servers
    services = make_services(settings, migrate=False)
    # Cookies belong to the host, not the port: one client talks to both processes.
    with httpx.Client(timeout=30) as browser:
        token = csrf_of(browser.get(f"{first}/portal/login").text)
        asked = browser.post(
            f"{first}/portal/login", data={"mobile": DEMO_MOBILE, "csrf_token": token}
        )
        assert asked.status_code == 303
        code = wait_for_code(outbox_reader(services.messaging.dev_inbox), DEMO_MOBILE)
        assert browser.get(f"{second}/portal/verify").status_code == 200
        accepted = browser.post(f"{second}/portal/verify", data={"code": code, "csrf_token": token})
        assert accepted.headers["location"] == "/portal/certificates"
        for server in (first, second):
            page = browser.get(f"{server}/portal/certificates")
            assert page.status_code == 200
            assert "Asha Devi" in page.text
        again = browser.post(f"{first}/portal/verify", data={"code": code, "csrf_token": token})
        # The login is over on every process: its pre-session is gone with the code.
        assert again.status_code == 403
    keys = redis.Redis.from_url(REDIS_URL).keys("certdist:session:*")
    assert keys, "the session lives in Redis"
