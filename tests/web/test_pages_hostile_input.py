"""No page of the product answers 5xx to anything a visitor can send.

Every route that serves browsers (left out of the API's OpenAPI document, which
``test_openapi_fuzz.py`` fuzzes) is sent, by an anonymous visitor, a logged-in citizen and a
signed-in member of staff: odd path values, odd query strings, garbage cookies, and for the
routes that take a form every broken body a client can make. The answer must be below 500,
and the log must hold no error (a handled problem is logged as a warning at most).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from certdist.services.issuance.demo import DEMO_MOBILE
from certdist.web.app import create_app
from certdist.wiring import Services
from tests.support.portal import csrf_of, log_in, seed_portal
from tests.support.routes import browser_routes
from tests.support.services import ServicesFactory

#: Values put into every path parameter: empty-ish, huge, encoded bytes that are no UTF-8,
#: traversal, scripts, numbers out of any range, and a Devanagari word.
PATH_VALUES = [
    "x",
    "-1",
    "a" * 3000,
    "%FF%FE",
    "%00",
    "..%2F..%2Fetc%2Fpasswd",
    "%3Cscript%3E",
    "%E0%A4%AA%E0%A5%8D%E0%A4%B0",
]
QUERIES = ["?next=%2F%2Fevil.example&lang=%FF", "?" + "&".join(f"k{i}=%00" for i in 400 * [0])]
#: Form fields the pages use, each sent with every value of FIELD_VALUES.
FIELDS = [
    "mobile", "code", "passcode", "email", "mode", "expiry", "kind", "format", "username",
    "password", "dob", "name", "query", "given", "family", "payload", "certificate_id",
    "year_of_birth", "lang", "next", "state",
]  # fmt: skip
FIELD_VALUES = ["", "\x00", "<script>alert(1)</script>", "9" * 300, "é" * 20_000, "-1", "1e999"]
GARBAGE_COOKIES = {
    "lang": "<script>",
    "certdist_session": "garbage",
    "certdist_login": "%FF" * 10,
    "certdist_device": "<script>",
    "certdist_staff": "x.y.z",
    "certdist_staff_pre": "",
}


def _page_routes(app: Any) -> list[tuple[str, str]]:
    """The routes that answer browsers; the API's are fuzzed against their schema elsewhere,
    and the third-party documentation pages are checked by test_api_docs.py."""
    third_party = ("/docs", "/redoc", "/openapi.json")
    routes = {(m, path) for m, path in browser_routes(app) if path not in third_party}
    # Reads first, and the log-outs last: the visitor stays logged in for everything else.
    return sorted(routes, key=lambda route: ("logout" in route[1], route[0] != "GET", route))


def _real_values(services: Services) -> dict[str, list[str]]:
    """Path values that exist, so that hostile queries and bodies reach past the lookup:
    the demo family's certificates, every download format, a share link."""
    certificates = services.database.certificates().for_mobile(DEMO_MOBILE)
    certificate_id = certificates[0].certificate_id
    created = services.sharing.links.create(DEMO_MOBILE, certificate_id)
    return {
        "certificate_id": [certificate_id],
        "format_name": [f.name for f in services.portal.certificates.formats()],
        "pre_enrollment_code": [certificates[0].pre_enrollment_code],
        "token": [created.token],
        "link_id": [created.link.id],
        "code": ["hi"],
    }


def _paths(template: str, real: dict[str, list[str]]) -> Iterator[str]:
    """The path with each parameter hostile (the others real), then with all real."""
    names = re.findall(r"\{([^}]+)\}", template)
    if not names:
        yield template
        return
    for hostile in names:
        for value in PATH_VALUES:
            yield _fill(template, {n: value if n == hostile else _first(real, n) for n in names})
    for value in real.get(names[-1], []):
        yield _fill(template, {n: value if n == names[-1] else _first(real, n) for n in names})


def _first(real: dict[str, list[str]], name: str) -> str:
    return real.get(name, ["x"])[0]


def _fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda match: values[match.group(1)], template)


def _bodies(csrf: str) -> Iterator[tuple[dict[str, str], bytes]]:
    form = "application/x-www-form-urlencoded"
    yield {}, b""
    yield {"content-type": form}, b"a=%zz&%FF=1&csrf_token=bad"
    yield {"content-type": form}, b"mobile=\xff\xfe&csrf_token=" + csrf.encode()
    yield {"content-type": "multipart/form-data; boundary=xyz"}, b"garbage"
    yield {"content-type": "multipart/form-data"}, b"--\r\n"
    yield {"content-type": "application/json"}, b'{"mobile": [1, 2]}'
    for value in FIELD_VALUES:
        fields = [(name, value) for name in FIELDS] + [("csrf_token", csrf)]
        body = "&".join(f"{n}={quote(v, safe='')}" for n, v in fields + fields)  # every field twice
        yield {"content-type": form}, body.encode()


def _visit(client: TestClient, method: str, path: str, csrf: str) -> list[str]:
    """Everything hostile for one route; the requests that answered 5xx."""
    failures = []
    for url in [path] + [path + query for query in QUERIES]:
        if method == "GET":
            answer = client.get(url, follow_redirects=False)
            if answer.status_code >= 500:
                failures.append(f"GET {url[:120]} → {answer.status_code}")
            continue
        for headers, body in _bodies(csrf):
            answer = client.request(
                method, url, headers=headers, content=body, follow_redirects=False
            )
            if answer.status_code >= 500:
                kind = headers.get("content-type", "no body")
                failures.append(
                    f"{method} {url[:120]} [{kind}: {body[:40]!r}] → {answer.status_code}"
                )
    return failures


@pytest.fixture
def portal_services(make_sqlite_services: ServicesFactory) -> Services:
    services = make_sqlite_services()
    seed_portal(services)
    return services


@pytest.mark.parametrize("visitor", ["anonymous", "garbage-cookies", "citizen", "staff"])
def test_no_page_answers_5xx_to_what_a_visitor_sends(
    portal_services: Services, visitor: str, caplog: pytest.LogCaptureFixture
) -> None:
    services = portal_services
    app = create_app(services.settings, services=services)
    with TestClient(app, raise_server_exceptions=False) as client:
        if visitor == "citizen":
            log_in(client, services.messaging.dev_inbox, DEMO_MOBILE)
        elif visitor == "staff":
            page = client.get("/facility")
            client.post(
                "/facility/login/local",
                data={
                    "username": "nurse-7",
                    "password": "certdist-demo",
                    "csrf_token": csrf_of(page.text),
                },
            )
        elif visitor == "garbage-cookies":
            client.cookies.update(GARBAGE_COOKIES)
        start = client.get("/facility" if visitor == "staff" else "/portal/login").text
        csrf = csrf_of(start) if 'name="csrf_token"' in start else ""
        real = _real_values(services)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            failures = [
                failure
                for method, template in _page_routes(app)
                for path in _paths(template, real)
                for failure in _visit(client, method, path, csrf)
            ]
    assert failures == []
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], "the log has errors or tracebacks"


def test_the_routes_are_found(make_sqlite_services: ServicesFactory) -> None:
    services = make_sqlite_services()
    routes = _page_routes(create_app(services.settings, services=services))
    assert ("POST", "/portal/login") in routes
    assert ("GET", "/s/{token}") in routes
    assert ("POST", "/verify/result") in routes
    assert ("POST", "/facility/login/local") in routes
