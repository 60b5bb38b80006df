"""HTTP throughput of the certificate API (``/certificate/api``) under ``certdist serve``.

Seeds a data directory (SQLite by default, or ``--database-url``) with N beneficiaries of two
doses each through the issuance service in-process, mints a ``certificate-api`` token from
the local issuer, then starts two real servers as subprocesses (``certdist serve --workers
2`` on free loopback ports): one with the render cache off (``CERTDIST_RENDER_CACHE_BYTES=0``)
for the from-scratch PDF scenario, one with the default cache for the rest. Each scenario is
driven by ``wrk -t2 -c16 -d10s --latency`` with ``bench/wrk/rotate.lua`` (rotating paths,
bearer header, ``If-None-Match``), repeated round-robin, and reported as the median run,
next to ``GET /healthz`` measured in the same run (the framework's floor on this machine).

    .venv/bin/python bench/bench_distribution.py [--beneficiaries 5000] [--duration 10]
        [--repeat 3] [--connections 16] [--threads 2] [--workers 2] [--only a,b]
        [--database-url URL] [--data-dir DIR] [--log-level LEVEL] [--json OUT]
        [--variant LABEL=SRC_DIR[,CERTDIST_X=VALUE...][,workers=N]] [--no-project]
        [--no-baseline] [--results TITLE]

Scenarios: baseline, healthz, pdf_scratch, qr_scratch, pdf_304, head, qr_cached, pdf_cached.
``baseline`` is ``bench/baseline_app.py`` (a bare Starlette app answering a fixed 2 KB body
with an ETag, under the same uvicorn settings and worker count), measured in the same run so
that every scenario is also reported as a ratio to it; ``--no-baseline`` leaves it out. ``--results
TITLE`` appends the table, with machine, date, command and commit, to bench/RESULTS.md.
``workers=N`` in a variant runs its servers with N workers (1 against 2: scaling).
``--data-dir`` keeps
the seeded database for the next run (seeding 5,000 beneficiaries takes about a minute).
``--variant`` measures another source tree (a copy of ``src`` with a change, put first on
PYTHONPATH) and/or other settings against the project, interleaved run by run: an A/B test
that stays meaningful on a noisy machine.

Every request must answer 200 or 304: each scenario first sends one request and checks its
status and content (a PDF, a PNG, a 304, the ETag the server computes), and wrk's count of
4xx/5xx answers and socket errors is reported. wrk runs on the same cores as the server; its
CPU use, the server's and everything else's are measured and shown per scenario, with the
server's CPU time per request (the figure least disturbed by other load). Worker memory
(VmRSS, peak, Pss) is read from /proc after the load; the servers are stopped with SIGTERM.
Load goes to 127.0.0.1 only. Needs ``wrk`` (Debian package ``wrk``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import multiprocessing
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.request_bodies import vaccination_request_body  # noqa: E402

from certdist.config import Settings  # noqa: E402
from certdist.domain.models import VACCINATION  # noqa: E402
from certdist.domain.requests import CertificationRequest  # noqa: E402
from certdist.wiring import build_services  # noqa: E402

LUA = ROOT / "bench" / "wrk" / "rotate.lua"
RESULTS = ROOT / "bench" / "RESULTS.md"
HOST = "127.0.0.1"
PDF = "/certificate/api/certificatePDF/"
QR = "/certificate/api/certificateQRCode/"
SEED_MARKER = "bench-codes.txt"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- seeding ----------------------------------------------------------------------------------


def _bodies(code: str, doses: int = 2) -> list[dict[str, Any]]:
    first = vaccination_request_body(code, dose=1, total=2, name=f"Bench Person {code[-6:]}")
    if doses == 1:
        return [first]
    second = vaccination_request_body(code, dose=2, total=2, name=f"Bench Person {code[-6:]}")
    second["vaccination"]["date"] = "2021-08-01T10:21:18.646Z"
    second["vaccination"]["effectiveStart"] = "2021-08-01"
    second["vaccination"]["effectiveUntil"] = "2022-08-01"
    return [first, second]


def _seed_worker(settings: Settings, codes: Sequence[str], batch: int, doses: int = 2) -> int:
    services = build_services(settings, migrate=False)
    try:
        for start in range(0, len(codes), batch):
            requests = [
                CertificationRequest.model_validate(body)
                for code in codes[start : start + batch]
                for body in _bodies(code, doses)
            ]
            services.issuance.certificates.certify(requests)
    finally:
        services.close()
    return len(codes)


def seed(
    settings: Settings,
    count: int,
    processes: int,
    doses: int = 2,
    codes: Sequence[str] | None = None,
) -> list[str]:
    """Issue ``count`` beneficiaries with doses 1 and 2 (or dose 1 only); returns their
    preEnrollmentCodes (``codes`` when given, else new random ones)."""
    build_services(settings).close()  # migrate, generate keys, once before the workers
    if codes is None:
        run = uuid.uuid4().hex[:6].upper()
        codes = [f"BD{run}{i:06d}" for i in range(count)]
    codes = list(codes)
    shares = [codes[p::processes] for p in range(processes)]
    began = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes) as pool:
        jobs = [(settings, share, 250, doses) for share in shares]
        done = sum(pool.starmap(_seed_worker, jobs))
    elapsed = time.perf_counter() - began
    print(
        f"seeded {done} beneficiaries ({doses * done} certificates) in {elapsed:.1f} s", flush=True
    )
    return codes


def data_directory(
    path: Path | None, prefix: str
) -> tuple[Path, tempfile.TemporaryDirectory[str] | None]:
    """``path`` (created, kept for the next run), or a temporary folder removed at the end."""
    if path is None:
        temporary = tempfile.TemporaryDirectory(prefix=prefix)
        return Path(temporary.name), temporary
    path = path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path, None


def ensure_postgres_database(url: str) -> None:
    """Create the database a PostgreSQL URL names when it does not exist (on the same server,
    through its ``postgres`` database), so a bench never fills a database of the tests'."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database
    if not parsed.drivername.startswith("postgresql") or not name:
        return
    import psycopg

    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found is None:
            conn.execute(f'CREATE DATABASE "{name}"')


