"""``certdist serve`` under each supported HTTP server: it starts its workers, serves a
certificate, and stops cleanly on SIGTERM (what a process manager or Kubernetes sends)."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from certdist.config import Settings
from tests.support.loopback import free_port


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _workers(pid: int) -> set[int]:
    """The server's worker processes (its children, without multiprocessing's helper)."""
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        children.update(int(child) for child in (task / "children").read_text().split())
    return {
        child
        for child in children
        if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()
    }


def _wait_ready(process: subprocess.Popen[str], port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited before it was ready"
        try:
            if _get(port, "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"not ready within {seconds} s")


@pytest.mark.parametrize("server", ["uvicorn", "granian"])
def test_serve_runs_workers_serves_and_stops_on_sigterm(tmp_path: Path, server: str) -> None:
    port = free_port()
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTDIST_")}
    env.update(CERTDIST_DATA_DIR=str(data), CERTDIST_LOG_LEVEL="WARNING")
    command = [sys.executable, "-m", "certdist.cli", "serve", "--demo", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--workers", "2", "--server", server],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:  # the banner ends with the demo token
            lines.append(line)
            if line.startswith("  demo API token"):
                token = next(process.stdout).strip()
                break
        else:
            pytest.fail("".join(lines))
        _wait_ready(process, port, 60)
        bearer = {"Authorization": f"Bearer {token}"}
        for _ in range(6):  # over both workers
            status, body = _get(port, "/certificate/api/certificatePDF/DEMO0001", bearer)
            assert status == 200
            assert body.startswith(b"%PDF-")
        # The audit is written in batches gathered for 50 ms, so a worker killed now could
        # take its last entries with it (documented): wait until they are in.
        deadline = time.monotonic() + 10
        while _audited(data) < 6 and time.monotonic() < deadline:
            time.sleep(0.1)
        # A worker that dies (a crash, the OOM killer) is replaced; the others serve meanwhile.
        workers = _workers(process.pid)
        assert len(workers) == 2
        os.kill(min(workers), signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            len(_workers(process.pid)) == 2 and min(workers) not in _workers(process.pid)
        ):
            time.sleep(0.2)
        assert len(_workers(process.pid)) == 2
        assert min(workers) not in _workers(process.pid)
        _wait_ready(process, port, 30)
        for _ in range(2):
            assert _get(port, "/certificate/api/certificatePDF/DEMO0001", bearer)[0] == 200
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # Every download sent is in the audit, written by the time the server has stopped.
    assert _audited(data) == 8


def _audited(data: Path) -> int:
    engine = create_engine(Settings(data_dir=data).resolved_database_url)
    try:
        with engine.connect() as connection:
            query = "SELECT count(*) FROM download_audit WHERE pre_enrollment_code = 'DEMO0001'"
            return int(connection.execute(text(query)).scalar_one())
    finally:
        engine.dispose()
