"""Fault test 2 of issue #16: the PostgreSQL primary crashes under a mixed load of issuance
and downloads and the standby is promoted (``scripts/fleet failover``). Clients see 503 with
Retry-After while there is no primary, never a 500 or a hang; service comes back without
restarting certdist; and a client-side ledger of acknowledged issuances matches the new
primary exactly: none lost, none duplicated (docs/fleet.md has the figures).

The fleet is a module of its own: after the failover it has no standby, so it is not the
fleet the other fault tests expect.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import text

from certdist.storage import Database
from tests.fleet.conftest import Fleet
from tests.support.request_bodies import vaccination_request_body

pytestmark = pytest.mark.fleet

DEMO_CODES = ("DEMO0001", "DEMO0002", "DEMO0003")
CODE_PREFIX = "FAILOVER"
ISSUERS = 3
DOWNLOADERS = 2
LOAD_SECONDS = 15.0
FAILOVER_AFTER = 5.0  # seconds of load before the primary crashes
NO_PRIMARY_SECONDS = 2.0  # a failover manager's detection time, during which 503s are due
CLIENT_TIMEOUT = 20.0  # the database deadline is 5 s: an answer must come well before this
ATTEMPTS = 10  # per issuance, as a client retries the same body
RETRY_WAIT_CAP = 1.0  # the test waits at most this long, not the whole Retry-After
RECOVERED_WITHIN = 10.0  # after the promote, every request must succeed again


@dataclass
class Outcome:
    kind: str  # "certify" or "download"
    started: float
    seconds: float
    status: int | None  # None: no HTTP answer (the reason is in ``error``)
    retry_after: str | None = None
    error: str = ""


@dataclass
class Ledger:
    """What the clients were told, to compare with the database afterwards."""

    acknowledged: set[str] = field(default_factory=set)  # certify answered 2xx
    # A retry answered 409: an earlier attempt whose answer was lost had been stored.
    stored_before_retry: set[str] = field(default_factory=set)
    given_up: set[str] = field(default_factory=set)  # every attempt failed: outcome unknown
    attempted: set[str] = field(default_factory=set)
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)


def _client(fleet: Fleet, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=fleet.public_url, headers=headers, timeout=CLIENT_TIMEOUT)


def _send(client: httpx.Client, kind: str, request: httpx.Request, ledger: Ledger) -> Outcome:
    started = time.monotonic()
    try:
        answer = client.send(request)
    except httpx.HTTPError as exc:
        outcome = Outcome(kind, started, time.monotonic() - started, None, error=repr(exc))
    else:
        outcome = Outcome(
            kind,
            started,
            time.monotonic() - started,
            answer.status_code,
            answer.headers.get("Retry-After"),
            "" if answer.is_success else answer.text[:200],
        )
    ledger.record(outcome)
    return outcome


def _issue(client: httpx.Client, worker: int, stop_at: float, ledger: Ledger) -> None:
    """Issue certificates one by one, each retried with the same body until an answer says
    what happened, as a client that must not lose one does."""
    with client:
        for number in itertools.count():
            if time.monotonic() >= stop_at:
                return
            code = f"{CODE_PREFIX}{worker}{number:05d}"
            with ledger.lock:
                ledger.attempted.add(code)
            body = [vaccination_request_body(code)]
            for attempt in range(ATTEMPTS):
                request = client.build_request("POST", "/divoc/api/v1/certify", json=body)
                outcome = _send(client, "certify", request, ledger)
                if outcome.status is not None and outcome.status < 300:
                    with ledger.lock:
                        ledger.acknowledged.add(code)
                    break
                if outcome.status == 409 and attempt > 0:
                    with ledger.lock:
                        ledger.stored_before_retry.add(code)
                    break
                if outcome.status not in (None, 503):
                    return  # unexpected: the assertions report it
                wait = float(outcome.retry_after or 1)
                time.sleep(min(wait, RETRY_WAIT_CAP))
            else:
                with ledger.lock:
                    ledger.given_up.add(code)


def _download(client: httpx.Client, stop_at: float, ledger: Ledger) -> None:
    """Download the demo certificates and those the issuers were told are stored."""
    with client:
        for number in itertools.count():
            if time.monotonic() >= stop_at:
                return
            with ledger.lock:
                issued = sorted(ledger.acknowledged)
            codes = (*DEMO_CODES, *issued[-5:])
            code = codes[number % len(codes)]
            request = client.build_request("GET", f"/certificate/api/certificatePDF/{code}")
            outcome = _send(client, "download", request, ledger)
            if outcome.status != 200:
                time.sleep(0.2)


def _stored_counts(fleet: Fleet) -> dict[str, int]:
    """Live or not, how many certificates each of the test's codes has on the new primary."""
    database = Database(fleet.database_url, deadline_seconds=5)
    with database, database.transactions.read() as connection:
        rows = connection.execute(
            text(
                "SELECT pre_enrollment_code, count(*) FROM certificates "
                "WHERE pre_enrollment_code LIKE :prefix GROUP BY pre_enrollment_code"
            ),
            {"prefix": f"{CODE_PREFIX}%"},
        ).all()
    return {str(code): int(count) for code, count in rows}


