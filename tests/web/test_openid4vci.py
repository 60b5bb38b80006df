"""OpenID4VCI over HTTP, on SQLite and PostgreSQL: metadata, offers with a transaction code
by SMS, the token, nonce and credential endpoints with every error the specification names,
and the SD-JWT VCs issued (bound to the proof keys, verifiable with the published keys)."""

from __future__ import annotations

import base64
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from certdist.domain.models import VACCINATION
from certdist.domain.requests import TestCertificationRequest
from certdist.formats.sd_jwt_vc import verify_presentation
from certdist.formats.sd_jwt_vc_types import openid4vci_claims
from certdist.services.common.clock import FixedClock
from certdist.signing.jose import public_key_from_jwk
from certdist.wiring import Services
from tests.support.clients import TokenFactory, bearer
from tests.support.imaging import open_image, scan
from tests.support.openid4vci import TestWallet, key_proof, offer_uri_of, path_of, tx_code_sent
from tests.support.portal import csrf_of, log_in
from tests.support.request_bodies import lab_test_request_body, vaccination_request_body
from tests.support.sd_jwt import ed25519_holder_key, payload_of, present, with_key_binding
from tests.web.test_share import issue as share_issue

MOBILE = "+919880414889"  # the request bodies' 9880414889, as stored
CLIENT = "certificate-api"


def issue(client: TestClient, auth: TokenFactory, *bodies: dict[str, Any]) -> None:
    answer = client.post(
        "/divoc/api/v1/certify", json=list(bodies), headers=auth("certificate-issuer")
    )
    assert answer.status_code == 200, answer.text


def make_offer(client: TestClient, headers: dict[str, str], ref: str = "W1") -> dict[str, Any]:
    answer = client.post(f"/certificate/api/wallet-offer?refId={ref}", headers=headers)
    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body: dict[str, Any] = answer.json()
    return body


def redeem(wallet: TestWallet, services: Services, link: str) -> str:
    offer = wallet.offer(link)
    code = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
    token = wallet.token(
        code["pre-authorized_code"], tx_code_sent(services.messaging.dev_inbox, MOBILE)
    )
    assert token.status_code == 200, token.text
    access_token: str = token.json()["access_token"]
    return access_token


