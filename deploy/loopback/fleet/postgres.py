"""The fleet's PostgreSQL 15: a primary and a streaming hot standby made from it with
``pg_basebackup -R``, each with its own port, data folder and socket folder.

The standby is synchronous: once it streams, the primary acknowledges a commit only after
the standby has it, so a crash of the primary followed by a promote of the standby loses no
write that a client was told succeeded (an asynchronous standby missed the newest rows; see
docs/fleet.md). The price: while the primary has no standby, its writes wait.

The servers refuse to run as root, so as root every command runs as the ``postgres`` user
and the folders it writes belong to it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import time
from pathlib import Path

from fleet.layout import DATABASE, Layout
from fleet.processes import run

BIN = Path("/usr/lib/postgresql/15/bin")

# A loopback fleet tests processes that crash, not machines that lose power: no fsync (the
# operating system keeps what a crashed server wrote). synchronous_commit stays on: with
# synchronous_standby_names (set once the standby streams) a commit waits for the standby.
_SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
wal_level = replica
max_wal_senders = 5
hot_standby = on
fsync = off
synchronous_commit = on
full_page_writes = off
shared_buffers = 32MB
max_connections = 100
"""


def available() -> bool:
    return (BIN / "initdb").exists()


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _client(tool: str, port: int, *args: str) -> list[str]:
    """A PostgreSQL client program talking to the fleet's server on ``port`` as postgres."""
    return _as_postgres(
        [str(BIN / tool), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", *args]
    )


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
    run(_client("createdb", layout.pg_primary_port, DATABASE))


def start_standby(layout: Layout) -> None:
    _own(layout.pg_standby)
    # -R writes standby.signal and primary_conninfo: the copy starts as a streaming standby.
    backup = ["-D", str(layout.pg_standby), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"]
    run(_client("pg_basebackup", layout.pg_primary_port, *backup))
    # The copy carries the primary's settings; a later line wins: its own port.
    with (layout.pg_standby / "postgresql.conf").open("a") as conf:
        conf.write(f"port = {layout.pg_standby_port}\n")
    _start(layout.pg_standby, layout.pg_logs / "standby.log")


def stop_standby(layout: Layout) -> None:
    """Take the standby away (a clean stop): with it synchronous, the primary's commits wait
    for it, bounded by certdist's commit deadline (docs/fleet.md)."""
    stop(layout.pg_standby)


def restart_standby(layout: Layout) -> None:
    """Start the standby again from its own folder; it catches up by streaming and becomes
    synchronous again, which ends the primary's waits."""
    _start(layout.pg_standby, layout.pg_logs / "standby.log")
    require_synchronous_standby(layout)


def require_synchronous_standby(layout: Layout, seconds: float = 30) -> None:
    """Make the primary wait for the standby on every commit, once the standby streams.

    Set only now, not in the primary's first settings: ``certdist init`` writes while the
    standby is still being copied, and those commits would wait for a standby not yet there.
    ``ALTER SYSTEM`` writes the primary's own ``postgresql.auto.conf``, which the standby's
    copy (made earlier) lacks: a promoted standby waits for nobody.
    """
    port = layout.pg_primary_port
    query(port, "ALTER SYSTEM SET synchronous_standby_names = '*'")
    query(port, "SELECT pg_reload_conf()")
    give_up = time.monotonic() + seconds
    while query(port, "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") != "1":
        if time.monotonic() > give_up:
            raise SystemExit(f"the standby did not become synchronous within {seconds:.0f} s")
        time.sleep(0.1)


def stop(data: Path, mode: str = "fast") -> None:
    """Stop the server of ``data``: ``fast`` (clients disconnected, a clean shutdown) or
    ``immediate`` (a crash: no shutdown checkpoint, recovery at the next start)."""
    if (data / "postmaster.pid").exists():
        run(
            _as_postgres(
                [str(BIN / "pg_ctl"), "stop", "-w", "-t", "30", "-m", mode, "-D", str(data)]
            )
        )


def promote(data: Path) -> None:
    """Turn the standby of ``data`` into a primary; returns once it accepts writes."""
    run(_as_postgres([str(BIN / "pg_ctl"), "promote", "-w", "-t", "30", "-D", str(data)]))


def query(port: int, sql: str) -> str:
    """The answer of ``sql`` on the server at ``port`` (unaligned, stripped); ``SystemExit``
    when it does not answer within two seconds."""
    conninfo = f"host=127.0.0.1 port={port} user=postgres dbname={DATABASE} connect_timeout=2"
    command = [str(BIN / "psql"), "-d", conninfo, "-v", "ON_ERROR_STOP=1", "-Atc", sql]
    return run(command).strip()


def role(port: int) -> str | None:
    """``primary`` or ``standby`` as the server on ``port`` says, None when it does not
    answer (within two seconds)."""
    try:
        answer = query(port, "select pg_is_in_recovery()")
    except SystemExit:
        return None
    return "standby" if answer == "t" else "primary"
