"""A loopback fleet (``scripts/fleet``, deploy/loopback/fleet) for the fault tests: brought up
once per module in a temporary folder, on ports no other fleet uses, and always brought down.

The fleet needs nginx, redis-server and PostgreSQL 15 (scripts/install-system-deps); without
them the tests skip, or fail under ``CERTDIST_TEST_STRICT=1``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from certdist.storage import Database
from certdist.storage.dev_sms_inbox import DevSmsInbox
from tests.support.environment import PROJECT_ROOT, require

FLEET = PROJECT_ROOT / "scripts" / "fleet"
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
#: Offsets added to the fleet's default ports (55432, 56379, 58080, 58100, …); steps of 100
#: keep fleets apart, and the defaults (offset 0) stay free for a developer's own fleet.
PORT_OFFSETS = range(1000, 7000, 100)
UP_SECONDS = 90  # `up` itself must take under 60 s; this bounds a stuck one


def fleet_command(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FLEET), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass
class Fleet:
    root: Path
    public_url: str
    database_url: str
    up_output: str

    def run(self, command: str, *args: str) -> str:
        result = fleet_command(command, "--dir", str(self.root), *args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def token(self, role: str) -> str:
        return self.run("certdist", "token", "--role", role).strip()

    def status(self) -> dict[str, dict[str, object]]:
        """Each part by name, with ``up`` and, for apps, ``pid``, ``port`` and ``restarts``."""
        result = fleet_command("status", "--json", "--dir", str(self.root))
        parts = json.loads(result.stdout)["parts"]
        return {str(part["name"]): part for part in parts}

    def log(self, name: str) -> str:
        return (self.root / "logs" / name).read_text(errors="replace")

    def sms_inbox(self) -> DevSmsInbox:
        database = Database(self.database_url, deadline_seconds=5)
        return DevSmsInbox(database.transactions)


def _tools_present() -> bool:
    return (
        all(shutil.which(tool) for tool in ("nginx", "redis-server", "runuser"))
        and (POSTGRES_BIN / "initdb").exists()
    )


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    require(_tools_present(), "nginx, redis-server or PostgreSQL 15 missing (install-system-deps)")
    # Not pytest's tmp_path: its folders are closed to the postgres user; `down` removes it.
    root = Path(tempfile.mkdtemp(prefix="certdist-fleet-test-"))
    outputs = []
    for offset in PORT_OFFSETS:
        result = fleet_command(
            "up", "--dir", str(root), "--port-offset", str(offset), timeout=UP_SECONDS
        )
        if result.returncode == 0:
            break
        outputs.append(result.stdout + result.stderr)
        if "ports in use" not in result.stderr:
            pytest.fail("scripts/fleet up failed:\n" + "\n".join(outputs))
    else:
        pytest.fail("no free ports for a fleet:\n" + outputs[-1])
    try:
        # status answers with exit 1 when a part is down; its JSON is what counts here.
        described = json.loads(fleet_command("status", "--json", "--dir", str(root)).stdout)
        yield Fleet(
            root=root,
            public_url=described["public_url"],
            database_url=described["database_url"],
            up_output=result.stdout,
        )
    finally:
        down = fleet_command("down", "--dir", str(root), timeout=90)
        assert down.returncode == 0, down.stdout + down.stderr
