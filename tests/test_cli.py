"""The ``certdist`` command, run in-process with its own data directory."""

from __future__ import annotations

import json
import stat
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

from certdist.cli import command_log_level, main
from certdist.config import METRICS_DIR_VARIABLE, Settings, metrics_dir
from certdist.signing.ldproof import verify_credential
from tests.support.cli import Cli
from tests.support.request_bodies import lab_test_request_body, vaccination_request_body
from tests.support.services import ServicesFactory


@pytest.fixture
def run(make_services: ServicesFactory) -> Cli:
    """``certdist`` on the data folder and database of ``make_services``."""
    return Cli(make_services.data_dir, make_services.database_url)


def test_init_is_idempotent_and_keys_are_private(run: Cli, tmp_path: Path) -> None:
    first = run("init")
    assert first.exit_code == 0, first.output
    second = run("init")
    assert second.exit_code == 0
    key_lines = [line for line in first.output.splitlines() if line.startswith("key:")]
    assert key_lines == [line for line in second.output.splitlines() if line.startswith("key:")]
    uses = {line.split("(")[1].split(",")[0] for line in key_lines}
    assert {"credential", "shc", "dcc", "token"} <= uses
    for pem in (tmp_path / "data" / "keys").glob("*.pem"):
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600


def test_keys_public_prints_pem_with_id_and_use(run: Cli) -> None:
    result = run("keys", "public")
    assert result.exit_code == 0
    assert result.output.count("-----BEGIN PUBLIC KEY-----") >= 4
    assert "# use: credential" in result.output
    assert "PRIVATE" not in result.output


def test_token_is_accepted_by_the_service(run: Cli, make_services: ServicesFactory) -> None:
    result = run("token", "--role", "certificate-issuer", "--mobile", "+919880414889")
    assert result.exit_code == 0, result.output
    principal = make_services().access.tokens.verify(result.stdout.strip())
    assert principal.roles == {"certificate-issuer"}
    assert principal.mobile == "+919880414889"


def test_token_is_refused_when_the_local_issuer_is_off(run: Cli) -> None:
    result = run("token", "--role", "x", extra_env={"CERTDIST_LOCAL_TOKEN_ISSUER": "false"})
    assert result.exit_code == 1
    assert "local token issuer is off" in result.output


def test_production_mode_refuses_dev_only_settings(run: Cli) -> None:
    result = run("init", extra_env={"CERTDIST_MODE": "production"})
    assert result.exit_code == 1
    assert "local_token_issuer must be false" in result.output
    assert "trusted_issuers" in result.output


def test_issue_json_file(run: Cli, tmp_path: Path) -> None:
    file = tmp_path / "batch.json"
    file.write_text(
        json.dumps([vaccination_request_body("CLI1"), vaccination_request_body("CLI2")])
    )
    result = run("issue", str(file))
    assert result.exit_code == 0, result.output
    issued = [json.loads(line) for line in result.stdout.splitlines()]
    assert [i["preEnrollmentCode"] for i in issued] == ["CLI1", "CLI2"]


def test_issue_bad_json_file_names_the_fields(run: Cli, tmp_path: Path) -> None:
    body = vaccination_request_body("CLI3")
    body["vaccination"]["dose"] = 0
    file = tmp_path / "bad.json"
    file.write_text(json.dumps([body]))
    result = run("issue", str(file))
    assert result.exit_code == 2
    assert "0.vaccination.dose" in result.output
    (tmp_path / "junk.json").write_text("{not json")
    assert run("issue", str(tmp_path / "junk.json")).exit_code == 2


def test_issue_csv_shows_summary_of_failures(run: Cli, tmp_path: Path, testdata: Path) -> None:
    header = (testdata / "divoc/bulk-certify-header.csv").read_text().strip()
    rows = [
        f"C{i:03d},Asha,9880414889,1990-01-02,,Female,Indian,,L1,,Dist,State,560001,B1,"
        f"2021-05-02T10:00:00Z,{1 if i != 7 else 0},2,2021-05-02,2022-05-02,SII,Covishield,"
        "Dr A,PHC,F1,,FD,FS,560002"
        for i in range(250)
    ]
    file = tmp_path / "batch.csv"
    file.write_text("\n".join([header, *rows]) + "\n")
    result = run("issue", str(file))
    assert result.exit_code == 1
    assert "249 issued, 1 failed of 250 rows (completed)" in result.output
    assert "row 9: vaccinationDose" in result.output


def test_rotated_key_signs_new_certificates_and_old_ones_keep_verifying(
    run: Cli, tmp_path: Path, make_services: ServicesFactory
) -> None:
    first = tmp_path / "first.json"
    first.write_text(json.dumps([vaccination_request_body("ROT1")]))
    [old] = [json.loads(line) for line in run("issue", str(first)).stdout.splitlines()]
    rotated = run("keys", "rotate", "--use", "credential")
    assert rotated.exit_code == 0, rotated.output
    second = tmp_path / "second.json"
    second.write_text(json.dumps([vaccination_request_body("ROT2")]))
    [new] = [json.loads(line) for line in run("issue", str(second)).stdout.splitlines()]

    services = make_services()
    methods = []
    for issued in (old, new):
        credential = json.loads(
            services.issuance.certificates.signed_credential(issued["certificateId"])
        )
        methods.append(verify_credential(credential, services.keys.public_key))
    assert methods[0] != methods[1]
    assert rotated.stdout.strip().endswith(methods[1])


