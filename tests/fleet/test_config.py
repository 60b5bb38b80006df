"""The fleet's parts without starting them: its ports and addresses, and the nginx
configuration, checked by nginx itself (``nginx -t``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from fleet import nginx
from fleet.layout import Layout
from tests.support.environment import require


def test_every_port_moves_with_the_offset_and_none_is_a_system_server() -> None:
    base, moved = Layout(Path("/x"), apps=3), Layout(Path("/x"), apps=3, port_offset=1000)
    assert [p + 1000 for p in base.ports()] == moved.ports()
    assert len(set(base.ports())) == len(base.ports()) == 7
    assert not {5432, 6379} & set(base.ports())


def test_the_apps_reach_whichever_server_accepts_writes() -> None:
    url = Layout(Path("/x"), port_offset=100).database_url
    assert url == (
        "postgresql://postgres@/certdist?host=127.0.0.1:55532&host=127.0.0.1:55533"
        "&target_session_attrs=read-write"
    )


def test_the_apps_get_the_fleet_settings_and_none_of_the_callers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CERTDIST_MODE", "production")
    env = Layout(Path("/x")).app_environment()
    assert "CERTDIST_MODE" not in env
    assert env["CERTDIST_PUBLIC_URL"] == "http://127.0.0.1:58080"
    assert env["CERTDIST_REDIS_URL"] == "redis://127.0.0.1:56379/0"
    # Downloads read from the standby; the primary answers what it lacks.
    assert env["CERTDIST_DATABASE_REPLICA_URL"] == "postgresql://postgres@127.0.0.1:55433/certdist"


def test_nginx_accepts_the_configuration_and_retries_only_idempotent_requests(
    tmp_path: Path,
) -> None:
    layout = Layout(tmp_path, apps=2)
    layout.logs.mkdir()
    nginx.write_config(layout)
    text = (tmp_path / "nginx" / "nginx.conf").read_text()
    assert "server 127.0.0.1:58100 max_fails=1" in text
    assert "server 127.0.0.1:58101 max_fails=1" in text
    assert "proxy_next_upstream error timeout http_502;" in text
    assert "proxy_next_upstream_tries 2;" in text
    assert "non_idempotent" not in text  # nginx then never passes a POST on
    require(shutil.which("nginx"), "nginx is not installed (scripts/install-system-deps)")
    checked = subprocess.run(
        ["nginx", "-p", str(layout.nginx_dir), "-c", str(tmp_path / "nginx" / "nginx.conf"),
         "-e", str(layout.logs / "nginx-error.log"), "-t", "-q"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