def oauth_error(answer: Any, status: int, error: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.json()["error"] == error, answer.text
    assert answer.headers["cache-control"] == "no-store"
    description: str = answer.json()["error_description"]
    assert description.isascii()
    assert '"' not in description
    return description


@pytest.fixture
def two_doses(client: TestClient, auth: TokenFactory) -> None:
    issue(client, auth, *(vaccination_request_body("W1", dose=d) for d in (1, 2)))


@pytest.fixture
def wallet(client: TestClient, services: Services) -> TestWallet:
    return TestWallet(client, services.settings.public_url.rstrip("/"))


def test_metadata_names_the_endpoints_and_one_configuration_per_kind(
    client: TestClient, services: Services
) -> None:
    issuer = services.settings.public_url.rstrip("/")
    answer = client.get("/.well-known/openid-credential-issuer")
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    metadata = answer.json()
    assert metadata["credential_issuer"] == issuer
    assert "authorization_servers" not in metadata  # the issuer is its own AS
    assert metadata["credential_endpoint"] == issuer + "/openid4vci/credential"
    assert metadata["nonce_endpoint"] == issuer + "/openid4vci/nonce"
    assert metadata["batch_credential_issuance"]["batch_size"] >= 2
    assert {d["locale"] for d in metadata["display"]} == {"en", "hi"}
    configurations = metadata["credential_configurations_supported"]
    assert set(configurations) == {"vaccination_sd_jwt_vc", "lab_test_sd_jwt_vc"}
    vaccination = configurations["vaccination_sd_jwt_vc"]
    assert vaccination["format"] == "dc+sd-jwt"
    assert vaccination["vct"] == issuer + "/credentials/vaccination/v1"
    assert vaccination["cryptographic_binding_methods_supported"] == ["jwk"]
    assert vaccination["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"] == [
        "ES256",
        "EdDSA",
        "Ed25519",
    ]
    assert {d["locale"] for d in vaccination["credential_metadata"]["display"]} == {"en", "hi"}
    server = client.get("/.well-known/oauth-authorization-server").json()
    assert server["issuer"] == issuer
    assert server["token_endpoint"] == issuer + "/openid4vci/token"
    assert server["grant_types_supported"] == [
        "urn:ietf:params:oauth:grant-type:pre-authorized_code"
    ]
    assert server["pre-authorized_grant_anonymous_access_supported"] is True


def test_a_certificate_goes_to_a_wallet_as_a_batch_of_unlinkable_bound_copies(
    client: TestClient, auth: TokenFactory, services: Services, two_doses: None, wallet: TestWallet
) -> None:
    made = make_offer(client, auth(CLIENT))
    assert made["credential_offer"].startswith("openid-credential-offer://?credential_offer_uri=")
    assert made["tx_code_sent_to"] == "******4889"
    assert made["credential_configuration_id"] == "vaccination_sd_jwt_vc"
    offer = wallet.offer(made["credential_offer"])
    assert offer["credential_issuer"] == wallet.issuer
    grant = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
    assert grant["tx_code"] == {
        "input_mode": "numeric",
        "length": 6,
        "description": grant["tx_code"]["description"],
    }
    access_token = redeem(wallet, services, made["credential_offer"])
    answer = wallet.credential(access_token, wallet.proofs(wallet.nonce(), count=2))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    credentials = [item["credential"] for item in answer.json()["credentials"]]
    assert len(credentials) == 2
    keys = {
        key["kid"]: public_key_from_jwk(key)
        for key in client.get("/.well-known/jwt-vc-issuer").json()["jwks"]["keys"]
    }
    now = services.clock.now()
    for credential, (holder, jwk) in zip(credentials, wallet.keys[:2], strict=True):
        payload = payload_of(credential)
        assert payload["cnf"] == {"jwk": jwk}
        assert payload["iss"] == wallet.issuer
        # Shown with only the doses, bound to the holder's key: the verifier sees no name.
        shown = present(credential, lambda d: len(d) == 2 or d[1] in ("vaccine", "vaccinations"))
        verified = verify_presentation(
            with_key_binding(shown, holder),
            lambda iss, kid: [keys[kid]] if iss == wallet.issuer and kid in keys else [],
            now,
        )
        assert verified.holder_bound
        assert "name" not in verified.claims
        assert "birthdate" not in verified.claims
        assert [dose["vaccine"] for dose in verified.claims["vaccinations"]]
    first, second = (payload_of(c) for c in credentials)
    assert first["rid"] != second["rid"]
    assert not set(first["_sd"]) & set(second["_sd"])
    services.database.audit().flush()
    audit = [d for d in services.database.audit().for_beneficiary("W1") if d.format == "sd-jwt-vc"]
    assert [(d.pre_enrollment_code, d.actor) for d in audit] == [("W1", "facility-1")]


def test_the_transaction_code_must_be_right_and_is_guessed_five_times_at_most(
    client: TestClient, auth: TokenFactory, services: Services, two_doses: None, wallet: TestWallet
) -> None:
    offer = wallet.offer(make_offer(client, auth(CLIENT))["credential_offer"])
    code = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"][
        "pre-authorized_code"
    ]
    right = tx_code_sent(services.messaging.dev_inbox, MOBILE)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    oauth_error(wallet.token(code, None), 400, "invalid_request")
    for _ in range(services.settings.openid4vci.tx_code_attempts):
        oauth_error(wallet.token(code, wrong), 400, "invalid_grant")
    assert "unknown, used or expired" in oauth_error(
        wallet.token(code, right), 400, "invalid_grant"
    )


def test_a_pre_authorized_code_is_single_use_even_when_raced(
    client: TestClient, auth: TokenFactory, services: Services, two_doses: None, wallet: TestWallet
) -> None:
    made = make_offer(client, auth(CLIENT))
    offer = wallet.offer(made["credential_offer"])
    code = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"][
        "pre-authorized_code"
    ]
    tx_code = tx_code_sent(services.messaging.dev_inbox, MOBILE)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: wallet.token(code, tx_code), range(4)))
    assert sorted(a.status_code for a in answers) == [200, 400, 400, 400]
    # Redeemed, the offer is gone too.
    assert client.get(path_of(offer_uri_of(made["credential_offer"]))).status_code == 404


def test_token_requests_name_their_error(client: TestClient, wallet: TestWallet) -> None:
    oauth_error(client.post("/openid4vci/token", data={}), 400, "invalid_request")
    oauth_error(
        client.post("/openid4vci/token", data={"grant_type": "authorization_code", "code": "x"}),
        400,
        "unsupported_grant_type",
    )
    oauth_error(wallet.token("no-such-code", "123456"), 400, "invalid_grant")
    oauth_error(client.post("/openid4vci/token", json={"grant_type": "x"}), 400, "invalid_request")


