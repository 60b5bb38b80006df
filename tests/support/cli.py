"""The ``certdist`` command in tests, run in-process (click's ``CliRunner``) with settings
from environment variables, as a user sets them.

A pytest plugin (``tests/conftest.py``) for the ``cli_env`` fixture.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from certdist.cli import main
from tests.support.services import ServicesFactory


class Cli:
    """Runs ``certdist`` with a data directory and database of its own; an exception the
    command does not handle fails the test."""

    def __init__(self, data_dir: Path, database_url: str) -> None:
        self.env = {
            "CERTDIST_DATA_DIR": str(data_dir),
            "CERTDIST_DATABASE_URL": database_url,
            "CERTDIST_LOG_JSON": "false",
        }

    def __call__(self, *args: str, extra_env: dict[str, str] | None = None) -> Result:
        env = {**self.env, **(extra_env or {})}
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def cli_env(make_services: ServicesFactory) -> dict[str, str]:
    """The environment that points ``certdist`` at the data folder and database of
    ``make_services`` (so of ``services``), logging warnings and errors only: for tests that
    invoke the command themselves (standard input, the exit code of an unexpected error)."""
    cli = Cli(make_services.data_dir, make_services.database_url)
    return {**cli.env, "CERTDIST_LOG_LEVEL": "WARNING"}


@contextmanager
def worker_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real ``certdist worker`` process (fault tests kill it), its output appended to
    ``log``; killed, if still running, when the block ends."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "certdist.cli", "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=15)