@pytest.mark.parametrize(
    ("args", "extra_env", "public_url"),
    [
        (["--port", "8123"], {}, "http://127.0.0.1:8123"),
        (["--host", "0.0.0.0", "--port", "8124"], {}, "http://127.0.0.1:8124"),  # noqa: S104
        (["--host", "::1", "--port", "8125"], {}, "http://[::1]:8125"),
        # A configured public URL is the deployment's (behind a proxy, say): kept as it is.
        (
            ["--port", "8126"],
            {"CERTDIST_PUBLIC_URL": "https://certs.example"},
            "https://certs.example",
        ),
    ],
)
def test_serve_in_development_names_the_port_it_listens_on(
    run: Cli,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    extra_env: dict[str, str],
    public_url: str,
) -> None:
    """Cards' `iss`, portal and share links and the code SMS's `@host` line must name the
    address a developer actually opened, not the default port."""
    served: dict[str, object] = {}

    def fake_run(app: str, **options: object) -> None:
        # What the worker processes would read from the environment, as they start.
        served.update(options, public_url=Settings().public_url)

    monkeypatch.setattr("uvicorn.run", fake_run)
    for name in ("CERTDIST_HOST", "CERTDIST_PORT", "CERTDIST_PUBLIC_URL"):
        monkeypatch.setenv(name, "")  # registers the variable for restoring after the test
        monkeypatch.delenv(name)
    result = run("serve", *args, extra_env=extra_env)
    assert result.exit_code == 0, result.output
    assert served["port"] == int(args[-1])
    assert served["public_url"] == public_url


# --- what a command prints: its answer, logs only when asked ---------------------------------


def test_a_command_prints_its_answer_only(run: Cli) -> None:
    """The migration run by every command logs at INFO; by default none of it shows."""
    result = run("keys", "public", extra_env={"CERTDIST_LOG_JSON": "true"})
    assert result.exit_code == 0
    assert result.stderr == ""
    assert result.stdout.startswith("# id: ")


def test_the_log_level_setting_does_not_make_a_command_chatty(run: Cli) -> None:
    result = run("keys", "public", extra_env={"CERTDIST_LOG_LEVEL": "DEBUG"})
    assert result.stderr == ""


@pytest.mark.parametrize("option", [["--verbose"], ["-v"], ["--log-level", "info"]])
def test_logs_when_asked(run: Cli, option: list[str]) -> None:
    result = run(*option, "keys", "public")
    assert result.exit_code == 0
    assert " INFO alembic.runtime.migration: " in result.stderr
    assert result.stdout.startswith("# id: ")  # the answer alone on standard output


def test_log_level_error_hides_warnings(run: Cli) -> None:
    result = run("--log-level", "ERROR", "--verbose", "keys", "public")
    assert result.stderr == ""


def test_an_unknown_log_level_is_refused(run: Cli) -> None:
    result = run("--log-level", "LOUD", "keys", "public")
    assert result.exit_code == 2
    assert "Invalid value for '--log-level'" in result.output


@pytest.mark.parametrize(
    ("command", "configured", "verbose", "option", "expected"),
    [
        ("keys", "INFO", False, None, "WARNING"),
        ("keys", "ERROR", False, None, "ERROR"),
        ("keys", "INFO", True, None, "INFO"),
        ("keys", "INFO", True, "debug", "DEBUG"),
        ("serve", "INFO", False, None, "INFO"),
        ("worker", "DEBUG", False, None, "DEBUG"),
        ("serve", "INFO", False, "WARNING", "WARNING"),
        (None, "INFO", False, None, "WARNING"),
        ("keys", "NOISY", False, None, "WARNING"),
    ],
)
def test_command_log_level(
    command: str | None, configured: str, verbose: bool, option: str | None, expected: str
) -> None:
    settings = Settings(log_level=configured)
    assert command_log_level(command, settings, verbose, option) == expected


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"certdist {version('certdist')}\n"
    assert version("certdist")[0].isdigit()


def test_issue_lab_tests_from_json(run: Cli, tmp_path: Path) -> None:
    path = tmp_path / "tests.json"
    path.write_text(json.dumps([lab_test_request_body("LAB0042")]))
    result = run("issue", str(path), "--test")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["preEnrollmentCode"] == "LAB0042"
    refused = run("issue", str(path))  # read as vaccination requests
    assert refused.exit_code == 2
    assert "vaccination: Field required" in refused.stderr


@pytest.mark.parametrize(("workers", "multiprocess"), [("1", False), ("2", True)])
def test_serve_gives_several_workers_a_fresh_metrics_folder(
    run: Cli, monkeypatch: pytest.MonkeyPatch, workers: str, multiprocess: bool
) -> None:
    """The workers' counter files go to data_dir/metrics, emptied of an earlier run's (their
    sum, two processes for certain: tests/services/common/test_metrics.py)."""
    for name in (METRICS_DIR_VARIABLE, "CERTDIST_HOST", "CERTDIST_PORT", "CERTDIST_PUBLIC_URL"):
        monkeypatch.setenv(name, "")  # registers the variable for restoring after the test
        monkeypatch.delenv(name)
    stale = Path(run.env["CERTDIST_DATA_DIR"]) / "metrics" / "counter_1.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"an earlier run")
    seen: dict[str, object] = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **options: seen.update(dir=metrics_dir()))
    result = run("serve", "--workers", workers, "--port", "8131")
    assert result.exit_code == 0, result.output
    if multiprocess:
        assert seen["dir"] == stale.parent.resolve()
        assert not stale.exists()
    else:
        assert seen["dir"] is None  # one process counts in memory
        assert stale.exists()