def test_an_offer_expires(make_client: Any, auth: TokenFactory) -> None:
    clock = FixedClock(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    client, services = make_client(clock=clock)
    headers = bearer(services, "certificate-issuer")
    issue(client, lambda *roles: headers, vaccination_request_body("W1"))
    wallet = TestWallet(client, services.settings.public_url.rstrip("/"))
    made = make_offer(client, bearer(services, CLIENT))
    offer = wallet.offer(made["credential_offer"])
    code = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"][
        "pre-authorized_code"
    ]
    clock.advance(timedelta(seconds=services.settings.openid4vci.offer_seconds + 1))
    assert client.get(path_of(made["credential_offer_uri"])).status_code == 404
    oauth_error(
        wallet.token(code, tx_code_sent(services.messaging.dev_inbox, MOBILE)), 400, "invalid_grant"
    )


def test_credential_requests_name_their_error(
    client: TestClient, auth: TokenFactory, services: Services, two_doses: None, wallet: TestWallet
) -> None:
    access_token = redeem(wallet, services, make_offer(client, auth(CLIENT))["credential_offer"])
    # The bearer token first (RFC 6750).
    answer = wallet.credential("not-a-token", wallet.proofs(wallet.nonce()))
    oauth_error(answer, 401, "invalid_token")
    assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    no_token = client.post("/openid4vci/credential", json={})
    oauth_error(no_token, 401, "invalid_token")
    cases: list[tuple[Any, int, str]] = [
        ({"credential_configuration_id": "vaccination_sd_jwt_vc"}, 400, "invalid_proof"),
        ({"proofs": {"jwt": ["x"]}}, 400, "invalid_credential_request"),
        (
            {"credential_configuration_id": "nope", "proofs": {}},
            400,
            "unknown_credential_configuration",
        ),
        (
            {"credential_configuration_id": "lab_test_sd_jwt_vc", "proofs": {}},
            403,
            "insufficient_scope",
        ),
        ({"credential_identifier": "a", "proofs": {}}, 400, "invalid_credential_request"),
        (
            {"credential_configuration_id": "vaccination_sd_jwt_vc", "proofs": {"jwt": []}},
            400,
            "invalid_proof",
        ),
        (
            {"credential_configuration_id": "vaccination_sd_jwt_vc", "proofs": {"ldp_vp": [{}]}},
            400,
            "invalid_proof",
        ),
        (
            {"credential_configuration_id": "vaccination_sd_jwt_vc", "proofs": {"jwt": ["a.b.c"]}},
            400,
            "invalid_proof",
        ),
        ([1, 2], 400, "invalid_credential_request"),
    ]
    for body, status, error in cases:
        answer = client.post(
            "/openid4vci/credential", json=body, headers={"Authorization": f"Bearer {access_token}"}
        )
        oauth_error(answer, status, error)
    garbage = client.post(
        "/openid4vci/credential",
        content=b"{not json",
        headers={"Authorization": f"Bearer {access_token}", "Content-Type": "application/json"},
    )
    oauth_error(garbage, 400, "invalid_credential_request")
    nonce = wallet.nonce()
    key, jwk = wallet.keys[0]
    ed_key, ed_jwk = ed25519_holder_key()
    bad_proofs = {
        "wrong aud": wallet.proofs(nonce, aud="https://elsewhere.example"),
        "wrong typ": wallet.proofs(nonce, header={"typ": "JWT"}),
        "kid and jwk": wallet.proofs(nonce, header={"kid": "k1"}),
        "old iat": wallet.proofs(nonce, iat=int(services.clock.now().timestamp()) - 3600),
        "future iat": wallet.proofs(nonce, iat=int(services.clock.now().timestamp()) + 3600),
        "no nonce": [key_proof(key, jwk, aud=wallet.issuer, nonce=None)],
        "alg none": wallet.proofs(nonce, header={"alg": "none"}),
        "same key twice": wallet.proofs(nonce) * 2,
        "private key": wallet.proofs(nonce, header={"jwk": {**jwk, "d": "AAAA"}}),
        "Ed25519 key, ES256": [
            key_proof(ed_key, ed_jwk, aud=wallet.issuer, nonce=nonce, header={"alg": "ES256"})
        ],
        "Ed25519 key, 1 byte": [
            key_proof(ed_key, {**ed_jwk, "x": "AA"}, aud=wallet.issuer, nonce=nonce)
        ],
    }
    for problem, proofs in bad_proofs.items():
        answer = wallet.credential(access_token, proofs)
        assert answer.json().get("error") == "invalid_proof", (problem, answer.text)
    too_many = wallet.proofs(nonce, count=1) * (services.settings.openid4vci.batch_size + 1)
    oauth_error(wallet.credential(access_token, too_many), 400, "invalid_credential_request")
    # The nonce was never spent by the refused requests; once used it is gone.
    good = wallet.proofs(nonce)
    assert wallet.credential(access_token, good).status_code == 200
    oauth_error(wallet.credential(access_token, good), 400, "invalid_nonce")
    oauth_error(wallet.credential(access_token, wallet.proofs("made-up")), 400, "invalid_nonce")