# --- server -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            found.extend(int(c) for c in text)
    except OSError:
        pass
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


def _system_busy_ticks() -> int:
    """Busy CPU time of the whole machine so far (all cores), in clock ticks."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return sum(values[:8]) - idle  # user nice system idle iowait irq softirq steal


def memory(pid: int) -> dict[str, float]:
    """RSS, peak RSS and PSS of one process, in MiB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) / 1024
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                out["Pss"] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


@dataclass
class Server:
    name: str
    env: dict[str, str]
    workers: int
    log_path: Path
    command: list[str] | None = None  # default: ``certdist serve``
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    exit_code: int | None = None
    killed: bool = False

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, certdist: Path) -> None:
        self.port = free_port()
        command = [
            *(self.command or [str(certdist), "serve"]), "--host", HOST, "--port",
            str(self.port), "--workers", str(self.workers),
        ]  # fmt: skip
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server {self.name} exited; see {self.log_path}")
            if len(self.worker_pids()) == self.workers and _status(self.port, "/readyz") == 200:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"server {self.name} not ready within 90 s; see {self.log_path}")
        # Both workers are up; let each answer a few requests before measuring.
        for _ in range(20 * self.workers):
            _status(self.port, "/readyz")

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        if self.workers == 1:
            return [self.process.pid]  # uvicorn serves in its own process: no workers
        return [
            pid
            for pid in _children(self.process.pid)
            if "resource_tracker" not in _cmdline(pid) and "python" in _cmdline(pid)
        ]

    def cpu_ticks(self) -> int:
        return sum(_cpu_ticks(pid) for pid in self.worker_pids())

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.exit_code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.killed = True
            os.killpg(self.process.pid, signal.SIGKILL)
            self.exit_code = self.process.wait()


