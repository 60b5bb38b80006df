"""SMART Health Links: the ``shlink:/`` payload read as the specification defines it, files
decrypted with jwcrypto on the receiving side only, the verifier accepting the card,
passcode lockout, expiry, revocation, the U flag, single-use locations, and the key in no
log line nor database row."""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from jwcrypto import jwe, jwk
from sqlalchemy import select

from certdist.errors import InvalidInput, NotFound, PasscodeRejected
from certdist.services.common.clock import FixedClock
from certdist.services.sharing import (
    FHIR_JSON,
    LOCATION_LIFETIME,
    PASSCODE_FAILURE_CAP,
    SMART_HEALTH_CARD,
    Expiry,
    LinkState,
)
from certdist.storage.schema import share_link_access, share_links, shared_state
from certdist.wiring import Services
from tests.support.delivery import MOBILE, request

OTHER_MOBILE = "+919000000002"


def issue(services: Services, code: str = "SHL0001") -> str:
    [issued] = services.issuance.certificates.certify([request(code)])
    return issued.certificate_id


def payload_of(uri: str) -> dict[str, Any]:
    """The receiving side's reading: ``shlink:/`` + base64url of minified JSON."""
    assert uri.startswith("shlink:/")
    encoded = uri.removeprefix("shlink:/")
    assert "=" not in encoded
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    return data


def token_of(payload: dict[str, Any]) -> str:
    return str(payload["url"]).rsplit("/", 1)[1]


def decrypt(key: str, compact: str) -> tuple[dict[str, Any], bytes]:
    """jwcrypto as an independent receiver: the header and the plaintext."""
    token = jwe.JWE()
    token.deserialize(compact, key=jwk.JWK(kty="oct", k=key))
    header: dict[str, Any] = json.loads(token.objects["protected"])
    return header, bytes(token.payload)


def test_round_trip_through_an_independent_jwe_implementation(services: Services) -> None:
    certificate_id = issue(services)
    links = services.sharing.health_links
    created = links.create(MOBILE, certificate_id, flags="L", label="My vaccination")
    payload = payload_of(created.uri)
    assert payload["url"] == created.url == f"https://certs.example/shl/{token_of(payload)}"
    assert len(token_of(payload)) == 43
    assert len(payload["url"]) <= 128
    assert len(payload["key"]) == 43
    assert len(base64.urlsafe_b64decode(payload["key"] + "=")) == 32
    assert (payload["flag"], payload["label"], payload["v"]) == ("L", "My vaccination", 1)
    assert payload["exp"] == int(created.link.expires_at.timestamp())

    files = links.manifest(
        token_of(payload), recipient="Dr. Rao", passcode=None, embedded_length_max=None
    )
    assert [f["contentType"] for f in files] == [SMART_HEALTH_CARD, FHIR_JSON]
    contents = {}
    for file in files:
        header, plaintext = decrypt(payload["key"], file["embedded"])
        assert header == {"alg": "dir", "enc": "A256GCM", "cty": file["contentType"]}
        contents[file["contentType"]] = plaintext
    card = json.loads(contents[SMART_HEALTH_CARD])
    assert len(card["verifiableCredential"]) == 1
    outcome = services.verifier.check(contents[SMART_HEALTH_CARD])
    assert (outcome.status, outcome.code) == ("valid", "valid")
    bundle = json.loads(contents[FHIR_JSON])
    assert bundle["resourceType"] == "Bundle"
    assert services.verifier.check(contents[FHIR_JSON]).code == "valid"
    # Every file gets its own IV, although the key stays.
    again = links.manifest(
        token_of(payload), recipient="x", passcode=None, embedded_length_max=None
    )
    assert again[0]["embedded"].split(".")[2] != files[0]["embedded"].split(".")[2]


def test_a_link_is_for_the_owners_live_certificate_and_checks_its_options(
    services: Services,
) -> None:
    certificate_id = issue(services)
    links = services.sharing.health_links
    with pytest.raises(NotFound):
        links.create(OTHER_MOBILE, certificate_id)
    for flags, passcode in [("PU", "1234"), ("P", None), ("", "1234"), ("UL", None), ("X", None)]:
        with pytest.raises(InvalidInput):
            links.create(MOBILE, certificate_id, flags=flags, passcode=passcode)
    with pytest.raises(InvalidInput):
        links.create(MOBILE, certificate_id, label="x" * 81)


def test_wrong_passcodes_count_down_and_the_link_dies_at_zero(services: Services) -> None:
    links = services.sharing.health_links
    created = links.create(MOBILE, issue(services), flags="P", passcode="4711")
    token = token_of(payload_of(created.uri))
    for remaining in range(PASSCODE_FAILURE_CAP - 1, -1, -1):
        with pytest.raises(PasscodeRejected) as rejected:
            links.manifest(token, recipient="guesser", passcode="0000", embedded_length_max=None)
        assert rejected.value.remaining_attempts == remaining
    with pytest.raises(NotFound):
        links.manifest(token, recipient="owner", passcode="4711", embedded_length_max=None)
    [overview] = links.links_of(MOBILE)
    assert overview.state is LinkState.LOCKED


def test_the_right_passcode_opens_and_costs_no_attempt(services: Services) -> None:
    links = services.sharing.health_links
    created = links.create(MOBILE, issue(services), flags="P", passcode="4711")
    token = token_of(payload_of(created.uri))
    with pytest.raises(PasscodeRejected):
        links.manifest(token, recipient="a", passcode=None, embedded_length_max=None)
    for _ in range(PASSCODE_FAILURE_CAP + 1):
        links.manifest(token, recipient="a", passcode="4711", embedded_length_max=None)


