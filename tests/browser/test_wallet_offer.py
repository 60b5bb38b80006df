"""A citizen adds a certificate to a wallet app from the portal, in Chromium on a phone-sized
screen: the "Add to a wallet app" page, the offer's QR code and link; the link (what the QR
code holds) then taken through the whole OpenID4VCI exchange against the same live server,
with the transaction code the SMS brought, and the credential received verifies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from certdist.formats.sd_jwt_vc import verify_presentation
from certdist.services.issuance.demo import DEMO_MOBILE
from certdist.signing.jose import public_key_from_jwk
from certdist.web.i18n import Catalogs
from tests.browser.conftest import LiveServer, log_in
from tests.browser.test_page_fit import PHONE
from tests.support.imaging import open_image, scan
from tests.support.openid4vci import PRE_AUTHORIZED, TestWallet, tx_code_sent
from tests.support.sd_jwt import payload_of


@pytest.mark.parametrize("lang", ["en", "hi"])
def test_a_portal_offer_lands_in_a_wallet(
    live_server: LiveServer, browser: Any, contexts: list[Any], lang: str
) -> None:
    t = Catalogs().translations(lang).gettext
    contexts.append(context := browser.new_context(viewport=PHONE))
    page = context.new_page()
    log_in(page, live_server)
    page.context.add_cookies([{"name": "lang", "value": lang, "url": live_server.url}])
    page.goto(live_server.url + "/portal/certificates")
    page.get_by_role("link", name=t("Add to a wallet app")).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Add to a wallet app"))
    page.get_by_role("button", name=t("Show the QR code and send the code")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Scan with your wallet app"))
    link = page.locator("#wallet-offer-link").get_attribute("href") or ""
    assert link.startswith("openid-credential-offer://?credential_offer_uri=")
    qr = page.locator("#wallet-offer-qr").screenshot()
    assert scan(open_image(qr)) == [link.encode()]

    issuer = live_server.services.settings.public_url.rstrip("/")
    with httpx.Client(base_url=live_server.url) as http:
        wallet = TestWallet(http, issuer)
        offer = wallet.offer(link)
        code = offer["grants"][PRE_AUTHORIZED]["pre-authorized_code"]
        tx_code = tx_code_sent(live_server.services.messaging.dev_inbox, DEMO_MOBILE)
        token = wallet.token(code, tx_code)
        assert token.status_code == 200, token.text
        answer = wallet.credential(token.json()["access_token"], wallet.proofs(wallet.nonce()))
        assert answer.status_code == 200, answer.text
        keys = http.get("/.well-known/jwt-vc-issuer").json()["jwks"]["keys"]
    [item] = answer.json()["credentials"]
    trusted = {key["kid"]: public_key_from_jwk(key) for key in keys}
    verified = verify_presentation(
        item["credential"],
        lambda iss, kid: [trusted[kid]] if iss == issuer and kid in trusted else [],
        live_server.services.clock.now(),
    )
    assert verified.claims["name"]
    assert payload_of(item["credential"])["cnf"] == {"jwk": wallet.keys[0][1]}
