"""The citizen portal in tests: the people it knows (:func:`seed_portal`), and driving it
over HTTP: log in by reading the code from the SMS outbox (the development backend). Shared
by the service, HTTP and browser tests."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from fastapi.testclient import TestClient
from httpx import Response

from certdist.domain.requests import CertificationRequest
from certdist.services.issuance.demo import seed_demo
from certdist.storage.dev_sms_inbox import DevSmsInbox
from certdist.wiring import Services
from tests.support.request_bodies import vaccination_request_body

#: A number with one beneficiary of its own, next to the demo family on ``DEMO_MOBILE``.
NEIGHBOUR = "+919880414889"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CODE = re.compile(r"#(\d{6})$")


def seed_portal(services: Services) -> None:
    """The demo certificates (a family of three on ``DEMO_MOBILE``) and a neighbour with a
    number of their own (``NBR0001`` on :data:`NEIGHBOUR`)."""
    seed_demo(services.issuance.certificates)
    neighbour = vaccination_request_body("NBR0001", mobile=NEIGHBOUR, name="Neighbour")
    services.issuance.certificates.certify([CertificationRequest.model_validate(neighbour)])


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page has no CSRF token"
    return found.group(1)


def wait_for_code(
    read_latest: Callable[[], list[tuple[str, str]]],
    mobile: str,
    *,
    not_before: int = 0,
    timeout: float = 30.0,
) -> str:
    """The code of the newest login-code SMS to ``mobile`` once more than ``not_before`` of
    them went to it (SMS leave from a background thread, so the test waits a little). Other
    SMS to the same number, such as issuance notifications the embedded worker delivers at
    any moment, are not codes and are skipped."""
    deadline = time.monotonic() + timeout
    while True:
        codes = _codes_to(read_latest(), mobile)
        if len(codes) > not_before:
            return codes[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no SMS to {mobile[-4:]} within {timeout} s")
        time.sleep(0.05)


def _codes_to(messages: list[tuple[str, str]], mobile: str) -> list[str]:
    """The login codes sent to ``mobile``, newest first."""
    found = (CODE.search(body) for to, body in messages if to == mobile)
    return [code.group(1) for code in found if code is not None]


def outbox_reader(outbox: DevSmsInbox | None) -> Callable[[], list[tuple[str, str]]]:
    assert outbox is not None, "the portal does not use the SMS outbox"
    return lambda: [(m.recipient, m.body) for m in outbox.latest(200)]


def sent_count(outbox: DevSmsInbox | None, mobile: str) -> int:
    """How many login codes went to ``mobile``."""
    return len(_codes_to(outbox_reader(outbox)(), mobile))


def log_in(client: TestClient, outbox: DevSmsInbox | None, mobile: str) -> Response:
    """The whole login: number, code from the outbox, session cookie. Returns the answer
    to the code."""
    before = sent_count(outbox, mobile)
    token = csrf_of(client.get("/portal/login").text)
    answer = client.post(
        "/portal/login", data={"mobile": mobile, "csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    code = wait_for_code(outbox_reader(outbox), mobile, not_before=before)
    answer = client.post(
        "/portal/verify", data={"code": code, "csrf_token": token}, follow_redirects=False
    )
    assert answer.headers.get("location") == "/portal/certificates", answer.text
    return answer