def _replication_states(fleet: Fleet) -> list[str]:
    """``sync_state`` of each standby streaming from the primary."""
    database = Database(fleet.database_url, deadline_seconds=5)
    with database, database.transactions.read() as connection:
        rows = connection.execute(text("SELECT sync_state FROM pg_stat_replication")).all()
    return [str(state) for (state,) in rows]


def test_a_crashed_primary_and_a_promoted_standby_lose_and_duplicate_nothing(
    fleet: Fleet,
) -> None:
    # "None lost" rests on this: an asynchronous standby may miss the newest acknowledged
    # rows, which a run would only now and then catch (docs/fleet.md).
    assert _replication_states(fleet) == ["sync"]
    # One token for both clients: each `certdist token` is a process start of seconds here.
    token = fleet.run(
        "certdist", "token", "--role", "certificate-issuer", "--role", "certificate-api"
    ).strip()
    apps_before = {name: part["pid"] for name, part in fleet.status().items() if "pid" in part}
    ledger = Ledger()
    began = time.monotonic()
    stop_at = began + LOAD_SECONDS
    # Clients are made in this thread: see test_faults (httpcore imported by several threads
    # at once).
    threads = [
        threading.Thread(target=_issue, args=(_client(fleet, token), worker, stop_at, ledger))
        for worker in range(ISSUERS)
    ] + [
        threading.Thread(target=_download, args=(_client(fleet, token), stop_at, ledger))
        for _ in range(DOWNLOADERS)
    ]
    for thread in threads:
        thread.start()
    time.sleep(FAILOVER_AFTER)
    crashed = time.monotonic()
    report = fleet.run("failover", "--mode", "immediate", "--pause", str(NO_PRIMARY_SECONDS))
    promoted = time.monotonic()
    for thread in threads:
        thread.join(timeout=LOAD_SECONDS + ATTEMPTS * (CLIENT_TIMEOUT + RETRY_WAIT_CAP))
    assert not any(thread.is_alive() for thread in threads), "a client hung"

    outcomes = ledger.outcomes
    failed = [o for o in outcomes if o.status is None or o.status >= 300]
    # A retry's 409 is the answer "stored by an earlier attempt", not a failure.
    failed = [o for o in failed if not (o.kind == "certify" and o.status == 409)]
    unexpected = [o for o in failed if o.status != 503 or not o.retry_after]
    refused = [o for o in failed if o.status == 503]
    late = [o for o in outcomes if o.started > promoted + RECOVERED_WITHIN and o in failed]
    back = min(
        (o.started + o.seconds for o in outcomes if o.started > promoted and o.status == 200),
        default=None,
    )
    summary = (
        f"{len(outcomes)} requests ({sum(o.kind == 'certify' for o in outcomes)} certify), "
        f"{len(refused)} refused with 503, failover {report.strip()!r}, "
        f"first success {None if back is None else round(back - promoted, 2)} s after the "
        f"promote; ledger: {len(ledger.acknowledged)} acknowledged, "
        f"{len(ledger.stored_before_retry)} stored before a retry, {len(ledger.given_up)} "
        f"given up"
    )
    print(summary)
    assert unexpected == [], f"{summary}; not 503 + Retry-After: {unexpected[:5]}"
    assert refused, f"{summary}; no 503 while there was no primary"
    assert all(crashed - 1 <= o.started <= promoted + RECOVERED_WITHIN for o in refused), summary
    assert late == [], f"{summary}; still failing long after the promote: {late[:5]}"
    assert back is not None, f"{summary}; nothing succeeded after the promote"
    assert max(o.seconds for o in outcomes) < CLIENT_TIMEOUT, summary
    assert ledger.given_up == set(), summary
    assert len(ledger.acknowledged) > 20, f"{summary}; the load did not run"
    for kind in ("certify", "download"):
        after = [o for o in outcomes if o.kind == kind and o.started > promoted]
        assert any(o.status == 200 for o in after), f"{summary}; no {kind} after the promote"

    # The ledger against the new primary: each code the clients were told about is stored
    # exactly once, and nothing is stored twice or without having been asked for.
    stored = _stored_counts(fleet)
    told = ledger.acknowledged | ledger.stored_before_retry
    lost = sorted(told - stored.keys())
    duplicated = {code: n for code, n in stored.items() if n != 1}
    unasked = sorted(stored.keys() - ledger.attempted)
    assert lost == [], f"{summary}; acknowledged but not stored: {lost}"
    assert duplicated == {}, f"{summary}; stored more than once: {duplicated}"
    assert unasked == [], f"{summary}; stored but never asked for: {unasked}"
    # The only codes stored without having been told are those a client was still sending
    # when the load stopped (none: every client finishes its code) or gave up on.
    assert stored.keys() - told <= ledger.given_up, summary

    # Nobody restarted certdist: the same processes answer on the new primary.
    parts = fleet.status()
    assert {name: parts[name].get("pid") for name in apps_before} == apps_before
    assert "postgres standby" not in parts  # the standby is the primary now
    assert parts["postgres primary"]["up"]
    logs = fleet.log("app0.log") + fleet.log("app1.log")
    assert "unexpected error" not in logs  # every refusal was an answer, never a 500
