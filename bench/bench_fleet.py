"""The loopback fleet under load (issue #16, Scale): lookups by beneficiary id over a large
data set, issuance and downloads, with 1 and 2 app processes, and a soak at a fixed rate.

    scripts/fleet up --apps 2 --port-offset 300
    .venv/bin/python bench/load_certificates.py --fleet --count 1000000
    .venv/bin/python bench/bench_fleet.py [--fleet DIR] [--apps 1,2] [--duration 10]
        [--repeat 3] [--connections 16] [--threads 2] [--sample 20000] [--only a,b]
        [--json OUT] [--results TITLE]
    .venv/bin/python bench/bench_fleet.py [--fleet DIR] --soak 600 --rate 100
        [--mix head=8,pdf=1,certify=1] [--clients 16] [--json OUT]

Everything goes through the fleet's nginx (its public URL), as a client's requests would.
The fleet must be up with at least as many apps as the largest ``--apps``; for each count N
the benchmark rewrites nginx's upstream to the first N apps (``fleet.nginx`` with that many,
restarted) and puts it back to all of them at the end, so 1 and 2 processes are measured in
the same run, on the same data and the same PostgreSQL, interleaved with the baseline.

Scenarios (each driven by wrk, ``-t2 -c16`` by default, repeated round-robin, median run):

* ``healthz`` — ``GET /healthz`` through nginx: the baseline, nginx plus the framework, no
  database; every other figure is also given as a ratio to it (same app count, same run);
* ``head`` — ``HEAD /certificate/api/certificatePDF/<code>`` over ``--sample`` codes drawn at
  random from the whole certificates table (``TABLESAMPLE``), so the lookups spread over the
  1M set and its 16 partitions (target: p99 <= 5 ms);
* ``pdf`` — ``GET`` of the same: downloads/s, each a render (the render cache of each worker
  holds a few hundred of the 20,000 codes);
* ``certify`` — ``POST /divoc/api/v1/certify``, one new beneficiary per request
  (``bench/wrk/certify.lua``): issuance/s, signing included.

``--soak SECONDS --rate R`` sends R requests a second for SECONDS (open loop: each request
has its scheduled time, and its latency counts from then, so a stall shows up as latency
rather than as a slower rate), mixed by ``--mix``, from ``--clients`` threads with keep-alive
connections, and counts every answer other than 200 and every failed connection as an
error; it prints a line every 10 s and exits 1 on any error. Load goes to 127.0.0.1 only.
Needs wrk (``scripts/install-system-deps --bench``).
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import queue
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "deploy" / "loopback"))

from bench_distribution import (  # noqa: E402
    HOST,
    LUA,
    PDF,
    RESULTS,
    Scenario,
    Server,
    _children,
    _cmdline,
    _median_run,
    _source_state,
    _versions,
    _wrk_version,
    machine,
    preflight,
    run_wrk,
)
from tests.support.request_bodies import vaccination_request_body  # noqa: E402

CERTIFY = "/divoc/api/v1/certify"
CERTIFY_LUA = ROOT / "bench" / "wrk" / "certify.lua"
HEAD_P99_TARGET_MS = 5.0
SCENARIOS = ("healthz", "head", "pdf", "certify")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleet", type=Path, help="the fleet's folder (default: the newest up)")
    parser.add_argument(
        "--apps", default="1,2", type=lambda v: [int(n) for n in v.split(",")],
        help="app counts to measure, comma-separated (default 1,2)",
    )  # fmt: skip
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sample", type=int, default=20_000, help="codes drawn from the table")
    parser.add_argument("--only", help=f"comma-separated scenarios of {', '.join(SCENARIOS)}")
    parser.add_argument("--json", type=Path, help="also write every run as JSON here")
    parser.add_argument("--results", metavar="TITLE", help="append the table to bench/RESULTS.md")
    parser.add_argument("--soak", type=float, metavar="SECONDS", help="a soak at --rate instead")
    parser.add_argument("--rate", type=float, help="requests per second of the soak")
    parser.add_argument(
        "--mix", default="head=8,pdf=1,certify=1", help="soak: relative shares of each kind"
    )
    parser.add_argument("--clients", type=int, default=16, help="soak: client threads")
    args = parser.parse_args(argv)
    if args.soak is not None and not args.rate:
        parser.error("--soak needs --rate (requests per second)")
    if args.soak is not None and args.soak <= 0:
        parser.error("--soak must be positive")
    if args.only:
        unknown = set(args.only.split(",")) - set(SCENARIOS)
        if unknown:
            parser.error(f"unknown scenarios: {sorted(unknown)}")
    return args


# --- the fleet --------------------------------------------------------------------------------


class Fleet:
    def __init__(self, directory: Path | None) -> None:
        from fleet.layout import Layout

        self.layout = Layout.load(directory)
        self.env = self.layout.app_environment()
        self.port = self.layout.nginx_port

    def certdist(self, *args: str) -> str:
        certdist = ROOT / ".venv" / "bin" / "certdist"
        done = subprocess.run(
            [str(certdist), *args], env=self.env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def sample_codes(self, count: int) -> list[str]:
        """``count`` preEnrollmentCodes drawn at random from the whole table."""
        from sqlalchemy import create_engine, text

        from certdist.storage.engine import normalise_url

        engine = create_engine(normalise_url(self.env["CERTDIST_DATABASE_URL"]))
        try:
            with engine.connect() as connection:
                total = connection.execute(
                    text("SELECT reltuples::bigint FROM pg_class WHERE relname = 'certificate_ids'")
                ).scalar_one()
                percent = min(100.0, 100.0 * 3 * count / max(int(total), 1))
                codes = connection.execute(
                    text(
                        "SELECT DISTINCT pre_enrollment_code FROM certificate_ids "
                        "TABLESAMPLE BERNOULLI (CAST(:percent AS real))"
                    ),
                    {"percent": percent},
                ).scalars()
                found = list(codes)
                rows = connection.execute(text("SELECT count(*) FROM certificates")).scalar_one()
        finally:
            engine.dispose()
        random.shuffle(found)
        self.rows = int(rows)
        return found[:count]

    def route_to(self, apps: int) -> None:
        """nginx's upstream: the first ``apps`` app processes (restarted with that config)."""
        from fleet import nginx

        if apps > self.layout.apps:
            raise SystemExit(f"the fleet has {self.layout.apps} apps; bring it up with more")
        nginx.stop(self.layout)
        nginx.start(dataclasses.replace(self.layout, apps=apps))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if _request(self.port, "GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("nginx did not answer after its restart")

    def restore(self) -> None:
        self.route_to(self.layout.apps)

    def app_pids(self, apps: int) -> list[int]:
        from fleet.supervisor import read_states

        return [state.pid for state in read_states(self.layout) if state.index < apps]


class FleetApps(Server):
    """The fleet's app processes as bench_distribution's ``Server``: their CPU time."""

    def __init__(self, fleet: Fleet, apps: int) -> None:
        super().__init__(name=f"{apps} apps", env={}, workers=apps, log_path=Path("/dev/null"))
        self._fleet = fleet
        self._apps = apps

    def worker_pids(self) -> list[int]:
        pids = self._fleet.app_pids(self._apps)
        # `certdist serve --workers W>1` serves from children; with 1 worker, itself.
        children = [
            child
            for pid in pids
            for child in _children(pid)
            if "python" in _cmdline(child) and "resource_tracker" not in _cmdline(child)
        ]
        return children or pids


def _request(
    port: int, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _certify_body(code: str) -> str:
    return json.dumps([vaccination_request_body(code, name=f"Fleet Bench {code[-8:]}")])


# --- the throughput benchmark -----------------------------------------------------------------


def benchmark(args: argparse.Namespace, fleet: Fleet) -> None:
    token = fleet.certdist("token", "--role", "certificate-issuer", "--role", "certificate-api")
    codes = fleet.sample_codes(args.sample)
    print(f"{fleet.rows:,} certificates in the table; {len(codes):,} codes sampled", flush=True)
    run_id = uuid.uuid4().hex[:6].upper()
    wanted = args.only.split(",") if args.only else list(SCENARIOS)
    scenarios = [
        Scenario("healthz", "fleet", "GET", ["/healthz"], 200, b'{"status":"ok"}', False,
                 "baseline: nginx + framework, no database (ratio 1.00)"),
        Scenario("head", "fleet", "HEAD", [PDF + c for c in codes], 200, None, True,
                 f"p99 <= {HEAD_P99_TARGET_MS:g} ms", target_p99_ms=HEAD_P99_TARGET_MS),
        Scenario("pdf", "fleet", "GET", [PDF + c for c in codes], 200, b"%PDF-", True,
                 "downloads/s"),
        Scenario("certify", "fleet", "POST", [CERTIFY], 200, None, True, "issuance/s"),
    ]  # fmt: skip
    scenarios = [s for s in scenarios if s.name in wanted]
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    began = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as folder:
        paths: dict[str, Path] = {}
        for s in scenarios:
            paths[s.name] = Path(folder) / f"{s.name}.txt"
            paths[s.name].write_text("\n".join(s.lines) + "\n")
        body = Path(folder) / "certify.json"
        body.write_text(_certify_body("@CODE@"))
        try:
            for apps in args.apps:
                fleet.route_to(apps)
                server = FleetApps(fleet, apps)
                for s in scenarios:
                    if s.name == "certify":
                        status, answer = _request(
                            fleet.port, "POST", CERTIFY,
                            {"Authorization": f"Bearer {token}",
                             "Content-Type": "application/json"},
                            _certify_body(f"FB{run_id}P{apps}").encode(),
                        )  # fmt: skip
                        if status != 200:
                            raise RuntimeError(f"certify answered {status}: {answer[:300]!r}")
                    else:
                        preflight(fleet.port, s, token)
                for repeat in range(args.repeat):
                    for s in scenarios:
                        extra = {"WRK_HOST": f"{HOST}:{fleet.port}"}
                        script = LUA
                        if s.name == "certify":
                            script = CERTIFY_LUA
                            extra["WRK_BODY"] = str(body)
                            extra["WRK_PREFIX"] = f"FB{run_id}{apps}{repeat}"
                        result = run_wrk(
                            fleet.port, s, token, paths[s.name], threads=args.threads,
                            connections=args.connections, duration=args.duration, server=server,
                            script=script, extra_env=extra,
                        )  # fmt: skip
                        runs.setdefault((s.name, apps), []).append(result)
                        lat = result["latency_us"]
                        print(
                            f"  {apps} app(s) {s.name:8} run {repeat + 1}: {result['rps']:9.1f}/s"
                            f"  p50 {lat['p50'] / 1000:6.2f} ms  p99 {lat['p99'] / 1000:7.2f} ms"
                            f"  errors {sum(result['errors'].values())}"
                            f"  apps {result['server_cores']:.2f} cores,"
                            f" other {result['other_cores']:.2f}",
                            flush=True,
                        )
        finally:
            fleet.restore()
    table = report(scenarios, runs, args)
    print(table)
    if args.json:
        args.json.write_text(
            json.dumps({f"{n}/{a}": r for (n, a), r in runs.items()}, indent=1) + "\n"
        )
    if args.results:
        command = shlex.join([".venv/bin/python", "bench/bench_fleet.py", *sys.argv[1:]])
        with RESULTS.open("a") as out:
            out.write(
                f"\n### {args.results}\n\nRun {began:%Y-%m-%dT%H:%MZ}; {machine()}; "
                f"{_source_state()}; {_versions()}; {_wrk_version()}; {fleet.rows:,} "
                f"certificates in the table.\n\n    {command}\n\n{table}\n"
            )


def report(
    scenarios: list[Scenario],
    runs: dict[tuple[str, int], list[dict[str, Any]]],
    args: argparse.Namespace,
) -> str:
    lines = [
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s through nginx, "
        f"median of {args.repeat} runs; ratios to healthz with the same number of apps, "
        "and of N apps to the first count measured.",
        "",
        "| scenario | apps | req/s (median) | runs | p50 ms | p99 ms | vs healthz | vs "
        f"{args.apps[0]} app(s) | errors | app cores | other cores | target |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in scenarios:
        for apps in args.apps:
            results = runs.get((s.name, apps), [])
            if not results:
                continue
            median = _median_run(results)
            base = runs.get(("healthz", apps))
            base_rps = _median_run(base)["rps"] if base else 0.0
            ratio = median["rps"] / base_rps if base_rps else float("nan")
            first = runs.get((s.name, args.apps[0]))
            base_rps = _median_run(first)["rps"] if first else 0.0
            scaling = median["rps"] / base_rps if base_rps else float("nan")
            errors = sum(sum(r["errors"].values()) for r in results)
            p99 = median["latency_us"]["p99"] / 1000
            target = s.target
            if s.target_p99_ms is not None:
                verdict = "PASS" if p99 <= s.target_p99_ms and errors == 0 else "FAIL"
                target = f"{s.target}: {verdict}"
            each = ", ".join(f"{r['rps']:,.0f}" for r in results)
            lines.append(
                f"| {s.name} | {apps} | {median['rps']:,.0f} | {each} | "
                f"{median['latency_us']['p50'] / 1000:.2f} | {p99:.2f} | {ratio:.2f}x | "
                f"{scaling:.2f}x | {errors} | "
                f"{statistics.median(r['server_cores'] for r in results):.2f} | "
                f"{statistics.median(r['other_cores'] for r in results):.2f} | {target} |"
            )
    return "\n".join(lines)


# --- the soak ---------------------------------------------------------------------------------


@dataclasses.dataclass
class SoakStats:
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    errors: dict[str, int] = dataclasses.field(default_factory=dict)
    error_samples: list[str] = dataclasses.field(default_factory=list)
    late: int = 0  # sent more than a second after its scheduled time

    def record(self, kind: str, latency: float, error: str | None) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(latency)
            if error is not None:
                self.errors[kind] = self.errors.get(kind, 0) + 1
                if len(self.error_samples) < 10:
                    self.error_samples.append(f"{kind}: {error}")


def _mix(text: str) -> list[str]:
    kinds: list[str] = []
    for part in text.split(","):
        name, _, share = part.partition("=")
        if name not in ("head", "pdf", "certify"):
            raise SystemExit(f"--mix: unknown kind {name!r}")
        kinds.extend([name] * int(share or 1))
    return kinds


def soak(args: argparse.Namespace, fleet: Fleet) -> int:
    token = fleet.certdist("token", "--role", "certificate-issuer", "--role", "certificate-api")
    codes = fleet.sample_codes(args.sample)
    kinds = _mix(args.mix)
    run_id = uuid.uuid4().hex[:6].upper()
    auth = {"Authorization": f"Bearer {token}"}
    stats = SoakStats()
    jobs: queue.Queue[tuple[int, float] | None] = queue.Queue()
    began = time.monotonic() + 0.5
    interval = 1.0 / args.rate
    total = int(args.soak * args.rate)

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, fleet.port, timeout=10)
        while (job := jobs.get()) is not None:
            number, at = job
            delay = at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:
                with stats.lock:
                    stats.late += 1
            kind = kinds[number % len(kinds)]
            code = codes[number % len(codes)]
            error: str | None = None
            try:
                if kind == "certify":
                    conn.request(
                        "POST", CERTIFY, body=_certify_body(f"FS{run_id}{number:08d}"),
                        headers={**auth, "Content-Type": "application/json"},
                    )  # fmt: skip
                else:
                    conn.request("HEAD" if kind == "head" else "GET", PDF + code, headers=auth)
                response = conn.getresponse()
                content = response.read()
                if response.status != 200:
                    error = f"{response.status} {content[:120]!r}"
                elif kind == "pdf" and not content.startswith(b"%PDF-"):
                    error = "not a PDF"
            except (OSError, http.client.HTTPException) as exc:
                error = f"{type(exc).__name__}: {exc}"
                conn.close()
                conn = http.client.HTTPConnection(HOST, fleet.port, timeout=10)
            stats.record(kind, time.monotonic() - at, error)
        conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    # Scheduled a little ahead of time, never further than 2 s: a queue that fills means the
    # clients cannot keep the rate, which shows as latency (from the scheduled time) and "late".
    next_report = began + 10
    for number in range(total):
        at = began + number * interval
        while at - time.monotonic() > 2.0:
            time.sleep(0.5)
        jobs.put((number, at))
        if time.monotonic() >= next_report:
            _soak_line(stats, time.monotonic() - began)
            next_report += 10
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join(timeout=30)
    elapsed = time.monotonic() - began
    print(_soak_summary(stats, args, elapsed))
    if stats.error_samples:
        print("errors, first ones:\n  " + "\n  ".join(stats.error_samples))
    if args.json:
        summary = {
            "rate": args.rate,
            "seconds": args.soak,
            "errors": stats.errors,
            "late": stats.late,
            "latencies_s": stats.latencies,
        }
        args.json.write_text(json.dumps(summary))
    return 1 if stats.errors else 0


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _soak_line(stats: SoakStats, elapsed: float) -> None:
    with stats.lock:
        done = sum(len(v) for v in stats.latencies.values())
        errors = sum(stats.errors.values())
    print(f"  {elapsed:6.0f} s: {done:,} answered, {errors} errors", flush=True)


def _soak_summary(stats: SoakStats, args: argparse.Namespace, elapsed: float) -> str:
    lines = [
        f"soak: {args.rate:g} requests/s for {args.soak:g} s (mix {args.mix}, {args.clients} "
        f"clients, open loop), {elapsed:.0f} s in all",
        "",
        "| kind | requests | errors | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    for kind, values in sorted(stats.latencies.items()):
        lines.append(
            f"| {kind} | {len(values):,} | {stats.errors.get(kind, 0)} | "
            f"{_quantile(values, 0.5) * 1000:.2f} | {_quantile(values, 0.99) * 1000:.2f} | "
            f"{max(values) * 1000:.1f} |"
        )
    lines.append(f"\nsent more than 1 s late: {stats.late}")
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    fleet = Fleet(args.fleet)
    if args.soak is not None:
        sys.exit(soak(args, fleet))
    benchmark(args, fleet)


if __name__ == "__main__":
    main()
