"""The ``certdist`` command in tests, run in-process (click's ``CliRunner``) with settings
from environment variables, as a user sets them."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from certdist.cli import main


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
