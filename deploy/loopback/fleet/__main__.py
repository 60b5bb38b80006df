"""``scripts/fleet up|down|status|stop|start|failover|certdist``: the loopback fleet's one
command (docs/fleet.md)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fleet import nginx, postgres, redis_server
from fleet.layout import CURRENT, Layout
from fleet.processes import (
    http_status,
    pid_alive,
    port_is_free,
    read_pid,
    stop_pid,
    wait_until,
)
from fleet.supervisor import Supervisor, certdist_command, kill_leftover_group, read_states

UP_SECONDS = 60  # the whole of `up`, as the issue asks


def _up(args: argparse.Namespace) -> None:
    began = time.monotonic()
    missing = [
        name
        for name, present in (
            ("postgresql-15", postgres.available()),
            ("redis-server", redis_server.available()),
            ("nginx", nginx.available()),
        )
        if not present
    ]
    if missing:
        raise SystemExit(f"missing: {', '.join(missing)} (scripts/install-system-deps)")
    root = args.dir or Path(tempfile.mkdtemp(prefix="certdist-fleet-"))
    layout = Layout(root.resolve(), args.apps, args.workers, args.port_offset)
    postgres.check_reachable(layout.root)
    busy = [port for port in layout.ports() if not port_is_free(port)]
    if busy:
        raise SystemExit(f"ports in use: {busy} (another fleet? try --port-offset)")
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.root.chmod(0o755)  # the postgres user must reach its folders inside
    layout.logs.mkdir(exist_ok=True)
    layout.save()
    steps: list[tuple[str, float]] = []

    def step(name: str, started: float) -> None:
        steps.append((name, time.monotonic() - started))

    try:
        started = time.monotonic()
        redis_server.start(layout)
        step("redis", started)
        started = time.monotonic()
        postgres.start_primary(layout)
        step("postgres primary", started)
        # Keys, schema and the demo certificates, once, while the standby is copied.
        started = time.monotonic()
        init = subprocess.Popen(
            [certdist_command(), "init", "--demo"],
            env=layout.app_environment(),
            stdout=(layout.logs / "init.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        postgres.start_standby(layout)
        step("postgres standby", started)
        if init.wait(timeout=UP_SECONDS) != 0:
            raise SystemExit(f"certdist init failed: see {layout.logs / 'init.log'}")
        step("certdist init (migrations, keys, demo data)", started)
        started = time.monotonic()
        postgres.require_synchronous_standby(layout)
        step("standby synchronous", started)
        started = time.monotonic()
        _start_supervisor(layout)
        nginx.start(layout)
        for index in range(layout.apps):
            url = f"http://127.0.0.1:{layout.app_port(index)}/healthz"
            wait_until(_answers(url), f"app{index}", UP_SECONDS)
        wait_until(_answers(f"{layout.public_url}/readyz"), "nginx", 10)
        step(f"{layout.apps} app processes and nginx", started)
    except BaseException:
        print("up failed; stopping what was started", file=sys.stderr)
        _down_layout(layout, keep=True)
        print(f"logs kept in {layout.logs} (`scripts/fleet down` removes the folder)",
              file=sys.stderr)  # fmt: skip
        raise
    for name, seconds in steps:
        print(f"  {name}: {seconds:.1f} s")
    print(f"fleet up in {time.monotonic() - began:.1f} s: {layout.public_url}  ({layout.root})")


def _answers(url: str) -> Callable[[], bool]:
    return lambda: http_status(url) == 200


def _start_supervisor(layout: Layout) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    subprocess.Popen(
        [sys.executable, "-m", "fleet", "supervise", "--dir", str(layout.root)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=(layout.logs / "supervisor.log").open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # outlives `up`
    )
    wait_until(layout.supervisor_pid.exists, "supervisor", 10)


def _down_layout(layout: Layout, *, keep: bool) -> None:
    nginx.stop(layout)  # first: its idle connections to the apps would slow their shutdown
    pid = read_pid(layout.supervisor_pid)
    if pid is not None:
        stop_pid(pid, seconds=30)  # it stops the apps
    for app in read_states(layout):  # left only by a supervisor that was killed
        kill_leftover_group(app.pid)
    redis_server.stop(layout)
    for data in (layout.pg_standby, layout.pg_primary):
        postgres.stop(data)
    if not keep:
        shutil.rmtree(layout.root, ignore_errors=True)
        if CURRENT.exists() and CURRENT.read_text().strip() == str(layout.root):
            CURRENT.unlink()


def _down(args: argparse.Namespace) -> None:
    layout = Layout.load(args.dir)
    _down_layout(layout, keep=args.keep)
    print(f"fleet down ({layout.root} {'kept' if args.keep else 'removed'})")


def _status(args: argparse.Namespace) -> None:
    layout = Layout.load(args.dir)
    parts: list[dict[str, object]] = [
        {"name": "redis", "port": layout.redis_port, "up": redis_server.answers(layout)},
    ]
    for name, port in (("postgres", layout.pg_primary_port), ("postgres", layout.pg_standby_port)):
        role = postgres.role(port)
        parts.append({"name": f"{name} {role or '?'}", "port": port, "up": role is not None})
    for app in read_states(layout):
        status = http_status(f"http://127.0.0.1:{app.port}/healthz")
        parts.append(
            {"name": f"app{app.index}", "port": app.port, "up": status == 200,
             "pid": app.pid, "restarts": app.restarts}
        )  # fmt: skip
    supervisor = read_pid(layout.supervisor_pid)
    alive = supervisor is not None and pid_alive(supervisor)
    parts.append({"name": "supervisor", "up": alive, "pid": supervisor})
    ready = http_status(f"{layout.public_url}/readyz")
    parts.append({"name": "nginx", "port": layout.nginx_port, "up": ready == 200})
    if args.json:
        urls = {"public_url": layout.public_url, "database_url": layout.database_url}
        print(json.dumps({"root": str(layout.root), **urls, "parts": parts}, indent=2))
    else:
        print(f"fleet in {layout.root}, {layout.public_url}")
        for part in parts:
            extra = "  ".join(f"{k} {part[k]}" for k in ("port", "pid", "restarts") if k in part)
            print(f"  {part['name']:<18} {'answers' if part['up'] else 'DOWN':<8} {extra}")
    sys.exit(0 if all(part["up"] for part in parts) else 1)


_COMPONENTS = {
    "redis": (redis_server.start, redis_server.stop),
    "nginx": (nginx.start, nginx.stop),
    "standby": (postgres.restart_standby, postgres.stop_standby),
}


def _stop(args: argparse.Namespace) -> None:
    _COMPONENTS[args.component][1](Layout.load(args.dir))


def _start(args: argparse.Namespace) -> None:
    _COMPONENTS[args.component][0](Layout.load(args.dir))


def _failover(args: argparse.Namespace) -> None:
    """Stop the primary (a crash with ``--mode immediate``) and promote the standby: the
    fault of docs/fleet.md. The apps are not told; their multi-host address finds the new
    primary by itself."""
    layout = Layout.load(args.dir)
    if postgres.role(layout.pg_standby_port) != "standby":
        raise SystemExit(f"no standby answers on {layout.pg_standby_port}: failed over already?")
    began = time.monotonic()
    postgres.stop(layout.pg_primary, mode=args.mode)
    stopped = time.monotonic()
    time.sleep(args.pause)
    promoting = time.monotonic()
    postgres.promote(layout.pg_standby)
    done = time.monotonic()
    print(
        f"primary stopped ({args.mode}) in {stopped - began:.1f} s, no primary for "
        f"{done - stopped:.1f} s, standby on {layout.pg_standby_port} promoted in "
        f"{done - promoting:.1f} s"
    )


def _certdist(args: argparse.Namespace) -> None:
    layout = Layout.load(args.dir)
    # Becomes that certdist (its exit status, its terminal): nothing of the fleet tool stays.
    command = certdist_command()
    os.execve(command, [command, *args.args], layout.app_environment())  # noqa: S606


def _supervise(args: argparse.Namespace) -> None:
    Supervisor(Layout.load(args.dir)).run()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="scripts/fleet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--dir", type=Path, help="the fleet's folder (default: the newest up)")
        return sub

    up = command("up", "start a fleet (a new temporary folder unless --dir)")
    up.add_argument("--apps", type=int, default=2, help="app processes (default 2)")
    up.add_argument("--workers", type=int, default=1, help="uvicorn workers per app")
    up.add_argument(
        "--port-offset",
        type=int,
        default=0,
        help="added to every port (a multiple of 100 keeps fleets apart)",
    )
    up.set_defaults(run=_up)
    down = command("down", "stop every process of the fleet and remove its folder")
    down.add_argument("--keep", action="store_true", help="keep the folder (logs, data)")
    down.set_defaults(run=_down)
    status = command("status", "each part and whether it answers (exit 1 if one does not)")
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=_status)
    for name, run, text in (("stop", _stop, "stop"), ("start", _start, "start again")):
        sub = command(name, f"{text} one part (fault injection)")
        sub.add_argument("component", choices=sorted(_COMPONENTS))
        sub.set_defaults(run=run)
    failover = command("failover", "stop the PostgreSQL primary and promote the standby")
    failover.add_argument(
        "--mode",
        choices=("immediate", "fast"),
        default="immediate",
        help="how the primary stops: immediate (a crash, the default) or fast",
    )
    failover.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="seconds with no primary before the promote (a failover manager's detection time)",
    )
    failover.set_defaults(run=_failover)
    passthrough = command("certdist", "run certdist with the fleet's settings")
    passthrough.add_argument("args", nargs=argparse.REMAINDER)
    passthrough.set_defaults(run=_certdist)
    command("supervise", argparse.SUPPRESS).set_defaults(run=_supervise)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
