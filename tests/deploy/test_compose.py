"""The compose recipe (``deploy/compose.yaml``), read as compose reads it (``${…}`` filled
from ``deploy/.env.example``, the settings file it loads, YAML merge keys) and checked
against what certdist really is: its settings, routes, port, entry point and commands.

``docker compose config`` is not used: no compose v2 is installed here, and Debian bookworm
packages only the retired Python docker-compose 1.x, whose verdict on today's compose
specification would prove little. These checks need nothing but the files.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from certdist.cli import GRACEFUL_SHUTDOWN_SECONDS
from certdist.config import Settings
from tests.support.deployment import (
    DEPLOY,
    SETTINGS_ENV,
    cli_commands,
    development_secret_files,
    files_read,
    probe_status,
    production_settings,
    read_env_file,
    run_on_this_machine,
    unknown_setting_names,
)
from tests.support.services import ServicesFactory

COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
COMMANDS = {"migrate": "init", "web": "serve", "worker": "worker"}
# $$ is a literal $; ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}.
VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<how>:?[-?])(?P<word>[^}]*))?\}")


def interpolate(value: Any, variables: dict[str, str], used: set[str]) -> Any:
    """``value`` with compose's ``${…}`` filled from ``variables``; a required one missing
    fails, as ``docker compose`` stops."""
    if isinstance(value, dict):
        return {key: interpolate(item, variables, used) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, variables, used) for item in value]
    if not isinstance(value, str):
        return value

    def fill(found: re.Match[str]) -> str:
        name = found["name"]
        if name is None:
            return "$"
        used.add(name)
        if name in variables and (variables[name] or not (found["how"] or "").startswith(":")):
            return variables[name]
        assert not (found["how"] or "").endswith("?"), f"${{{name}}}: {found['word']}"
        return found["word"] or ""

    return VARIABLE.sub(fill, value)


@pytest.fixture(scope="module")
def variables_used() -> set[str]:
    return set()


@pytest.fixture(scope="module")
def compose(variables_used: set[str]) -> dict[str, Any]:
    text = yaml.safe_load(COMPOSE.read_text())  # merge keys (<<) resolved
    example: dict[str, Any] = interpolate(text, read_env_file(ENV_EXAMPLE), variables_used)
    return example


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"][name]
    return found


def environment(compose: dict[str, Any], name: str) -> dict[str, str]:
    """The variables a service's container starts with: its env_files, then environment."""
    definition = service(compose, name)
    variables: dict[str, str] = {}
    for file in definition.get("env_file", []):
        variables.update(read_env_file(DEPLOY / file))
    variables.update({key: str(value) for key, value in definition["environment"].items()})
    return variables


@pytest.fixture
def settings_of(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    return lambda name: production_settings(environment(compose, name), monkeypatch)


def test_the_settings_file_is_the_kubernetes_bases(compose: dict[str, Any]) -> None:
    for name in COMMANDS:
        assert [DEPLOY / file for file in service(compose, name)["env_file"]] == [SETTINGS_ENV]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_setting_is_real_and_enough_for_production(
    compose: dict[str, Any], settings_of: Any, name: str
) -> None:
    assert unknown_setting_names(environment(compose, name)) == []
    settings: Settings = settings_of(name)
    mounted = {PurePosixPath(secret["target"]) for secret in service(compose, name)["secrets"]}
    assert files_read(settings) == mounted
    for secret in service(compose, name)["secrets"]:
        assert secret["source"] in compose["secrets"]
    volumes = {
        entry.partition(":")[2]: entry.partition(":")[0]
        for entry in service(compose, name)["volumes"]
    }
    assert volumes[str(settings.data_dir)] in compose["volumes"]
    # A worker writes print outputs that the web service serves: one volume for both.
    assert settings.printing.batch_dir is not None
    assert settings.printing.batch_dir.is_relative_to(settings.data_dir)


def test_the_migration_services_environment_initialises_certdist_in_production(
    compose: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = development_secret_files(tmp_path)
    result = run_on_this_machine(environment(compose, "migrate"), tmp_path, secrets, monkeypatch)
    assert result.exit_code == 0, result.output


def test_images_and_commands_are_the_containerfiles(compose: dict[str, Any]) -> None:
    images, volumes = set(), set()
    for name, command in COMMANDS.items():
        definition = service(compose, name)
        assert "entrypoint" not in definition  # the image's: certdist
        assert definition["command"] == [command]
        assert command in cli_commands()
        assert definition["read_only"] is True
        images.add(definition["image"])
        volumes.add(tuple(definition["volumes"]))
    assert len(images) == 1
    assert len(volumes) == 1, "web, worker and migration share the data volume"


def test_migrations_run_once_before_web_and_worker(compose: dict[str, Any]) -> None:
    migrate = service(compose, "migrate")
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    for name in ("web", "worker"):
        assert service(compose, name)["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }


def test_healthchecks_ask_what_each_service_answers(
    compose: dict[str, Any], make_sqlite_services: ServicesFactory
) -> None:
    for name in ("postgres", "redis", "web"):
        assert service(compose, name)["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    # The image's own HEALTHCHECK asks /healthz, which only `serve` answers.
    for name in ("migrate", "worker"):
        assert service(compose, name)["healthcheck"] == {"disable": True}, name
    web_check = " ".join(service(compose, "web")["healthcheck"]["test"])
    [path] = re.findall(r"http://127\.0\.0\.1:\d+(/\w+)", web_check)
    assert probe_status(make_sqlite_services(), path) == 200


def test_the_web_port_and_graceful_stop(compose: dict[str, Any], settings_of: Any) -> None:
    web = service(compose, "web")
    port = settings_of("web").port
    [published] = web["ports"]
    assert published.rpartition(":")[2] == str(port)
    assert f"127.0.0.1:{port}/" in " ".join(web["healthcheck"]["test"])
    assert int(web["stop_grace_period"].removesuffix("s")) > GRACEFUL_SHUTDOWN_SECONDS


def test_passwords_come_from_the_env_file_and_the_example_names_them_all(
    compose: dict[str, Any], variables_used: set[str]
) -> None:
    example = read_env_file(ENV_EXAMPLE)
    assert variables_used == example.keys()
    for name, value in example.items():
        if name.endswith(("PASSWORD", "SECRET", "HEADERS")):
            assert "not-a-real" in value, f"{name} in .env.example looks like a real secret"
    assert "deploy/.env" in (DEPLOY.parent / ".gitignore").read_text().splitlines()
    for file in {secret["file"] for secret in compose["secrets"].values()}:
        assert file.startswith("secrets/")
    assert "*" in (DEPLOY / "secrets" / ".gitignore").read_text().splitlines()