def test_a_certificate_revoked_after_the_offer_is_not_issued(
    client: TestClient, auth: TokenFactory, services: Services, two_doses: None, wallet: TestWallet
) -> None:
    access_token = redeem(wallet, services, make_offer(client, auth(CLIENT))["credential_offer"])
    services.issuance.certificates.revoke("W1", None, reason="test")
    answer = wallet.credential(access_token, wallet.proofs(wallet.nonce()))
    oauth_error(answer, 400, "credential_request_denied")


def test_offers_are_made_only_for_ones_own_certificate(
    client: TestClient, auth: TokenFactory, services: Services, two_doses: None
) -> None:
    stranger = bearer(services, "recipient", mobile="+919000000001")
    answer = client.post("/certificate/api/wallet-offer?refId=W1", headers=stranger)
    assert answer.status_code == 404
    owner = bearer(services, "recipient", mobile=MOBILE)
    assert client.post("/certificate/api/wallet-offer?refId=W1", headers=owner).status_code == 201
    assert client.post("/certificate/api/wallet-offer?refId=W1").status_code == 401
    assert (
        client.post("/certificate/api/wallet-offer?refId=NOPE1", headers=owner).status_code == 404
    )


def test_a_lab_test_is_offered_with_its_own_configuration(
    client: TestClient, auth: TokenFactory, services: Services, wallet: TestWallet
) -> None:
    body = lab_test_request_body("LAB1")
    services.issuance.certificates.certify([TestCertificationRequest.model_validate(body)])
    made = make_offer(client, auth(CLIENT), ref="LAB1")
    assert made["credential_configuration_id"] == "lab_test_sd_jwt_vc"
    access_token = redeem(wallet, services, made["credential_offer"])
    answer = wallet.credential(access_token, wallet.proofs(wallet.nonce()), "lab_test_sd_jwt_vc")
    assert answer.status_code == 200, answer.text
    payload = payload_of(answer.json()["credentials"][0]["credential"])
    assert payload["vct"] == wallet.issuer + "/credentials/lab-test/v1"


def test_offers_per_beneficiary_are_limited(make_client: Any) -> None:
    client, services = make_client(openid4vci={"offers_per_beneficiary_per_day": 2})
    issue(
        client,
        lambda *roles: bearer(services, "certificate-issuer"),
        vaccination_request_body("W1"),
    )
    headers = bearer(services, CLIENT)
    for _ in range(2):
        make_offer(client, headers)
    answer = client.post("/certificate/api/wallet-offer?refId=W1", headers=headers)
    assert answer.status_code == 429
    assert "retry-after" in answer.headers


# --- the portal ---------------------------------------------------------------------------

QR = re.compile(r'id="wallet-offer-qr" src="data:image/png;base64,([^"]+)"')
LINK = re.compile(r'id="wallet-offer-link" href="([^"]+)"')


