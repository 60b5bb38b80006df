"""The fleet's PostgreSQL 15: a primary and a streaming hot standby made from it with
``pg_basebackup -R``, each with its own port, data folder and socket folder.

The servers refuse to run as root, so as root every command runs as the ``postgres`` user
and the folders it writes belong to it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
from pathlib import Path

from fleet.layout import DATABASE, Layout
from fleet.processes import run

BIN = Path("/usr/lib/postgresql/15/bin")

# Durability is not what a loopback fleet tests, start-up time is: no fsync anywhere.
_SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
wal_level = replica
max_wal_senders = 5
hot_standby = on
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 100
"""


def available() -> bool:
    return (BIN / "initdb").exists()


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _own(path: Path, mode: int = 0o700) -> None:
    """Make ``path`` (a new folder) the server user's."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        shutil.chown(path, user.pw_uid, user.pw_gid)


def _append_settings(data: Path, layout: Layout, port: int) -> None:
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(_SETTINGS.format(port=port, sockets=layout.pg_sockets))


def _start(data: Path, log: Path) -> None:
    run(
        _as_postgres(
            [str(BIN / "pg_ctl"), "start", "-w", "-t", "30", "-D", str(data), "-l", str(log)]
        )
    )


def check_reachable(folder: Path) -> None:
    """As root, the postgres user must be able to pass through every folder above
    ``folder`` (pytest's and mkdtemp's folders are 0700)."""
    if os.geteuid() != 0:
        return
    for parent in folder.parents:
        if not parent.stat().st_mode & stat.S_IXOTH:
            raise SystemExit(f"the postgres user cannot reach {folder}: {parent} is closed")


def start_primary(layout: Layout) -> None:
    for folder in (layout.pg_primary, layout.pg_sockets, layout.pg_logs):
        _own(folder, 0o755 if folder != layout.pg_primary else 0o700)
    # initdb's trust rules cover replication from 127.0.0.1, which pg_basebackup uses.
    run(
        _as_postgres(
            [
                str(BIN / "initdb"),
                "-D",
                str(layout.pg_primary),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ]
        )
    )
    _append_settings(layout.pg_primary, layout, layout.pg_primary_port)
    _start(layout.pg_primary, layout.pg_logs / "primary.log")
    run(
        _as_postgres(
            [
                str(BIN / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(layout.pg_primary_port),
                "-U",
                "postgres",
                DATABASE,
            ]
        )
    )


def start_standby(layout: Layout) -> None:
    _own(layout.pg_standby)
    # -R writes standby.signal and primary_conninfo: the copy starts as a streaming standby.
    run(
        _as_postgres(
            [
                str(BIN / "pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(layout.pg_primary_port),
                "-U",
                "postgres",
                "-D",
                str(layout.pg_standby),
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
                "--no-sync",
            ]
        )
    )
    # The copy carries the primary's settings; a later line wins: its own port.
    with (layout.pg_standby / "postgresql.conf").open("a") as conf:
        conf.write(f"port = {layout.pg_standby_port}\n")
    _start(layout.pg_standby, layout.pg_logs / "standby.log")


def stop(data: Path) -> None:
    if (data / "postmaster.pid").exists():
        run(
            _as_postgres(
                [str(BIN / "pg_ctl"), "stop", "-w", "-t", "30", "-m", "fast", "-D", str(data)]
            )
        )


def role(port: int) -> str | None:
    """``primary`` or ``standby`` as the server on ``port`` says, None when it does not
    answer (within two seconds)."""
    conninfo = f"host=127.0.0.1 port={port} user=postgres dbname={DATABASE} connect_timeout=2"
    command = [str(BIN / "psql"), "-d", conninfo, "-v", "ON_ERROR_STOP=1", "-Atc",
               "select pg_is_in_recovery()"]  # fmt: skip
    try:
        answer = run(command).strip()
    except SystemExit:
        return None
    return "standby" if answer == "t" else "primary"
