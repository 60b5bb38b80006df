"""What the deployment recipes (``deploy/``: compose and Kubernetes) are checked against: the
settings certdist really has, the image's entry point and commands, the routes it serves.

Shared by ``tests/deploy/test_compose.py`` and ``tests/deploy/test_kubernetes_manifests.py``,
so that both recipes are held to the same facts.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

import pytest
from click.testing import CliRunner, Result
from pydantic import BaseModel

from certdist.cli import main
from certdist.config import Settings
from certdist.wiring import Services
from tests.support.clients import client_for
from tests.support.environment import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
CONTAINERFILE = PROJECT_ROOT / "Containerfile"
#: The settings files both recipes load (compose reads the Kubernetes base's, one list).
SETTINGS_ENV = DEPLOY / "kubernetes" / "base" / "settings.env"
PREFIX = "CERTDIST_"
NESTED = "__"


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines as kustomize's ``envs`` and compose's ``env_file`` read them:
    ``#`` comments and blank lines skipped, the value taken as written."""
    variables = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, separator, value = line.partition("=")
        assert separator, f"{path}: {line!r} is no KEY=VALUE line"
        variables[name.strip()] = value
    return variables


def unknown_setting_names(names: Iterable[str]) -> list[str]:
    """The ``CERTDIST_*`` names among ``names`` that name no setting: pydantic would ignore a
    misspelt top-level name silently, leaving the default in force."""
    unknown = []
    for name in names:
        if not name.startswith(PREFIX):
            continue
        top, _, nested = name.removeprefix(PREFIX).lower().partition(NESTED)
        field = Settings.model_fields.get(top)
        if field is None:
            unknown.append(name)
        elif nested:
            section = field.annotation
            is_section = isinstance(section, type) and issubclass(section, BaseModel)
            if not is_section or nested not in section.model_fields:
                unknown.append(name)
    return unknown


def production_settings(
    environment: Mapping[str, str], monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The settings a container with exactly ``environment`` would run with, checked as
    production mode checks them at start (``Settings.check``)."""
    for name in [name for name in os.environ if name.startswith(PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.is_production, "the recipe must run certdist in production mode"
    settings.check()
    return settings


def files_read(settings: Settings) -> set[PurePosixPath]:
    """Every file the settings tell certdist to read: keys, certificates, the secret."""
    paths = [key.path for key in settings.keys]
    paths += settings.wallet.dcc_dsc_certificate_files
    paths += [settings.secret_key_file, settings.digilocker.api_key_file]
    return {PurePosixPath(path) for path in paths if path is not None}


def under(path: PurePosixPath, folders: Iterable[str]) -> bool:
    return any(path.is_relative_to(folder) for folder in folders)


def image_entrypoint() -> list[str]:
    """The Containerfile's ENTRYPOINT (exec form)."""
    found = re.search(r"^ENTRYPOINT\s+(\[.*\])\s*$", CONTAINERFILE.read_text(), re.MULTILINE)
    assert found, "the Containerfile has no ENTRYPOINT in exec form"
    entrypoint: list[str] = json.loads(found.group(1))
    return entrypoint


def cli_commands() -> set[str]:
    """The subcommands of ``certdist`` (what a container's arguments may start with)."""
    return set(main.commands)


def probe_status(services: Services, path: str) -> int:
    """What the application answers a probe's GET of ``path`` (a renamed route: 404)."""
    with client_for(services) as client:
        return client.get(path).status_code


#: Where the recipes put the files certdist reads (settings.env names them there).
SECRET_FILES = PurePosixPath("/run/certdist/secrets")


def development_secret_files(folder: Path) -> Path:
    """A folder holding every file the recipes mount, under the recipes' names, made from a
    development key folder (``certdist init`` in development mode generates each kind:
    signing keys, a DSC for the dcc key, the service's secret)."""
    data = folder / "development"
    result = CliRunner().invoke(main, ["init"], env={"CERTDIST_DATA_DIR": str(data)})
    assert result.exit_code == 0, result.output
    keys = data / "keys"
    manifest = json.loads((keys / "keys.json").read_text())["keys"]
    sources = {f"{key['use']}-key.pem": keys / key["file"] for key in manifest}
    [dsc] = keys.glob("dcc-dsc-*.crt")
    sources |= {"dcc-dsc.pem": dsc, "secret-key": keys / "app-secret"}
    secrets = folder / "secrets"
    secrets.mkdir()
    for name, source in sources.items():
        (secrets / name).write_bytes(source.read_bytes())
    (secrets / "digilocker-api-key").write_text("stand-in DigiLocker key")
    for path in secrets.iterdir():
        path.chmod(0o600)  # what the pods' init container does
    return secrets


def run_on_this_machine(
    environment: Mapping[str, str], folder: Path, secrets: Path, monkeypatch: pytest.MonkeyPatch
) -> Result:
    """``certdist init`` here with a container's environment: its secret files read
    from ``secrets``, its data folder, database (SQLite) and print folder in ``folder``."""
    moved = {
        name: value.replace(str(SECRET_FILES), str(secrets)) for name, value in environment.items()
    }
    moved |= {
        "CERTDIST_DATA_DIR": str(folder / "data"),
        "CERTDIST_DATABASE_URL": f"sqlite:///{folder / 'certdist.db'}",
        "CERTDIST_PRINTING__BATCH_DIR": str(folder / "prints"),
    }
    for name in [name for name in os.environ if name.startswith(PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in moved.items():
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(main, ["init"])
