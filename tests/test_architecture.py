"""The shape docs/architecture.md describes, checked where import-linter cannot: every
capability is wired from its own settings section, never from the whole ``Settings``."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import certdist
import certdist.services

SERVICES = Path(certdist.services.__file__).parent
CAPABILITIES = sorted(info.name for info in pkgutil.iter_modules([str(SERVICES)]) if info.ispkg)


def test_the_capabilities_are_the_documented_ones() -> None:
    documented = (Path(certdist.__file__).parents[2] / "docs" / "architecture.md").read_text()
    assert CAPABILITIES == [
        "access",
        "common",
        "distribution",
        "facility",
        "integrations",
        "issuance",
        "messaging",
        "openid4vci",
        "operations",
        "portal",
        "sharing",
        "trust",
        "verification",
    ]
    for name in CAPABILITIES:
        assert f"`{name}/`" in documented


@pytest.mark.parametrize("name", [c for c in CAPABILITIES if c != "common"])
def test_each_capability_has_one_wire_in_its_public_face(name: str) -> None:
    package = importlib.import_module(f"certdist.services.{name}")
    assert "wire" in package.__all__
    parameters = inspect.signature(package.wire).parameters
    assert list(parameters)[:1] != ["settings"]


def _functions_taking_settings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            for argument in arguments:
                if (
                    argument.annotation is not None
                    and ast.unparse(argument.annotation).strip("'\"") == "Settings"
                ):
                    found.append(f"{path.name}:{node.lineno} {node.name}({argument.arg})")
    return found


def test_no_service_takes_the_whole_settings() -> None:
    offenders = [
        offender
        for path in sorted(SERVICES.rglob("*.py"))
        for offender in _functions_taking_settings(path)
    ]
    assert offenders == []


def test_the_composition_root_is_the_only_reader_of_the_whole_settings() -> None:
    readers = [
        path.relative_to(SERVICES.parent).as_posix()
        for path in sorted(Path(certdist.__file__).parent.rglob("*.py"))
        if _functions_taking_settings(path)
    ]
    # The composition root builds the services from it; the app and the CLI are the entry
    # points that load it (and read a top-level value or two, e.g. whether cookies are secure).
    assert readers == ["cli.py", "web/app.py", "web/templating.py", "wiring.py"]
