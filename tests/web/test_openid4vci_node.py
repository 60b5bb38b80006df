"""OpenID4VCI with independent implementations only on the other side (issue #20): a wallet
made of ``@openid4vc/openid4vci``, ``@sd-jwt/sd-jwt-vc`` and ``node:crypto``
(``tests/support/node_wallet.py``) runs the pre-authorized code flow against a live server,
from the ``openid-credential-offer://`` link and the transaction code the citizen gets by
SMS to a batch of SD-JWT VCs bound to two keys of its own; it verifies them against the keys
of ``/.well-known/jwt-vc-issuer`` and presents a subset with a Key Binding JWT, which
certdist's verifier accepts showing only that subset. Each refusal carries the error code
the specification names for it; once the certificate is revoked, the library reads the
credential's Token Status List entry as no longer valid and our verifier says revoked."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from certdist.services.issuance.demo import DEMO_MOBILE
from certdist.signing.jose import b64url, b64url_decode
from tests.support.clients import bearer
from tests.support.live_server import LiveServer, live_server
from tests.support.node_verifiers import NodeVerifiers
from tests.support.node_wallet import run_wallet
from tests.support.openid4vci import new_tx_code, tx_codes
from tests.support.portal import csrf_of, log_in
from tests.support.sd_jwt import decoded
from tests.support.services import ServicesFactory

pytestmark = pytest.mark.node

#: Asha Devi of the demo family: three doses of Covishield.
BENEFICIARY = "DEMO0001"
CONFIGURATION = "vaccination_sd_jwt_vc"
PRE_AUTHORIZED = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
#: Every dose's vaccine and number; not the name, birth date, dates, batches or facilities.
FRAME = {"vaccinations": {str(i): {"vaccine": True, "dose": True} for i in range(3)}}
KB = {"aud": "https://verifier.example/checkpoint-7", "nonce": "certdist-kb-5f1c"}
OFFER_LINK = "openid-credential-offer://?credential_offer_uri="


@pytest.fixture
def server(make_sqlite_services: ServicesFactory) -> Iterator[LiveServer]:
    with live_server(make_sqlite_services) as live:
        yield live


def _seen(server: LiveServer) -> set[str]:
    """The transaction-code SMS already sent to the demo number (their message ids)."""
    return set(tx_codes(server.services.messaging.dev_inbox, DEMO_MOBILE))


def _tx_code(server: LiveServer, seen: set[str]) -> str:
    return new_tx_code(server.services.messaging.dev_inbox, DEMO_MOBILE, seen)


def _offer(server: LiveServer) -> tuple[dict[str, Any], str]:
    """A wallet offer for the citizen's certificate, made as the citizen, and the code sent
    to their phone."""
    seen = _seen(server)
    citizen = bearer(server.services, "recipient", username="citizen-1", mobile=DEMO_MOBILE)
    answer = httpx.post(
        f"{server.url}/certificate/api/wallet-offer",
        params={"refId": BENEFICIARY},
        headers=citizen,
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    offer: dict[str, Any] = answer.json()
    return offer, _tx_code(server, seen)


def _offer_from_the_portal(server: LiveServer) -> tuple[dict[str, Any], str]:
    """The offer as the citizen gets it in the portal: signed in with the code from the SMS,
    "Add to a wallet app" on their certificate, the link the QR code holds."""
    seen = _seen(server)
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        log_in(browser, server.services.messaging.dev_inbox, DEMO_MOBILE)  # type: ignore[arg-type]
        [record] = server.services.database.certificates().for_beneficiary(BENEFICIARY)[-1:]
        page = f"/portal/certificates/{record.certificate_id}/wallet"
        form = browser.get(page)
        assert form.status_code == 200, form.text
        made = browser.post(page, data={"csrf_token": csrf_of(form.text)})
        assert made.status_code == 200, made.text
    link = re.search(r'id="wallet-offer-link" href="([^"]+)"', made.text)
    assert link is not None, made.text
    return {"credential_offer": unescape(link.group(1))}, _tx_code(server, seen)


def _receive(node: NodeVerifiers, server: LiveServer, **case: Any) -> dict[str, Any]:
    offer, tx_code = _offer(server)
    [report] = run_wallet(
        node,
        {"op": "receive", "offer": offer["credential_offer"], "txCode": tx_code, **case},
    )
    return report


def _verify(server: LiveServer, presentation: str) -> dict[str, Any]:
    answer = httpx.post(f"{server.url}/verify", json={"payload": presentation}, timeout=30)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _public(jwk: dict[str, str]) -> dict[str, str]:
    return {name: jwk[name] for name in ("kty", "crv", "x", "y") if name in jwk}


def _error(step: dict[str, Any], status: int, code: str) -> None:
    assert not step["ok"], step
    assert (step["status"], (step["body"] or {}).get("error")) == (status, code), step


def test_the_wallet_receives_a_batch_and_its_subset_passes_our_verifier(
    node_verifiers: NodeVerifiers, server: LiveServer
) -> None:
    # From the portal, as a citizen does it (the API's offers: the other tests).
    offer, tx_code = _offer_from_the_portal(server)
    assert offer["credential_offer"].startswith(OFFER_LINK)
    [report] = run_wallet(
        node_verifiers,
        {
            "op": "receive",
            "offer": offer["credential_offer"],
            "txCode": tx_code,
            "requests": [{"proofs": 2}],
        },
    )
    # The library read the metadata as OpenID4VCI 1.0 final and found the configuration valid.
    assert report["version"] == "V1"
    assert report["offer"]["credential_issuer"] == server.url
    assert report["offer"]["credential_configuration_ids"] == [CONFIGURATION]
    assert CONFIGURATION in report["knownConfigurations"]
    [authorization_server] = report["authorizationServers"]
    assert authorization_server["issuer"] == server.url
    assert authorization_server["token_endpoint"] == f"{server.url}/openid4vci/token"
    metadata = report["credentialIssuer"]
    assert metadata["batch_credential_issuance"]["batch_size"] >= 2
    assert {display["locale"] for display in metadata["display"]} >= {"en", "hi"}
    grant = report["offer"]["grants"][PRE_AUTHORIZED]
    assert (grant["tx_code"]["input_mode"], grant["tx_code"]["length"]) == ("numeric", 6)
    assert report["token"]["ok"], report["token"]
    assert report["token"]["response"]["token_type"] == "Bearer"
    # RFC 6749 §5.1 (token) and OpenID4VCI §7.2 (nonce): answers no cache may keep.
    for path in ("/openid4vci/token", "/openid4vci/nonce"):
        [exchange] = [e for e in report["exchanges"] if urlsplit(e["url"]).path == path]
        assert "no-store" in (exchange["cacheControl"] or ""), exchange

    [batch] = report["requests"]
    assert batch["ok"], batch
    credentials, holders = batch["credentials"], batch["holderJwks"]
    assert len(credentials) == 2
    assert credentials[0] != credentials[1]
    cases = [
        {
            "op": "hold",
            "sdJwt": sd_jwt,
            "holderJwk": holder,
            "frame": FRAME,
            "kb": {**KB, "iat": int(time.time())},
        }
        for sd_jwt, holder in zip(credentials, holders, strict=True)
    ]
    held = run_wallet(node_verifiers, *cases)
    for result, holder in zip(held, holders, strict=True):
        assert result["verified"], result.get("error")
        assert result["header"]["typ"] == "dc+sd-jwt"
        claims = result["claims"]
        assert claims["iss"] == server.url
        assert claims["vct"] == f"{server.url}/credentials/vaccination/v1"
        # Each credential is bound to the key of its own proof.
        assert claims["cnf"]["jwk"] == _public(holder)
        assert claims["name"] == "Asha Devi"
        assert [dose["dose"] for dose in claims["vaccinations"]] == [1, 2, 3]

    for result in held:
        shown = _verify(server, result["presentation"])
        assert (shown["status"], shown["code"]) == ("valid", "valid"), shown
        certificate = shown["certificate"]
        assert certificate["format"] == "sd-jwt-vc"
        assert certificate["holder_binding"] == "shown"
        assert (certificate["vaccine"], certificate["dose"]) == ("Covishield", 3)
        for hidden in ("date_of_birth", "date", "total_doses"):
            assert hidden not in certificate
        assert not certificate.get("name")

    # A disclosure changed after issuance (the last dose said to be the first): refused.
    presentation = held[0]["presentation"]
    disclosures = presentation.split("~")[1:-1]
    dose = next(d for d in disclosures if decoded(d)[1:3] == ["dose", 3])
    forged = b64url(json.dumps([decoded(dose)[0], "dose", 1]).encode())
    tampered = _verify(server, presentation.replace(dose, forged))
    assert tampered["status"] == "invalid", tampered


def test_a_wallet_with_ed25519_keys_proves_and_presents_with_eddsa(
    node_verifiers: NodeVerifiers, server: LiveServer
) -> None:
    report = _receive(node_verifiers, server, requests=[{"proofs": 1, "keyType": "Ed25519"}])
    assert report["token"]["ok"], report["token"]
    [request] = report["requests"]
    assert request["ok"], request
    [credential], [holder] = request["credentials"], request["holderJwks"]
    assert holder["kty"] == "OKP"
    [held] = run_wallet(
        node_verifiers,
        {
            "op": "hold",
            "sdJwt": credential,
            "holderJwk": holder,
            "frame": FRAME,
            "kb": {**KB, "iat": int(time.time())},
        },
    )
    assert held["verified"], held.get("error")
    assert held["claims"]["cnf"]["jwk"] == _public(holder)
    key_binding = held["presentation"].rsplit("~", 1)[1]
    assert json.loads(b64url_decode(key_binding.split(".")[0]))["alg"] == "EdDSA"
    shown = _verify(server, held["presentation"])
    assert (shown["status"], shown["code"]) == ("valid", "valid"), shown
    assert shown["certificate"]["holder_binding"] == "shown"
    # The same presentation with its key binding signature changed: refused.
    signature = key_binding.rsplit(".", 1)[1]
    forged = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    refused = _verify(server, held["presentation"].replace(signature, forged))
    assert refused["status"] == "invalid", refused


def test_a_wrong_transaction_code_is_an_invalid_grant(
    node_verifiers: NodeVerifiers, server: LiveServer
) -> None:
    offer, tx_code = _offer(server)
    wrong = f"{(int(tx_code) + 1) % 1_000_000:06d}"
    [report] = run_wallet(
        node_verifiers,
        {"op": "receive", "offer": offer["credential_offer"], "txCode": wrong, "requests": []},
    )
    _error(report["token"], 400, "invalid_grant")


def test_a_replayed_nonce_is_an_invalid_nonce(
    node_verifiers: NodeVerifiers, server: LiveServer
) -> None:
    report = _receive(
        node_verifiers, server, requests=[{"proofs": 1}, {"proofs": 1, "reuseNonce": True}]
    )
    first, replayed = report["requests"]
    assert first["ok"], first
    _error(replayed, 400, "invalid_nonce")


def test_a_proof_for_another_audience_is_an_invalid_proof(
    node_verifiers: NodeVerifiers, server: LiveServer
) -> None:
    report = _receive(
        node_verifiers, server, requests=[{"proofs": 1, "aud": "https://another-issuer.example"}]
    )
    [refused] = report["requests"]
    _error(refused, 400, "invalid_proof")


def test_an_expired_pre_authorized_code_is_an_invalid_grant(
    node_verifiers: NodeVerifiers,
    make_sqlite_services: ServicesFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CERTDIST_OPENID4VCI__OFFER_SECONDS", "10")
    with live_server(make_sqlite_services) as short_lived:
        report = _receive(node_verifiers, short_lived, waitBeforeTokenMs=11_000, requests=[])
    _error(report["token"], 400, "invalid_grant")


def test_a_revoked_credential_is_reported_revoked(
    node_verifiers: NodeVerifiers, server: LiveServer
) -> None:
    report = _receive(node_verifiers, server, requests=[{"proofs": 1}])
    [issued] = report["requests"]
    assert issued["ok"], issued
    [sd_jwt], [holder] = issued["credentials"], issued["holderJwks"]
    hold = {"op": "hold", "sdJwt": sd_jwt, "holderJwk": holder, "frame": FRAME}
    [before] = run_wallet(node_verifiers, {**hold, "kb": {**KB, "iat": int(time.time())}})
    assert before["verified"], before.get("error")
    # Verified above through its Token Status List entry, read by the library itself.
    entry = before["claims"]["status"]["status_list"]
    assert isinstance(entry["idx"], int)
    assert entry["uri"].startswith(f"{server.url}/trust/token-status/")

    revoker = bearer(server.services, "certificate-revoker")
    answer = httpx.delete(
        f"{server.url}/divoc/api/v1/certificates/{BENEFICIARY}",
        params={"allDoses": "true"},
        headers=revoker,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text

    [after] = run_wallet(node_verifiers, {**hold, "kb": {**KB, "iat": int(time.time())}})
    # The library's own reading of the list: the entry's status is no longer 0 (VALID).
    assert not after["verified"], "the wallet's library still reads the entry as valid"
    assert "Status is not valid" in after["error"], after["error"]
    shown = _verify(server, before["presentation"])
    assert shown["status"] == "revoked", shown
