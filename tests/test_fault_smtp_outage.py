"""Fault test: the SMTP server is down while certificates are issued (issue #16, test 4).

A real ``certdist worker`` process sends to a real SMTP server (aiosmtpd on loopback) that is
stopped and started again, and in the second test is SIGKILLed between the server taking a
message and the worker recording it as sent. Mail is counted at the server by Message-ID,
the one thing a mail store can use to recognise a repeat.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from certdist.services.messaging.mail import message_id_for
from certdist.storage.database import Database
from certdist.storage.outbox import MessageKind, MessageStatus, OutboxMessage
from tests.support.cli import Cli, worker_process
from tests.support.request_bodies import vaccination_request_body
from tests.support.smtp import Mailbox, SmtpServer

FROM = "certificates@health.example"
#: Every wait of these tests gives up after this long: a hang fails, it never blocks the run.
DEADLINE_SECONDS = 60.0


def worker_env(run: Cli, server: SmtpServer) -> dict[str, str]:
    """Fast retries and a short lease, so an outage and a crash play out in seconds."""
    return {
        **os.environ,
        **run.env,
        "CERTDIST_MAIL__BACKEND": "smtp",
        "CERTDIST_MAIL__SMTP_HOST": "127.0.0.1",
        "CERTDIST_MAIL__SMTP_PORT": str(server.port),
        "CERTDIST_MAIL__SMTP_STARTTLS": "false",
        "CERTDIST_MAIL__SMTP_TIMEOUT_SECONDS": "1",
        "CERTDIST_MAIL__FROM_ADDRESS": FROM,
        "CERTDIST_MAIL__LEASE_SECONDS": "3",
        "CERTDIST_MAIL__MAX_ATTEMPTS": "100",
        "CERTDIST_MAIL__BACKOFF_BASE_SECONDS": "0.3",
        "CERTDIST_MAIL__BACKOFF_MAX_SECONDS": "0.6",
        "CERTDIST_MAIL__WORKER_POLL_SECONDS": "0.1",
        "CERTDIST_PRINTING__BATCH_POLL_SECONDS": "5",
        "PYTHONUNBUFFERED": "1",
    }


def issue_with_mail(run: Cli, tmp_path: Path, codes: list[str]) -> None:
    bodies = []
    for code in codes:
        body = vaccination_request_body(code)
        body["recipient"]["contact"].append(f"mailto:{code.lower()}@example.org")
        bodies.append(body)
    requests = tmp_path / "requests.json"
    requests.write_text(json.dumps(bodies))
    result = run("issue", str(requests))
    assert result.exit_code == 0, result.output


def mails(database: Database) -> list[OutboxMessage]:
    return [m for m in database.outbox().messages() if m.kind is MessageKind.MAIL]


def wait_until(
    condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert process.poll() is None, f"the worker exited:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"gave up waiting: {what}\n{log.read_text()}"
        time.sleep(0.1)


def received(mailbox: Mailbox) -> Counter[str]:
    return Counter(mailbox.message_ids())


def test_mail_queued_during_an_smtp_outage_arrives_once_after_it(
    tmp_path: Path, database: Database, migrated_database_url: str
) -> None:
    run = Cli(tmp_path / "data", migrated_database_url)
    server = SmtpServer()  # its port is chosen, nothing listens on it yet: the outage
    codes = [f"SMTPOUT{n:02d}" for n in range(6)]
    issue_with_mail(run, tmp_path, codes)
    queued = mails(database)
    assert len(queued) == len(codes)
    log = tmp_path / "worker.log"
    try:
        with worker_process(worker_env(run, server), log) as worker:
            # Every mail fails at least twice (refused connection) and stays queued for retry.
            wait_until(
                lambda: all(m.attempts >= 2 for m in mails(database)),
                "every mail tried twice during the outage",
                worker,
                log,
            )
            during = mails(database)
            assert {m.status for m in during} <= {MessageStatus.QUEUED, MessageStatus.SENDING}
            assert {m.last_error for m in during} == {"DeliveryFailed"}

            server.start()  # the server is back on the same port
            wait_until(
                lambda: all(m.status is MessageStatus.SENT for m in mails(database)),
                "every mail sent after the outage",
                worker,
                log,
            )
            # Room for a stray second send (a lease lapsing, a retry racing the success).
            time.sleep(1.5)
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=20) == 0, log.read_text()
    finally:
        server.stop()
    expected = {message_id_for(m.id, FROM) for m in queued}
    assert received(server.mailbox) == Counter(dict.fromkeys(expected, 1))
    assert sorted(str(m["To"]) for m in server.mailbox.messages) == sorted(
        f"{code.lower()}@example.org" for code in codes
    )


class AcceptThenStall(Mailbox):
    """Takes the first message (it is in the mailbox) but holds back the ``250`` reply: the
    worker is killed in that window, as if it crashed or lost the connection right after the
    server accepted the message. Later messages are answered at once."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if not self.accepted.is_set():
            self.accepted.set()
            # aiosmtpd runs handlers on its own event loop thread; a blocking wait there only
            # stalls this server, which is the point.
            self.release.wait(DEADLINE_SECONDS)
        return reply


def test_a_worker_killed_after_the_server_took_the_mail_resends_it_with_the_same_message_id(
    tmp_path: Path, database: Database, migrated_database_url: str
) -> None:
    run = Cli(tmp_path / "data", migrated_database_url)
    server = SmtpServer()
    stalling = AcceptThenStall()
    server.mailbox = stalling
    issue_with_mail(run, tmp_path, ["SMTPKILL01"])
    [message] = mails(database)
    log = tmp_path / "worker.log"
    env = worker_env(run, server)
    server.start()
    try:
        with worker_process(env, log) as first:
            wait_until(stalling.accepted.is_set, "the server took the message", first, log)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=15)
        stalling.release.set()
        held = database.outbox().get(message.id)
        assert held is not None
        assert held.status is MessageStatus.SENDING  # the outcome was never recorded

        with worker_process(env, log) as second:
            wait_until(
                lambda: mails(database)[0].status is MessageStatus.SENT,
                "the message sent again after its lease lapsed",
                second,
                log,
            )
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=20) == 0, log.read_text()
    finally:
        stalling.release.set()
        server.stop()
    [sent] = mails(database)
    assert sent.attempts == 2
    # At-least-once at the SMTP level: two copies arrived, and both carry the Message-ID of
    # the one outbox row (one per idempotency key), so the mail store sees one message.
    assert received(stalling) == Counter({message_id_for(message.id, FROM): 2})