def test_a_signed_in_citizen_gets_the_offer_as_a_qr_code_and_a_link(
    client: TestClient, services: Services, wallet: TestWallet
) -> None:
    certificate_id = share_issue(services, "WAL0001")
    log_in(client, services.messaging.dev_inbox, MOBILE)
    assert (
        f"/portal/certificates/{certificate_id}/wallet" in client.get("/portal/certificates").text
    )
    page = client.get(f"/portal/certificates/{certificate_id}/wallet")
    assert page.status_code == 200
    refused = client.post(f"/portal/certificates/{certificate_id}/wallet", data={})
    assert refused.status_code in (400, 403)
    made = client.post(
        f"/portal/certificates/{certificate_id}/wallet", data={"csrf_token": csrf_of(page.text)}
    )
    assert made.status_code == 200, made.text
    assert made.headers["cache-control"] == "no-store"
    assert "******4889" in made.text
    link = unescape(LINK.search(made.text).group(1))  # type: ignore[union-attr]
    qr = base64.b64decode(QR.search(made.text).group(1))  # type: ignore[union-attr]
    assert scan(open_image(qr)) == [link.encode()]
    access_token = redeem(wallet, services, link)
    answer = wallet.credential(access_token, wallet.proofs(wallet.nonce()))
    assert answer.status_code == 200, answer.text
    services.database.audit().flush()
    [entry] = [
        d for d in services.database.audit().for_beneficiary("WAL0001") if d.format == "sd-jwt-vc"
    ]
    assert entry.actor.startswith("citizen:")
    assert entry.permission == "recipient"


def test_the_portal_offers_only_the_citizens_own_certificates(
    client: TestClient, services: Services
) -> None:
    certificate_id = share_issue(services, "WAL0002")
    share_issue(services, "WAL0003", mobile="+919000000002")  # someone else's, to log in
    log_in(client, services.messaging.dev_inbox, "+919000000002")
    assert client.get(f"/portal/certificates/{certificate_id}/wallet").status_code == 404
    signed_out = TestClient(client.app)
    answer = signed_out.get(f"/portal/certificates/{certificate_id}/wallet", follow_redirects=False)
    assert answer.status_code == 303


def test_the_verify_page_says_whether_the_holder_proved_the_key(
    client: TestClient, auth: TokenFactory, services: Services, two_doses: None, wallet: TestWallet
) -> None:
    access_token = redeem(wallet, services, make_offer(client, auth(CLIENT))["credential_offer"])
    answer = wallet.credential(access_token, wallet.proofs(wallet.nonce()))
    credential = answer.json()["credentials"][0]["credential"]
    shown = present(credential, lambda d: len(d) == 2 or d[1] in ("vaccine", "vaccinations"))
    bound = with_key_binding(shown, wallet.keys[0][0])
    for presentation, words in (
        (bound, "Proved: presented from the wallet it was issued to"),
        (shown, "Not proved: anyone with a copy could present it"),
    ):
        page = client.post("/verify/result", data={"payload": presentation})
        assert page.status_code == 200, page.text
        assert words in page.text
        # Undisclosed, the date of birth is not there to show.
        assert re.search(r'data-fact="date_of_birth" data-day[^>]*hidden>', page.text)
        assert re.search(r'data-fact="vaccine"[^>]*>\s*<dt>', page.text)
    hindi = client.post(
        "/verify/result", data={"payload": bound}, headers={"Accept-Language": "hi"}
    )
    assert "सिद्ध: उसी वॉलेट से दिखाया गया जिसे यह जारी हुआ था" in hindi.text


def test_each_copy_has_its_own_token_status_entry_and_the_claims_their_labels(
    client: TestClient, auth: TokenFactory, services: Services, two_doses: None, wallet: TestWallet
) -> None:
    configurations = client.get("/.well-known/openid-credential-issuer").json()[
        "credential_configurations_supported"
    ]
    claims = configurations["vaccination_sd_jwt_vc"]["credential_metadata"]["claims"]
    assert claims == openid4vci_claims(VACCINATION)
    assert {"name": "नाम", "locale": "hi"} in claims[0]["display"]
    made = make_offer(client, auth(CLIENT))
    access_token = redeem(wallet, services, made["credential_offer"])
    answer = wallet.credential(access_token, wallet.proofs(wallet.nonce(), count=2))
    assert answer.status_code == 200, answer.text
    entries = [
        payload_of(item["credential"])["status"]["status_list"]
        for item in answer.json()["credentials"]
    ]
    assert entries[0]["idx"] != entries[1]["idx"]  # the copies are not linked by their status
    assert {e["uri"] for e in entries} == {wallet.issuer + "/trust/token-status/1"}
    services.issuance.certificates.revoke("W1", None, reason="issued in error")
    statuses = services.issuance.token_status_lists.statuses(1)
    assert [statuses.get(e["idx"]) for e in entries] == [1, 1]


def test_nonces_per_client_address_are_limited(make_client: Any) -> None:
    client, _ = make_client(openid4vci={"nonces_per_client_per_minute": 3})
    assert [client.post("/openid4vci/nonce").status_code for _ in range(4)] == [200] * 3 + [429]