def test_expiry_and_revocation_kill_the_link(services: Services, clock: FixedClock) -> None:
    links = services.sharing.health_links
    expiring = links.create(MOBILE, issue(services), expiry=Expiry.HOUR)
    revoked = links.create(MOBILE, issue(services, "SHL0002"))
    clock.advance(timedelta(hours=1) - timedelta(seconds=1))
    links.manifest(
        token_of(payload_of(expiring.uri)), recipient="a", passcode=None, embedded_length_max=None
    )
    clock.advance(timedelta(seconds=1))
    with pytest.raises(NotFound):
        links.manifest(
            token_of(payload_of(expiring.uri)),
            recipient="a",
            passcode=None,
            embedded_length_max=None,
        )
    with pytest.raises(NotFound):
        links.revoke(OTHER_MOBILE, revoked.link.id)
    links.revoke(MOBILE, revoked.link.id)
    with pytest.raises(NotFound):
        links.manifest(
            token_of(payload_of(revoked.uri)),
            recipient="a",
            passcode=None,
            embedded_length_max=None,
        )
    states = {o.link.id: o.state for o in links.links_of(MOBILE)}
    assert states == {expiring.link.id: LinkState.EXPIRED, revoked.link.id: LinkState.REVOKED}


def test_a_correction_or_revocation_of_the_certificate_kills_the_link(services: Services) -> None:
    links = services.sharing.health_links
    created = links.create(MOBILE, issue(services))
    services.issuance.certificates.revoke("SHL0001", None, reason="test")
    with pytest.raises(NotFound):
        links.manifest(
            token_of(payload_of(created.uri)),
            recipient="a",
            passcode=None,
            embedded_length_max=None,
        )


def test_the_u_flag_serves_the_card_directly(services: Services) -> None:
    links = services.sharing.health_links
    direct = links.create(MOBILE, issue(services), flags="LU")
    payload = payload_of(direct.uri)
    file = links.direct_file(token_of(payload), recipient="Front desk")
    header, plaintext = decrypt(payload["key"], file.jwe)
    assert header["cty"] == SMART_HEALTH_CARD == file.content_type
    assert services.verifier.check(plaintext).code == "valid"
    plain = links.create(MOBILE, issue(services, "SHL0002"))
    with pytest.raises(NotFound):
        links.direct_file(token_of(payload_of(plain.uri)), recipient="Front desk")


def test_locations_are_single_use_and_short_lived(services: Services, clock: FixedClock) -> None:
    links = services.sharing.health_links
    created = links.create(MOBILE, issue(services))
    payload = payload_of(created.uri)
    files = links.manifest(token_of(payload), recipient="a", passcode=None, embedded_length_max=0)
    tickets = [f["location"].rsplit("/", 1)[1] for f in files]
    assert all(f["location"].startswith("https://certs.example/shl/files/") for f in files)
    assert "embedded" not in files[0]
    header, _ = decrypt(payload["key"], links.located_file(tickets[0]).jwe)
    assert header["cty"] == SMART_HEALTH_CARD
    with pytest.raises(NotFound):
        links.located_file(tickets[0])
    clock.advance(LOCATION_LIFETIME)
    with pytest.raises(NotFound):
        links.located_file(tickets[1])
    # A limit the file fits in embeds it.
    big = links.manifest(token_of(payload), recipient="a", passcode=None, embedded_length_max=10**6)
    assert all("embedded" in f for f in big)


def test_the_owner_reads_who_received_the_link(services: Services, clock: FixedClock) -> None:
    links = services.sharing.health_links
    created = links.create(MOBILE, issue(services), flags="P", passcode="4711")
    token = token_of(payload_of(created.uri))
    with pytest.raises(PasscodeRejected):
        links.manifest(token, recipient="Mallory", passcode="0000", embedded_length_max=None)
    clock.advance(timedelta(minutes=1))
    links.manifest(token, recipient="  Dr.\nRao  ", passcode="4711", embedded_length_max=None)
    overview = links.overview(MOBILE, created.link.id)
    assert [(a.event, a.recipient) for a in overview.accesses] == [
        ("wrong-passcode", "Mallory"),
        ("shl-manifest", "Dr. Rao"),
    ]
    with pytest.raises(NotFound):
        links.overview(OTHER_MOBILE, created.link.id)
    with pytest.raises(InvalidInput):
        links.manifest(token, recipient=" ", passcode="4711", embedded_length_max=None)


def test_the_key_is_in_no_log_line_and_no_database_row(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    links = services.sharing.health_links
    created = links.create(MOBILE, issue(services), flags="P", passcode="4711")
    payload = payload_of(created.uri)
    files = links.manifest(token_of(payload), recipient="a", passcode="4711", embedded_length_max=0)
    card = links.located_file(files[0]["location"].rsplit("/", 1)[1])
    key = payload["key"]
    assert services.verifier.check(decrypt(key, card.jwe)[1]).code == "valid"  # it logs
    raw_key = base64.urlsafe_b64decode(key + "=")
    secrets_seen = {key, raw_key.hex(), base64.b64encode(raw_key).decode(), "4711", created.uri}
    logged = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert caplog.records  # the flow does log: the check below looks at something
    with services.database.engine.connect() as connection:
        rows = [
            repr(tuple(row))
            for table in (share_links, share_link_access, shared_state)
            for row in connection.execute(select(table))
        ]
    assert any(created.link.id in row for row in rows)
    for secret in secrets_seen:
        assert secret not in logged
        assert all(secret not in row for row in rows)
