"""Driving the OpenID4VCI exchange in tests the way a wallet does (written from the
OpenID4VCI 1.0 text): read the transaction code from the development SMS inbox, redeem the
offer, fetch a nonce, prove holder keys with ``openid4vci-proof+jwt`` JWTs."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from certdist.storage.dev_sms_inbox import DevSmsInbox
from tests.support.sd_jwt import HolderPrivateKey, holder_key, sign_as_holder

PRE_AUTHORIZED = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
#: The transaction-code SMS starts with the code, in every language; login codes end with
#: the WebOTP line (``@host #code``) instead.
TX_CODE = re.compile(r"^(\d{6}) ")


def tx_codes(inbox: DevSmsInbox | None, mobile: str) -> dict[str, str]:
    """Every wallet transaction code sent to ``mobile`` (E.164), newest first, by message id;
    login codes and notifications to the same number are not transaction codes."""
    assert inbox is not None, "the SMS inbox is off"
    codes = {}
    for message in inbox.latest(500, recipient=mobile):
        found = TX_CODE.search(message.body)
        if found and "\n@" not in message.body:
            codes[message.id] = found.group(1)
    return codes


def tx_code_sent(inbox: DevSmsInbox | None, mobile: str) -> str:
    """The newest wallet transaction code sent to ``mobile`` (E.164)."""
    codes = list(tx_codes(inbox, mobile).values())
    assert codes, f"no transaction code was sent to {mobile[-4:]}"
    return codes[0]


def new_tx_code(inbox: DevSmsInbox | None, mobile: str, seen: set[str]) -> str:
    """The transaction code of the one new SMS (not one of the message ids ``seen``) to
    ``mobile``, waiting up to 30 s for it (a live server sends it from its own thread)."""
    deadline = time.monotonic() + 30
    while True:
        new = [code for id_, code in tx_codes(inbox, mobile).items() if id_ not in seen]
        if new:
            assert len(new) == 1, f"more than one new SMS with a transaction code: {new}"
            return new[0]
        assert time.monotonic() < deadline, "no SMS with a transaction code within 30 s"
        time.sleep(0.05)


def key_proof(
    key: HolderPrivateKey,
    jwk: dict[str, str],
    *,
    aud: str,
    nonce: str | None,
    iat: int | None = None,
    header: dict[str, Any] | None = None,
) -> str:
    """A ``jwt`` key proof; ``header`` adds to or replaces (``None``: removes) members of
    the JOSE header, whose ``alg`` is the key's own (ES256, EdDSA) unless it says another."""
    claims: dict[str, Any] = {"aud": aud, "iat": int(time.time()) if iat is None else iat}
    if nonce is not None:
        claims["nonce"] = nonce
    jose = {"typ": "openid4vci-proof+jwt", "jwk": jwk} | (header or {})
    alg = jose.pop("alg", None)
    return sign_as_holder({k: v for k, v in jose.items() if v is not None}, claims, key, alg)


def offer_uri_of(link: str) -> str:
    """The ``credential_offer_uri`` of an ``openid-credential-offer://`` link."""
    assert link.startswith("openid-credential-offer://?"), link
    [uri] = parse_qs(urlsplit(link).query)["credential_offer_uri"]
    return uri


def path_of(url: str) -> str:
    return urlsplit(url).path


class TestWallet:
    """One holder's wallet against a TestClient: every step, each returning the answer."""

    __test__ = False  # not a test class

    def __init__(self, client: httpx.Client, issuer: str) -> None:
        self.client = client
        self.issuer = issuer
        self.keys = [holder_key() for _ in range(5)]

    def offer(self, link: str) -> dict[str, Any]:
        answer = self.client.get(path_of(offer_uri_of(link)))
        assert answer.status_code == 200, answer.text
        offer: dict[str, Any] = answer.json()
        return offer

    def token(self, code: str, tx_code: str | None) -> Any:
        form = {"grant_type": PRE_AUTHORIZED, "pre-authorized_code": code}
        if tx_code is not None:
            form["tx_code"] = tx_code
        return self.client.post("/openid4vci/token", data=form)

    def nonce(self) -> str:
        answer = self.client.post("/openid4vci/nonce")
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        c_nonce: str = answer.json()["c_nonce"]
        return c_nonce

    def proofs(
        self, nonce: str, count: int = 1, *, aud: str | None = None, **options: Any
    ) -> list[str]:
        """One proof per holder key (the first ``count``), all with these claims."""
        return [
            key_proof(key, jwk, aud=aud or self.issuer, nonce=nonce, **options)
            for key, jwk in self.keys[:count]
        ]

    def credential(
        self, access_token: str, proofs: list[str], configuration: str = "vaccination_sd_jwt_vc"
    ) -> Any:
        return self.client.post(
            "/openid4vci/credential",
            json={"credential_configuration_id": configuration, "proofs": {"jwt": proofs}},
            headers={"Authorization": f"Bearer {access_token}"},
        )
