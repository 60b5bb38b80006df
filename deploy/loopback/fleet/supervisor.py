"""The process manager of the app processes: starts each ``certdist serve`` in a session of
its own (``setsid``), restarts one that exits while the fleet is up, and stops them all on
SIGTERM.

Why our own rather than Debian's supervisor or runit: both need a system-wide daemon or
configuration outside the fleet's folder, and what the fleet needs is small — a loop over
``Popen.poll``. A restarted app's whole process group is killed first: when the uvicorn
parent of several workers dies, its workers would otherwise keep the port.

Its state, for ``status`` and the tests, is ``apps.json``: each app's port, pid and restarts.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from fleet.layout import Layout

#: Seconds between looks at the children, and the least time between two starts of one app.
POLL_SECONDS = 0.1
RESTART_PAUSE_SECONDS = 0.5
STOP_SECONDS = 15.0


@dataclass
class AppState:
    index: int
    port: int
    pid: int
    restarts: int
    started: float


def certdist_command() -> str:
    """The certdist of the interpreter running the fleet (the project's venv)."""
    return str(Path(sys.executable).with_name("certdist"))


class Supervisor:
    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._states: dict[int, AppState] = {}
        self._stopping = False
        self._logs: dict[int, IO[bytes]] = {}

    def _start(self, index: int, restarts: int) -> None:
        layout = self._layout
        port = layout.app_port(index)
        log = self._logs.get(index)
        if log is None:
            log = self._logs[index] = (layout.logs / f"app{index}.log").open("ab")
        child = subprocess.Popen(
            [certdist_command(), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(layout.workers)],
            env=layout.app_environment(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # setsid: its own process group, stopped whole
        )  # fmt: skip
        self._children[index] = child
        self._states[index] = AppState(index, port, child.pid, restarts, time.time())
        self._save()

    def _save(self) -> None:
        path = self._layout.apps_state
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps([asdict(s) for s in self._states.values()], indent=2))
        temporary.replace(path)

    def _stop_requested(self, _signum: int, _frame: object) -> None:
        self._stopping = True

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._stop_requested)
        signal.signal(signal.SIGINT, self._stop_requested)
        self._layout.supervisor_pid.write_text(f"{os.getpid()}\n")
        for index in range(self._layout.apps):
            self._start(index, 0)
        while not self._stopping:
            for index, child in list(self._children.items()):
                if child.poll() is None:
                    continue
                _kill_group(child.pid, signal.SIGKILL)  # its workers, if any outlived it
                state = self._states[index]
                print(f"app{index} (pid {child.pid}) exited with {child.returncode}; restarting",
                      flush=True)  # fmt: skip
                pause = state.started + RESTART_PAUSE_SECONDS - time.time()
                if pause > 0:
                    time.sleep(pause)
                self._start(index, state.restarts + 1)
            time.sleep(POLL_SECONDS)
        self._stop_all()

    def _stop_all(self) -> None:
        for child in self._children.values():
            _kill_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for child in self._children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            _kill_group(child.pid, signal.SIGKILL)
        for child in self._children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)
        self._layout.apps_state.unlink(missing_ok=True)
        self._layout.supervisor_pid.unlink(missing_ok=True)


def _kill_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def kill_leftover_group(pid: int) -> None:
    """Kill the process group of an app whose supervisor is gone, if ``pid`` is still a
    certdist process (not a newcomer that got the number)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return
    if b"certdist" in command:
        _kill_group(pid, signal.SIGKILL)


def read_states(layout: Layout) -> list[AppState]:
    try:
        data = json.loads(layout.apps_state.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    return [AppState(**item) for item in data]
