"""The fleet's Redis: its own port and folder, no persistence (short-lived state only, and a
restart that forgets everything is the harsher fault to test)."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from fleet.layout import Layout
from fleet.processes import read_pid, run, stop_pid, wait_until


def available() -> bool:
    return shutil.which("redis-server") is not None


def _pid_file(layout: Layout) -> Path:
    return layout.redis_dir / "redis.pid"


def start(layout: Layout) -> None:
    layout.redis_dir.mkdir(exist_ok=True)
    run(
        [
            "redis-server",
            "--bind", "127.0.0.1",
            "--port", str(layout.redis_port),
            "--dir", str(layout.redis_dir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "yes",
            "--pidfile", str(_pid_file(layout)),
            "--logfile", str(layout.logs / "redis.log"),
        ]
    )  # fmt: skip
    wait_until(lambda: answers(layout), "redis", 10)


def stop(layout: Layout) -> None:
    pid = read_pid(_pid_file(layout))
    if pid is not None:
        stop_pid(pid)
    _pid_file(layout).unlink(missing_ok=True)


def answers(layout: Layout) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", layout.redis_port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False
