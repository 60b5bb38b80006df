"""Faults injected into a running loopback fleet (issue #16; docs/fleet.md has the findings):
an app process killed under load, Redis stopped and started again, and the synchronous
standby away while a certificate is issued. Loopback only; each
test leaves the fleet as it found it."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import text

from certdist.storage import Database
from tests.fleet.conftest import Fleet
from tests.support.portal import csrf_of, outbox_reader, sent_count, wait_for_code
from tests.support.request_bodies import vaccination_request_body

pytestmark = pytest.mark.fleet

DEMO_MOBILE = "+919000000001"
DEMO_CODES = ("DEMO0001", "DEMO0002", "DEMO0003")
LOAD_SECONDS = 5.0
LOAD_THREADS = 4
RESTART_SECONDS = 45.0  # a restart on a busy 2-core machine took up to ≈20 s


def _download(client: httpx.Client, code: str) -> httpx.Response:
    return client.get(f"/certificate/api/certificatePDF/{code}")


def _api_client(fleet: Fleet, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=fleet.public_url, headers=headers, timeout=20)


def _load(client: httpx.Client, stop_at: float, failures: list[str], successes: list[int]) -> None:
    """Certificate downloads (GET: nginx may retry them) until ``stop_at``."""
    with client:
        done = 0
        while time.monotonic() < stop_at:
            code = DEMO_CODES[done % len(DEMO_CODES)]
            try:
                answer = _download(client, code)
            except httpx.HTTPError as exc:
                failures.append(f"{code}: {type(exc).__name__}: {exc}")
            else:
                if answer.status_code != 200:
                    failures.append(f"{code}: {answer.status_code} {answer.text[:200]}")
            done += 1
        successes.append(done)


def test_an_app_process_killed_under_load_costs_no_request(fleet: Fleet) -> None:
    token = fleet.token("certificate-api")
    victim = fleet.status()["app0"]
    failures: list[str] = []
    successes: list[int] = []
    stop_at = time.monotonic() + LOAD_SECONDS
    # The clients are made here, not in the threads: httpx imports httpcore when its first
    # transport is made, and four threads doing that at once on CPython 3.11 once met a
    # half-imported httpcore ("no attribute 'ConnectionPool'") and sent nothing.
    clients = [_api_client(fleet, token) for _ in range(LOAD_THREADS)]
    threads = [
        threading.Thread(target=_load, args=(client, stop_at, failures, successes))
        for client in clients
    ]
    for thread in threads:
        thread.start()
    time.sleep(LOAD_SECONDS / 3)
    os.kill(int(victim["pid"]), signal.SIGKILL)  # type: ignore[call-overload]
    for thread in threads:
        thread.join(timeout=LOAD_SECONDS + 30)
    assert failures == [], f"{len(failures)} of {sum(successes)} failed: {failures[:5]}"
    assert sum(successes) > 50, "the load did not run"
    # The kill did cost the victim requests, which nginx passed on to the other app.
    upstream = f"127.0.0.1:{victim['port']}"
    assert upstream in fleet.log("nginx-error.log"), "nginx never saw the victim fail"
    # The supervisor started it again: a new pid that answers.
    deadline = time.monotonic() + RESTART_SECONDS
    while True:
        app = fleet.status()["app0"]
        if app["pid"] != victim["pid"] and app["up"]:
            break
        assert time.monotonic() < deadline, f"app0 not back after {RESTART_SECONDS} s: {app}"
        time.sleep(0.2)
    assert app["restarts"] == int(victim["restarts"]) + 1  # type: ignore[call-overload]
    assert "exited with -9; restarting" in fleet.log("supervisor.log")


# --- Redis away ----------------------------------------------------------------------------


@contextmanager
def _redis_stopped(fleet: Fleet) -> Iterator[None]:
    fleet.run("stop", "redis")
    try:
        yield
    finally:
        fleet.run("start", "redis")


def _ask_for_code(client: httpx.Client) -> tuple[httpx.Response, str]:
    token = csrf_of(client.get("/portal/login").text)
    answer = client.post("/portal/login", data={"mobile": DEMO_MOBILE, "csrf_token": token})
    return answer, token


def _guess(client: httpx.Client, code: str, token: str) -> httpx.Response:
    return client.post("/portal/verify", data={"code": code, "csrf_token": token})


def _log_in(fleet: Fleet, client: httpx.Client) -> None:
    inbox = fleet.sms_inbox()
    before = sent_count(inbox, DEMO_MOBILE)
    answer, csrf = _ask_for_code(client)
    assert answer.status_code == 303, answer.text
    code = wait_for_code(outbox_reader(inbox), DEMO_MOBILE, not_before=before)
    answer = _guess(client, code, csrf)
    assert answer.headers.get("location") == "/portal/certificates", answer.text


def test_redis_down_keeps_downloads_and_refuses_logins_clearly(fleet: Fleet) -> None:
    inbox = fleet.sms_inbox()
    with (
        httpx.Client(base_url=fleet.public_url, timeout=20) as signed_in,
        httpx.Client(base_url=fleet.public_url, timeout=20) as guesser,
        _api_client(fleet, fleet.token("certificate-api")) as api,
    ):
        _log_in(fleet, signed_in)
        # A code asked for before the outage, so that there is something to guess at.
        before = sent_count(inbox, DEMO_MOBILE)
        answer, csrf = _ask_for_code(guesser)
        assert answer.status_code == 303, answer.text
        code = wait_for_code(outbox_reader(inbox), DEMO_MOBILE, not_before=before)
        with _redis_stopped(fleet):
            for name in DEMO_CODES * 2:  # both app processes
                assert _download(api, name).status_code == 200
            # Guessing fails closed: every attempt, the right code too, is refused unread.
            wrong = [f"{n:06d}" for n in range(20) if f"{n:06d}" != code]
            for guess in [*wrong, code]:
                answer = _guess(guesser, guess, csrf)
                assert answer.status_code == 503, (guess == code, answer.status_code)
                assert "Service unavailable" in answer.text
                assert answer.headers["content-type"].startswith("text/html")
            assert _ask_for_code(guesser)[0].status_code == 503
            # Sessions live in Redis: a signed-in citizen is told to come back later.
            assert signed_in.get("/portal/certificates").status_code == 503
        # Redis is back, empty (it keeps nothing): the old code and session are gone, and a
        # new login works at once.
        assert signed_in.get("/portal/certificates").headers.get("location") == "/portal/login"
        assert _guess(guesser, code, csrf).headers.get("location") == "/portal/login"
        _log_in(fleet, guesser)
        assert guesser.get("/portal/certificates").status_code == 200
    logs = fleet.log("app0.log") + fleet.log("app1.log")
    assert "unexpected error" not in logs  # every refusal was an answer, never a 500


# --- the synchronous standby away --------------------------------------------------------

#: The fleet's apps run with certdist's default database deadline.
DATABASE_DEADLINE_SECONDS = 5.0


@contextmanager
def _standby_stopped(fleet: Fleet) -> Iterator[None]:
    fleet.run("stop", "standby")
    try:
        yield
    finally:
        fleet.run("start", "standby")  # returns once the standby is synchronous again


def _certificates_of(fleet: Fleet, code: str) -> int:
    database = Database(fleet.database_url, deadline_seconds=5)
    with database, database.transactions.read() as connection:
        query = text("SELECT count(*) FROM certificates WHERE pre_enrollment_code = :code")
        return int(connection.execute(query, {"code": code}).scalar_one())


def test_a_write_while_the_synchronous_standby_is_away_answers_503_in_time(fleet: Fleet) -> None:
    token = fleet.run(
        "certdist", "token", "--role", "certificate-issuer", "--role", "certificate-api"
    ).strip()
    body = [vaccination_request_body("STANDBYAWAY1")]
    with _api_client(fleet, token) as client:
        with _standby_stopped(fleet):
            began = time.monotonic()
            answer = client.post("/divoc/api/v1/certify", json=body)
            waited = time.monotonic() - began
            # Before the commit deadline the request hung for as long as the standby was away.
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] == "5"
            assert "did not confirm the write" in answer.text
            assert DATABASE_DEADLINE_SECONDS <= waited < DATABASE_DEADLINE_SECONDS + 10
            # Reads commit nothing: downloads go on.
            for code in DEMO_CODES:
                assert _download(client, code).status_code == 200
        # Committed on the primary: the client's retry is told it exists, and it is there once.
        retry = client.post("/divoc/api/v1/certify", json=body)
        assert retry.status_code == 409, retry.text
    assert _certificates_of(fleet, "STANDBYAWAY1") == 1
