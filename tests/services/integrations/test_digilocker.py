"""The DigiLocker pull service with real XML, real HMACs, real certificates and a database."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring as parse_xml
from pydantic import SecretStr

from certdist.config import DIGILOCKER_DEV_API_KEY, DigilockerSettings
from certdist.domain.requests import CertificationRequest
from certdist.domain.roles import Permission, Principal
from certdist.errors import AuthenticationFailed, ConfigurationError, InvalidInput
from certdist.formats.digilocker_xml import read_certificate_data
from certdist.services.common.clock import FixedClock
from certdist.services.integrations.digilocker import (
    CHANNEL_PULL_DOC,
    CHANNEL_PULL_URI,
    DigilockerService,
    load_api_key,
)
from certdist.signing.ldproof import verify_credential
from certdist.wiring import Services
from tests.support import digilocker_bodies
from tests.support.digilocker_bodies import OTHER_DIGILOCKER_ID, hmac_header
from tests.support.request_bodies import vaccination_request_body
from tests.support.services import ServicesFactory

KEY = b"test-digilocker-key"
NOW = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
IST = timezone(timedelta(hours=5, minutes=30))
PERSON = {"tracking_id": "BEN1", "mobile": "9880414889", "dob": "30-11-1994"}


def pull_uri_body(**fields: Any) -> bytes:
    """A request stamped with the service's (fixed) time unless ``ts`` is given."""
    return digilocker_bodies.pull_uri_body(**{"ts": NOW, **fields})


def pull_doc_body(**fields: Any) -> bytes:
    return digilocker_bodies.pull_doc_body(**{"ts": NOW, **fields})


@pytest.fixture
def services(make_services: ServicesFactory) -> Services:
    digilocker = DigilockerSettings(api_key=SecretStr(KEY.decode()))
    return make_services(digilocker=digilocker, clock=FixedClock(NOW))


@pytest.fixture
def digilocker(services: Services) -> DigilockerService:
    assert services.integrations.digilocker is not None
    return services.integrations.digilocker


def _issue(services: Services, **overrides: Any) -> str:
    body = vaccination_request_body("BEN1", name="Bhaya Mitra", **overrides)
    [issued] = services.issuance.certificates.certify([CertificationRequest.model_validate(body)])
    return issued.certificate_id


def _call(service: DigilockerService, body: bytes, *, doc: bool = False) -> Any:
    pull = service.pull_doc if doc else service.pull_uri
    return parse_xml(pull(body, hmac_header(KEY, body)))


def _status(root: Any) -> str:
    return str(root.find("ResponseStatus").attrib["Status"])


def _outcomes(services: Services, channel: str) -> list[str]:
    """The audited outcomes, sorted (the fixed clock gives every event the same time)."""
    return sorted(e.outcome for e in services.database.integrations().events(channel=channel))


@pytest.mark.parametrize("wanted", ["xml", "pdf", "both"])
def test_pull_uri_answers_the_uri_and_the_requested_documents(
    services: Services, digilocker: DigilockerService, wanted: str
) -> None:
    certificate_id = _issue(services)
    root = _call(digilocker, pull_uri_body(**PERSON, name="Mitra Bhaya", format=wanted))
    assert _status(root) == "1"
    uri = f"in.gov.covin-VACER-{certificate_id}"
    assert root.findtext("DocDetails/URI") == uri
    assert root.find("ResponseStatus").attrib["txn"] == "txn-1"
    pdf, data = root.findtext("DocDetails/DocContent"), root.findtext("DocDetails/DataContent")
    assert (pdf is not None) == (wanted != "xml")
    assert (data is not None) == (wanted != "pdf")
    if pdf is not None:
        bundle = services.distribution.certificates.bundle("BEN1")
        caller = Principal(subject="test", username="test", roles=frozenset())
        served = services.distribution.certificates.render(
            bundle, "pdf", caller=caller, permission=Permission.DISTRIBUTE
        )
        assert base64.b64decode(pdf) == served.content
    if data is not None:
        content = read_certificate_data(base64.b64decode(data))
        assert content.uri == uri
        assert content.signed_credential == services.issuance.certificates.signed_credential(
            certificate_id
        )
        verify_credential(json.loads(content.signed_credential), services.keys.public_key)
    assert _outcomes(services, CHANNEL_PULL_URI) == ["issued"]


def test_pull_doc_serves_a_uri_issued_to_that_account_only(
    services: Services, digilocker: DigilockerService
) -> None:
    certificate_id = _issue(services)
    uri = f"in.gov.covin-VACER-{certificate_id}"
    assert _status(_call(digilocker, pull_uri_body(**PERSON))) == "1"

    root = _call(digilocker, pull_doc_body(uri=uri, format="pdf"), doc=True)
    assert _status(root) == "1"
    assert base64.b64decode(root.findtext("DocDetails/DocContent") or "").startswith(b"%PDF-")
    assert root.find("DocDetails/DataContent") is None

    other = pull_doc_body(uri=uri, txn="txn-3", digilocker_id=OTHER_DIGILOCKER_ID)
    refused = _call(digilocker, other, doc=True)
    assert _status(refused) == "0"
    assert list(refused.find("DocDetails")) == []
    never_issued = _call(digilocker, pull_doc_body(uri=uri + "9", txn="txn-4"), doc=True)
    assert _status(never_issued) == "0"
    assert _outcomes(services, CHANNEL_PULL_DOC) == [
        "delivered",
        "not-issued-to-account",
        "not-issued-to-account",
    ]


