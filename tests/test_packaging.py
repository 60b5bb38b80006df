"""The wheel is what ships: it carries its data files with their licences and nothing of
the development set."""

from __future__ import annotations

import email.parser
import shutil
import subprocess
import zipfile

import pytest

from tests.support.environment import PROJECT_ROOT, require

# Folders of third-party material inside the package, and the files that hold its licences.
BUNDLED_WITH_LICENCE = {
    "certdist/signing/contexts/": ("LICENSES.md",),
    # Noto faces (SIL OFL 1.1) and Droid Sans Fallback (Apache-2.0); the README names each
    # file's source and licence.
    "certdist/formats/pdf/fontfiles/": (
        "LICENSE-OFL-1.1.txt",
        "LICENSE-Apache-2.0.txt",
        "README.md",
    ),
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    uv = PROJECT_ROOT / ".tools" / "bin" / "uv"
    uv_command = str(uv) if uv.is_file() else shutil.which("uv")
    require(uv_command, "uv is not installed (make installs it into .tools/)")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [str(uv_command), "build", "--wheel", "--quiet", "--out-dir", str(out), str(PROJECT_ROOT)],
        check=True,
        timeout=300,
    )
    (path,) = out.glob("certdist-*.whl")
    return zipfile.ZipFile(path)


def metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return email.parser.Parser().parsestr(wheel.read(name).decode())


def test_the_wheel_carries_the_project_licence(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names[-10:]
    assert metadata(wheel)["License-Expression"] == "Apache-2.0"


def test_every_bundled_third_party_folder_names_its_licence(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for folder, licences in BUNDLED_WITH_LICENCE.items():
        assert any(n.startswith(folder) and n.endswith((".ttf", ".jsonld")) for n in names)
        for licence in licences:
            assert folder + licence in names, f"{folder} ships without {licence}"


def test_the_wheel_holds_no_tests_and_requires_no_development_tool(
    wheel: zipfile.ZipFile,
) -> None:
    assert not [n for n in wheel.namelist() if n.startswith(("tests/", "bench/"))]
    requires = metadata(wheel).get_all("Requires-Dist") or []
    names = {r.split(";")[0].split(">")[0].split("[")[0].strip().lower() for r in requires}
    assert not names & {"pytest", "cwt", "mypy", "ruff", "playwright", "schemathesis"}
    assert "cbor2" in names
    # Two extras, the other HTTP server and tracing; nothing else is optional.
    assert metadata(wheel).get_all("Provides-Extra") == ["granian", "tracing"]
    extras = [r for r in requires if "extra ==" in r]
    by_extra = {
        extra: sorted(r.split(";")[0].split(">")[0].strip() for r in extras if extra in r)
        for extra in ("'granian'", "'tracing'")
    }
    assert by_extra == {
        "'granian'": ["granian"],
        "'tracing'": [
            "opentelemetry-api",
            "opentelemetry-exporter-otlp-proto-http",  # HTTP/protobuf: no grpcio
            "opentelemetry-instrumentation-fastapi",
            "opentelemetry-sdk",
        ],
    }
    assert len(extras) == 5, extras


def test_the_wheel_carries_every_template_and_migration(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    source = PROJECT_ROOT / "src"
    for path in (source / "certdist").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            assert path.relative_to(source).as_posix() in names, f"{path} is not in the wheel"