def _request(
    port: int, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def _status(port: int, path: str) -> int:
    try:
        return _request(port, "GET", path)[0]
    except OSError:
        return 0


# --- scenarios --------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    server: str  # "scratch" (cache off), "cached" or "baseline" (bench/baseline_app.py)
    method: str
    lines: list[str]
    expect_status: int
    expect_prefix: bytes | None
    auth: bool
    target: str
    target_rps: float | None = None
    target_p99_ms: float | None = None
    warmup: bool = False
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by variant


BASELINE = "baseline"  # the scenario, and the label of its (only) server
BARE = "bare"


def scenarios(codes: list[str], etags: dict[str, str], hot: int) -> list[Scenario]:
    # Targets of issue #15 (2 workers, wrk on loopback); ratios to BASELINE are in the report.
    return [
        Scenario(BASELINE, BASELINE, "GET", ["/document"], 200, b"certdist baseline", False,
                 "bare Starlette/uvicorn, fixed 2 KB body with ETag (ratio 1.00)"),
        Scenario("healthz", "cached", "GET", ["/healthz"], 200, b'{"status":"ok"}', False,
                 "(info: certdist's framework floor)"),
        Scenario("pdf_scratch", "scratch", "GET", [PDF + c for c in codes], 200, b"%PDF-", True,
                 ">= 800/s, p99 <= 50 ms", 800, 50),
        Scenario("qr_scratch", "scratch", "GET", [QR + c for c in codes], 200, b"\x89PNG", True,
                 ">= 600/s", 600),
        Scenario("pdf_304", "cached", "GET", [f"{PDF}{c}\t{etags[c]}" for c in codes], 304,
                 None, True, ">= 15,000/s and >= 0.5x baseline", 15_000),
        Scenario("head", "cached", "HEAD", [PDF + c for c in codes], 200, None, True,
                 ">= 15,000/s and >= 0.5x baseline", 15_000),
        Scenario("qr_cached", "cached", "GET", [QR + c for c in codes[:hot]], 200, b"\x89PNG",
                 True, ">= 10,000/s", 10_000, warmup=True),
        Scenario("pdf_cached", "cached", "GET", [PDF + c for c in codes[:hot]], 200, b"%PDF-",
                 True, ">= 10,000/s", 10_000, warmup=True),
    ]  # fmt: skip


def preflight(port: int, scenario: Scenario, token: str) -> None:
    path, _, etag = scenario.lines[0].partition("\t")
    headers = {"Authorization": f"Bearer {token}"} if scenario.auth else {}
    if etag:
        headers["If-None-Match"] = etag
    status, _, body = _request(port, scenario.method, path, headers)
    if status != scenario.expect_status:
        raise RuntimeError(f"{scenario.name}: {path} answered {status}: {body[:300]!r}")
    if scenario.expect_prefix is not None and not body.startswith(scenario.expect_prefix):
        raise RuntimeError(f"{scenario.name}: unexpected body {body[:40]!r}")
    if scenario.method == "HEAD" and body:
        raise RuntimeError(f"{scenario.name}: HEAD answered a body")


def check_etags(port: int, token: str, etags: dict[str, str], sample: int = 20) -> None:
    """The ETags computed in-process must be the ones the server sends."""
    for code in list(etags)[:: max(1, len(etags) // sample)][:sample]:
        status, headers, _ = _request(port, "GET", PDF + code, {"Authorization": f"Bearer {token}"})
        if status != 200 or headers.get("etag") != etags[code]:
            raise RuntimeError(f"ETag of {code}: server {headers.get('etag')}, ours {etags[code]}")


def run_wrk(
    port: int,
    scenario: Scenario,
    token: str,
    paths_file: Path,
    *,
    threads: int,
    connections: int,
    duration: float,
    server: Server,
    script: Path = LUA,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One wrk run; ``script`` and ``extra_env``: another wrk script (bench/wrk/)."""
    env = dict(
        os.environ,
        WRK_PATHS=str(paths_file),
        WRK_METHOD=scenario.method,
        WRK_TOKEN=token if scenario.auth else "",
        WRK_THREADS=str(threads),
        **(extra_env or {}),
    )
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--latency",
        "--timeout", "5s", "-s", str(script), f"http://{HOST}:{port}/",
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = server.cpu_ticks()
    system_before = _system_busy_ticks()
    began = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=duration + 60)
    wall = time.perf_counter() - began
    server_cpu = (server.cpu_ticks() - server_before) / CLOCK_TICKS
    system_cpu = (_system_busy_ticks() - system_before) / CLOCK_TICKS
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in done.stdout.splitlines() if line.startswith("WRKJSON ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}\n{done.stdout}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("WRKJSON "))
    wrk_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["wrk_cores"] = wrk_cpu / wall
    result["server_cores"] = server_cpu / wall
    # Everything else on the machine (other users' tests, the OS): noise to watch for.
    result["other_cores"] = max(0.0, system_cpu - server_cpu - wrk_cpu) / wall
    return result


# --- report -----------------------------------------------------------------------------------


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    return f"nproc {os.cpu_count()}, {cpu}, Python {platform.python_version()}"


def _versions() -> str:
    from importlib.metadata import version

    names = ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "sqlalchemy")
    return ", ".join(f"{n} {version(n)}" for n in names)


def _wrk_version() -> str:
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return (
        (done.stdout or done.stderr).splitlines()[0].strip()
        if (done.stdout or done.stderr)
        else "?"
    )


def _source_state() -> str:
    """The commit measured, and whether src/ differs from it (others edit in parallel)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--", "src")
    import certdist

    where = Path(certdist.__file__).resolve().parent.parent
    state = f"commit {commit}" + (" + uncommitted changes in src/" if dirty else "")
    if where != ROOT / "src":
        state += f"; certdist imported from {where}"
    return state


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["rps"])
    return ordered[len(ordered) // 2]


def _verdict(s: Scenario, median: dict[str, Any], errors: int) -> str:
    if s.target_rps is None:
        return ""
    ok = median["rps"] >= s.target_rps and errors == 0
    if s.target_p99_ms is not None:
        ok = ok and median["latency_us"]["p99"] / 1000 <= s.target_p99_ms
    return "PASS" if ok else "FAIL"


def report(
    selected: list[Scenario],
    servers: dict[tuple[str, str], Server],
    mem: dict[tuple[str, str], list[dict[str, float]]],
) -> None:
    labels = list(dict.fromkeys(label for label, _ in servers))
    width = max(7, *(len(label) for label in labels))
    header = (
        f"{'scenario':12} {'variant':{width}} {'req/s':>8} {'runs req/s':>20} {'p50 ms':>7} "
        f"{'p99 ms':>8} {'errors':>6} {'B/resp':>7} {'cpu ms/req':>10} {'srv cpu':>7} "
        f"{'wrk cpu':>7} {'other':>6}  target"
    )
    print("\n" + header)
    print("-" * len(header))
    for s in selected:
        for label in labels:
            runs = s.runs.get(label)
            if not runs:
                continue
            med = _median_run(runs)
            errors = sum(sum(r["errors"].values()) for r in runs)
            each = ", ".join(f"{r['rps']:.0f}" for r in runs)
            print(
                f"{s.name:12} {label:{width}} {med['rps']:8.0f} {each:>20} "
                f"{med['latency_us']['p50'] / 1000:7.2f} {med['latency_us']['p99'] / 1000:8.2f} "
                f"{errors:6d} {med['bytes'] / max(1, med['requests']):7.0f} "
                f"{1000 * med['server_cores'] / max(1e-9, med['rps']):10.3f} "
                f"{med['server_cores']:7.2f} {med['wrk_cores']:7.2f} {med['other_cores']:6.2f}  "
                f"{s.target} {_verdict(s, med, errors)}"
            )
    print(
        "\nscenario server: pdf_scratch runs against a server with CERTDIST_RENDER_CACHE_BYTES=0,\n"
        "  the others against one with the default render cache.\n"
        "req/s, p50, p99, B/resp and the cpu columns come from the median run (by req/s).\n"
        "errors: over all runs, 4xx/5xx answers plus socket errors (connect/read/write/timeout).\n"
        "cpu ms/req: server worker CPU time per request (srv cpu / req/s), the figure least\n"
        "  disturbed by other load on the machine.\n"
        f"srv cpu / wrk cpu / other: cores (of {os.cpu_count()}) used during the run by the\n"
        "  server workers / by wrk / by every other process. wrk shares the cores with the\n"
        "  server; 'other' above ~0.1 means something else was running: a disturbed run."
    )
    print("\nmemory after load (MiB): per worker VmRSS / VmHWM (peak) / Pss")
    for (label, kind), server in servers.items():
        rows = mem.get((label, kind), [])
        cells = "; ".join(
            f"worker {i + 1}: {m['VmRSS']:.0f} / {m['VmHWM']:.0f} / {m.get('Pss', 0):.0f}"
            for i, m in enumerate(rows)
        )
        cache = server.env.get("CERTDIST_RENDER_CACHE_BYTES", "default")
        stop = "killed after 30 s" if server.killed else f"exit code {server.exit_code}"
        worst = max((m["VmRSS"] for m in rows), default=0)
        verdict = "PASS" if rows and worst <= 150 else "FAIL"
        print(
            f"  {label} {kind} (render cache {cache}): {cells}  [VmRSS <= 150 MB: {verdict}]; "
            f"SIGTERM: {stop}"
        )


def markdown(
    title: str,
    selected: list[Scenario],
    servers: dict[tuple[str, str], Server],
    mem: dict[tuple[str, str], list[dict[str, float]]],
    args: argparse.Namespace,
    header: list[str],
) -> str:
    """The run as a bench/RESULTS.md section: medians, runs, p99, CPU ms/req, ratio to the
    bare-framework baseline of the same run, target and verdict."""
    base_runs = next((s.runs.get(BARE) for s in selected if s.name == BASELINE), None)
    base_rps = _median_run(base_runs)["rps"] if base_runs else None
    lines = [f"## {title}", "", *(f"- {line}" for line in header), ""]
    lines += [
        "| scenario | variant | median req/s | runs | p50 / p99 ms | server CPU ms/req "
        "| ratio to baseline | target | |",
        "|---|---|---:|---|---|---:|---:|---|---|",
    ]
    for s in selected:
        for label, runs in s.runs.items():
            med = _median_run(runs)
            errors = sum(sum(r["errors"].values()) for r in runs)
            ratio = f"{med['rps'] / base_rps:.2f}x" if base_rps else "–"
            verdict = _verdict(s, med, errors)
            if verdict and base_rps and s.name in ("pdf_304", "head") and med["rps"] < base_rps / 2:
                verdict = "FAIL"
            each = ", ".join(f"{r['rps']:,.0f}" for r in runs)
            lines.append(
                f"| {s.name} | {label} | {med['rps']:,.0f} | {each} | "
                f"{med['latency_us']['p50'] / 1000:.2f} / {med['latency_us']['p99'] / 1000:.2f} | "
                f"{1000 * med['server_cores'] / max(1e-9, med['rps']):.3f} | {ratio} | "
                f"{s.target} | {verdict}{f' ({errors} errors)' if errors else ''} |"
            )
    lines += ["", "Worker memory after the load (MiB, VmRSS / peak / Pss per worker):", ""]
    for (label, kind), server in servers.items():
        rows = mem.get((label, kind), [])
        cache = server.env.get("CERTDIST_RENDER_CACHE_BYTES", "default")
        cells = "; ".join(
            f"{m['VmRSS']:.0f} / {m['VmHWM']:.0f} / {m.get('Pss', 0):.0f}" for m in rows
        )
        lines.append(f"- {label} {kind} (render cache {cache}): {cells}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Variant:
    """A build of the service to measure: the project, or another source tree put first on
    PYTHONPATH, with optional extra environment variables."""

    label: str
    src: Path | None
    env: dict[str, str]
    workers: int | None = None  # ``workers=N`` in the spec: another worker count
    server: str | None = None  # ``server=granian`` in the spec: granian instead of uvicorn

    @classmethod
    def parse(cls, text: str) -> Variant:
        label, _, rest = text.partition("=")
        src, *pairs = rest.split(",")
        env = dict(pair.split("=", 1) for pair in pairs if pair)
        workers = env.pop("workers", None)
        server = env.pop("server", None)
        return cls(
            label,
            Path(src).resolve() if src else None,
            env,
            int(workers) if workers else None,
            server,
        )

    def command(self) -> list[str] | None:
        """The server to start, when not ``certdist serve`` (uvicorn)."""
        if self.server is None:
            return None
        if self.server != "granian":
            raise SystemExit(f"unknown server {self.server!r} (granian or none)")
        return [str(Path(sys.executable).parent / "certdist"), "serve", "--server", "granian"]


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--beneficiaries", type=int, default=5000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--hot", type=int, default=500, help="codes in the qr_cached and pdf_cached scenarios"
    )
    parser.add_argument("--database-url", help="e.g. postgresql://postgres@127.0.0.1/bench")
    parser.add_argument("--data-dir", type=Path, help="keep/reuse the seeded data here")
    parser.add_argument("--only", help="comma-separated scenario names")
    parser.add_argument("--log-level", help="CERTDIST_LOG_LEVEL for the servers (default INFO)")
    parser.add_argument("--json", type=Path, help="also write all runs as JSON here")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=SRC[,VAR=VALUE...][,workers=N]",
        help="also measure another source tree (put first on PYTHONPATH; empty for the "
        "project's) and/or extra CERTDIST_* variables, interleaved run by run with the "
        "project: an A/B test on the same noisy machine",
    )
    parser.add_argument(
        "--no-project", action="store_true", help="with --variant: measure only the variants"
    )
    parser.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the bare Starlette/uvicorn baseline (bench/baseline_app.py)",
    )
    parser.add_argument(
        "--results",
        metavar="TITLE",
        help="append the table as a section with this title to bench/RESULTS.md",
    )
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    certdist = Path(sys.executable).parent / "certdist"
    if not certdist.exists():
        sys.exit(f"{certdist} not found: run with the project's venv python")

    header = [
        f"date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"machine: {machine()}, load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}",
        f"software: {_versions()}; {_wrk_version()}",
        f"command: {shlex.join(['.venv/bin/python', *sys.argv])}",
        f"source: {_source_state()}",
        f"load: wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s --latency, "
        f"certdist serve --workers {args.workers}, {args.repeat} runs per scenario "
        f"(round-robin), database {'PostgreSQL' if args.database_url else 'SQLite'}",
    ]
    print("\n".join(header), flush=True)

    data, temporary = data_directory(args.data_dir, "certdist-bench-")
    variants = [Variant("project", None, {}), *(Variant.parse(v) for v in args.variant)]
    if args.no_project and len(variants) > 1:
        variants = variants[1:]
    for variant in variants:
        where = variant.src or ROOT / "src"
        extra = " ".join(f"{k}={v}" for k, v in variant.env.items())
        print(f"variant {variant.label}: {where} {extra}".rstrip())
    servers: dict[tuple[str, str], Server] = {}
    try:
        overrides: dict[str, Any] = {"data_dir": data, "log_json": False, "log_level": "WARNING"}
        if args.database_url:
            ensure_postgres_database(args.database_url)
            overrides["database_url"] = args.database_url
        settings = Settings(**overrides)
        marker = data / SEED_MARKER
        if marker.exists() and marker.read_text().split("\n", 1)[0] == str(args.database_url):
            codes = marker.read_text().split("\n")[1:]
            codes = [c for c in codes if c][: args.beneficiaries]
            print(f"reusing {len(codes)} seeded beneficiaries from {marker}")
        else:
            codes = seed(settings, args.beneficiaries, max(1, os.cpu_count() or 1))
            marker.write_text("\n".join([str(args.database_url), *codes]) + "\n")

        services = build_services(settings, migrate=False)
        try:
            assert services.access.local_issuer is not None, "the local token issuer is off"
            token = services.access.local_issuer.mint(
                ["certificate-api"], username="bench", lifetime=timedelta(hours=6)
            )
            dist = services.distribution.certificates
            etags = {c: f'"{dist.etag(dist.bundle(c, VACCINATION), "pdf")}"' for c in codes}
        finally:
            services.close()

        selected = scenarios(codes, etags, min(args.hot, len(codes)))
        if args.only:
            wanted = set(args.only.split(",")) | ({BASELINE} if args.baseline else set())
            selected = [s for s in selected if s.name in wanted]
        if not args.baseline:
            selected = [s for s in selected if s.name != BASELINE]
        needed = {s.server for s in selected}

        base_env = {k: v for k, v in os.environ.items() if not k.startswith("WRK_")}
        base_env.update(CERTDIST_DATA_DIR=str(data), CERTDIST_MODE="development")
        base_env.pop("CERTDIST_RENDER_CACHE_BYTES", None)
        if args.database_url:
            base_env["CERTDIST_DATABASE_URL"] = args.database_url
        if args.log_level:
            base_env["CERTDIST_LOG_LEVEL"] = args.log_level
        for variant in variants:
            for kind in ("scratch", "cached"):
                if kind not in needed:
                    continue
                env = dict(base_env)
                if variant.src is not None:
                    env["PYTHONPATH"] = os.pathsep.join(
                        [str(variant.src), *filter(None, [env.get("PYTHONPATH")])]
                    )
                env.update(variant.env)
                if kind == "scratch":
                    env["CERTDIST_RENDER_CACHE_BYTES"] = "0"
                log = data / f"server-{variant.label}-{kind}.log"
                server = servers[variant.label, kind] = Server(
                    kind, env, variant.workers or args.workers, log, command=variant.command()
                )
                server.start(certdist)
                print(
                    f"server {variant.label} {kind}: pid {server.pid}, port {server.port}, "
                    f"workers {server.worker_pids()}",
                    flush=True,
                )
        if BASELINE in needed:
            # The bare framework under the same uvicorn settings and worker count.
            log = data / "server-baseline.log"
            server = servers[BARE, BASELINE] = Server(
                BASELINE,
                base_env,
                args.workers,
                log,
                command=[sys.executable, str(ROOT / "bench" / "baseline_app.py")],
            )
            server.start(certdist)
            print(f"server {BARE}: pid {server.pid}, port {server.port}", flush=True)

        paths: dict[str, Path] = {}
        for s in selected:
            paths[s.name] = data / f"paths-{s.name}.txt"
            paths[s.name].write_text("\n".join(s.lines) + "\n")
        for variant in variants:
            if "pdf_304" in {s.name for s in selected}:
                check_etags(servers[variant.label, "cached"].port, token, etags)
            for s in selected:
                if s.server != BASELINE:
                    preflight(servers[variant.label, s.server].port, s, token)
        for s in selected:
            if s.server == BASELINE:
                preflight(servers[BARE, BASELINE].port, s, token)

        wrk_options = {
            "threads": args.threads,
            "connections": args.connections,
            "duration": args.duration,
        }
        for s in selected:
            if not s.warmup:
                continue
            for variant in variants:
                # Fill both workers' render caches: enough passes over the list that every
                # code has been rendered by each worker.
                seconds = float(
                    math.ceil(max(args.duration, min(60.0, len(s.lines) * args.workers / 400)))
                )  # wrk takes whole seconds
                server = servers[variant.label, s.server]
                w = run_wrk(
                    server.port, s, token, paths[s.name],
                    **{**wrk_options, "duration": seconds}, server=server,
                )  # fmt: skip
                print(
                    f"warm-up {variant.label} {s.name}: {seconds:.0f} s, {w['requests']} requests",
                    flush=True,
                )

        for round_ in range(args.repeat):
            for s in selected:
                labels = [BARE] if s.server == BASELINE else [v.label for v in variants]
                for label in labels:
                    server = servers[label, s.server]
                    time.sleep(1.0)
                    result = run_wrk(
                        server.port, s, token, paths[s.name], **wrk_options, server=server
                    )
                    s.runs.setdefault(label, []).append(result)
                    errors = sum(result["errors"].values())
                    print(
                        f"run {round_ + 1} {s.name:12} {label:10} "
                        f"{result['rps']:9.0f} req/s  "
                        f"p50 {result['latency_us']['p50'] / 1000:6.2f} ms  "
                        f"p99 {result['latency_us']['p99'] / 1000:7.2f} ms  errors {errors}  "
                        f"cores: server {result['server_cores']:.2f} "
                        f"wrk {result['wrk_cores']:.2f} other {result['other_cores']:.2f}",
                        flush=True,
                    )

        mem = {
            key: [memory(pid) for pid in server.worker_pids()] for key, server in servers.items()
        }
        for server in servers.values():
            server.stop()
        report(selected, servers, mem)
        if args.results:
            section = markdown(args.results, selected, servers, mem, args, header)
            with RESULTS.open("a") as out:
                out.write("\n" + section)
            print(f"\nwrote the table to {RESULTS}")
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "date": datetime.now(UTC).isoformat(timespec="seconds"),
                        "machine": machine(),
                        "command": sys.argv,
                        "source": _source_state(),
                        "variants": {
                            v.label: {"src": str(v.src or ROOT / "src"), "env": v.env}
                            for v in variants
                        },
                        "scenarios": {s.name: s.runs for s in selected},
                        "memory_mib": {f"{k[0]}/{k[1]}": m for k, m in mem.items()},
                    },
                    indent=2,
                )
            )
    finally:
        for server in servers.values():
            server.stop()
        if temporary is not None:
            temporary.cleanup()


if __name__ == "__main__":
    main()