def test_pull_doc_refuses_a_certificate_revoked_since(
    services: Services, digilocker: DigilockerService
) -> None:
    certificate_id = _issue(services)
    _call(digilocker, pull_uri_body(**PERSON))
    services.issuance.certificates.revoke("BEN1", None, reason="issued in error")
    root = _call(digilocker, pull_doc_body(uri=f"in.gov.covin-VACER-{certificate_id}"), doc=True)
    assert _status(root) == "0"
    assert _outcomes(services, CHANNEL_PULL_DOC) == ["not-live"]


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        ({"mobile": "9880414880"}, "mobile-mismatch"),
        ({"mobile": ""}, "mobile-mismatch"),
        ({"mobile": "not a number"}, "mobile-mismatch"),
        ({"dob": "01-12-1994"}, "dob-mismatch"),
        ({"dob": ""}, "dob-mismatch"),
        ({"name": "Bhavya Mitra"}, "name-mismatch"),
        ({"tracking_id": "BEN2"}, "not-found"),
        ({"tracking_id": "../etc"}, "not-found"),
        ({"doc_type": "OTHER"}, "other-doc-type"),
    ],
)
def test_pull_uri_refuses_any_mismatch_alike(
    services: Services, digilocker: DigilockerService, change: dict[str, str], outcome: str
) -> None:
    _issue(services)
    body = pull_uri_body(**{**PERSON, **change})
    response = digilocker.pull_uri(body, hmac_header(KEY, body))
    expected_refusal = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<PullURIResponse xmlns:ns2="http://tempuri.org/">'
        f'<ResponseStatus Status="0" ts="{NOW.isoformat(timespec="seconds")}" txn="txn-1">0'
        "</ResponseStatus><DocDetails /></PullURIResponse>"
    )
    assert response.decode() == expected_refusal
    assert _outcomes(services, CHANNEL_PULL_URI) == [outcome]
    assert services.database.integrations().issued("x", "y") is None


def test_replayed_txn_is_refused_and_stale_or_future_ts_too(
    services: Services, digilocker: DigilockerService
) -> None:
    _issue(services)
    body = pull_uri_body(**PERSON)
    assert _status(_call(digilocker, body)) == "1"
    assert _status(_call(digilocker, body)) == "0"
    stale = pull_uri_body(**PERSON, txn="t-old", ts=NOW - timedelta(minutes=16))
    future = pull_uri_body(**PERSON, txn="t-new", ts=NOW + timedelta(minutes=16))
    unreadable = pull_uri_body(**PERSON, txn="t-bad", ts="yesterday")
    ist = pull_uri_body(**PERSON, txn="t-ist", ts=NOW.astimezone(IST))
    for refused in (stale, future, unreadable):
        assert _status(_call(digilocker, refused)) == "0"
    # A naive ts is read in IST (DigiLocker's clock): NOW + 5:30 written without offset.
    naive = pull_uri_body(
        **PERSON,
        txn="t-naive",
        ts=(NOW + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S"),
    )
    assert _status(_call(digilocker, naive)) == "1"
    assert _status(_call(digilocker, ist)) == "1"
    assert _outcomes(services, CHANNEL_PULL_URI) == [
        "issued",
        "issued",
        "issued",
        "replayed-txn",
        "stale-ts",
        "stale-ts",
        "stale-ts",
    ]


def test_a_wrong_or_missing_hmac_is_refused_before_parsing(
    services: Services, digilocker: DigilockerService
) -> None:
    body = b"<not-even-xml"
    for header in (None, "", hmac_header(b"another-key", body), hmac_header(KEY, body, raw=True)):
        with pytest.raises(AuthenticationFailed):
            digilocker.pull_uri(body, header)
    with pytest.raises(InvalidInput):
        digilocker.pull_uri(body, hmac_header(KEY, body))
    assert _outcomes(services, CHANNEL_PULL_URI) == ["bad-signature"] * 4 + ["malformed"]


def test_hmac_covers_the_whole_body(digilocker: DigilockerService) -> None:
    body = pull_uri_body(**PERSON) + b" " * 3000
    with pytest.raises(AuthenticationFailed):
        digilocker.pull_uri(body, hmac_header(KEY, body[:2048]))


def test_the_audit_holds_no_personal_data(
    services: Services, digilocker: DigilockerService
) -> None:
    certificate_id = _issue(services)
    _call(digilocker, pull_uri_body(**PERSON, name="Bhaya Mitra"))
    [event] = services.database.integrations().events()
    stored = " ".join(str(v) for v in vars(event).values())
    for personal in ("9880414889", "Bhaya", "1994", "BEN1", "1b7a0c5e"):
        assert personal not in stored
    assert event.certificate_id == certificate_id
    assert event.txn == "txn-1"
    assert len(event.actor) == 64  # the keyed hash of the DigiLocker id


def test_api_key_sources(tmp_path: Path) -> None:
    key_file = tmp_path / "digilocker.key"
    key_file.write_text("from-file\n")
    assert load_api_key(DigilockerSettings(api_key_file=key_file), production=True) == b"from-file"
    assert load_api_key(DigilockerSettings(enabled=False), production=True) is None
    assert load_api_key(DigilockerSettings(), production=False) == DIGILOCKER_DEV_API_KEY.encode()
    with pytest.raises(ConfigurationError):
        load_api_key(DigilockerSettings(api_key_file=tmp_path / "missing"), production=False)
    with pytest.raises(ConfigurationError):
        load_api_key(DigilockerSettings(api_key=SecretStr(" ")), production=False)


@pytest.mark.parametrize(
    "section",
    [DigilockerSettings(), DigilockerSettings(api_key=SecretStr(DIGILOCKER_DEV_API_KEY))],
)
def test_production_refuses_a_missing_or_development_key(section: DigilockerSettings) -> None:
    problems = section.production_problems()
    assert problems
    assert all("digilocker" in problem for problem in problems)
    assert DigilockerSettings(enabled=False).production_problems() == []
