"""Staff sign-in: OIDC authorization code with PKCE against a provider, and local sign-in."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Mapping

import pytest

from certdist.domain.roles import DEFAULT_ROLES
from certdist.errors import AuthenticationFailed, PermissionDenied
from certdist.services.access.tokens import Authorizer, TokenVerifier
from certdist.services.common.clock import SystemClock
from certdist.services.facility.staff_auth import (
    LocalStaffSignIn,
    OidcClient,
    OidcStaffSignIn,
    pkce_challenge,
)
from certdist.storage.state import MemorySharedState
from tests.support.oidc_provider import CLIENT_ID, ISSUER, FakeOidcProvider

REDIRECT = "https://certdist.example/facility/oidc/callback"
BROWSER = "browser-binding-cookie"


def _sign_in(provider: FakeOidcProvider) -> OidcStaffSignIn:
    clock = SystemClock()
    trust = provider.trust()
    return OidcStaffSignIn(
        OidcClient(
            issuer=ISSUER,
            client_id=CLIENT_ID,
            authorization_endpoint=f"{ISSUER}/protocol/openid-connect/auth",
            token_endpoint=f"{ISSUER}/protocol/openid-connect/token",
            redirect_uri=REDIRECT,
        ),
        trust,
        TokenVerifier([trust], clock),
        Authorizer(DEFAULT_ROLES),
        MemorySharedState(clock.now),
        clock,
        post=provider.token,
    )


def test_pkce_challenge_matches_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_staff_member_signs_in_with_code_and_verifier() -> None:
    provider = FakeOidcProvider()
    sign_in = _sign_in(provider)
    url = sign_in.begin(BROWSER, "/facility?x=1")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT
    assert "code_verifier" not in query  # only its hash travels through the browser
    principal, return_to = sign_in.complete(**provider.authorize(url), browser=BROWSER)
    assert principal.username == "nurse-1"
    assert return_to == "/facility?x=1"
    sent = provider.token_requests[-1]
    assert pkce_challenge(sent["code_verifier"]) == query["code_challenge"]


def test_a_state_works_once() -> None:
    provider = FakeOidcProvider()
    sign_in = _sign_in(provider)
    answer = provider.authorize(sign_in.begin(BROWSER))
    sign_in.complete(**answer, browser=BROWSER)
    with pytest.raises(AuthenticationFailed, match="already used"):
        sign_in.complete(**answer, browser=BROWSER)


def test_callback_in_another_browser_is_refused() -> None:
    """Login CSRF: an attacker's own code and state, delivered to a victim's browser."""
    provider = FakeOidcProvider()
    sign_in = _sign_in(provider)
    answer = provider.authorize(sign_in.begin("attackers-browser"))
    with pytest.raises(AuthenticationFailed, match="another browser"):
        sign_in.complete(**answer, browser="victims-browser")


def test_forged_state_is_refused() -> None:
    provider = FakeOidcProvider()
    sign_in = _sign_in(provider)
    answer = provider.authorize(sign_in.begin(BROWSER))
    with pytest.raises(AuthenticationFailed):
        sign_in.complete(state="not-ours", code=answer["code"], browser=BROWSER)


def test_staff_without_the_print_role_is_refused() -> None:
    provider = FakeOidcProvider()
    sign_in = _sign_in(provider)
    answer = provider.authorize(sign_in.begin(BROWSER), roles=("certificate-issuer",))
    with pytest.raises(PermissionDenied):
        sign_in.complete(**answer, browser=BROWSER)


def test_id_token_for_another_login_is_refused() -> None:
    """A provider (or attacker) answering with an ID token minted for another nonce."""
    provider = FakeOidcProvider()
    sign_in = _sign_in(provider)
    url = sign_in.begin(BROWSER)
    answer = provider.authorize(url)
    original = provider.token

    def wrong_nonce(endpoint: str, form: Mapping[str, str]) -> tuple[int, bytes]:
        status, body = original(endpoint, form)
        import json

        tokens = json.loads(body)
        now = int(time.time())
        tokens["id_token"] = provider.sign(
            {"iss": ISSUER, "aud": CLIENT_ID, "sub": "x", "exp": now + 60, "nonce": "other"}
        )
        return status, json.dumps(tokens).encode()

    sign_in._post = wrong_nonce
    with pytest.raises(AuthenticationFailed, match="does not answer this sign-in"):
        sign_in.complete(**answer, browser=BROWSER)


def test_tokens_from_another_key_are_refused() -> None:
    provider = FakeOidcProvider()
    sign_in = _sign_in(provider)
    answer = provider.authorize(sign_in.begin(BROWSER))
    provider.key = FakeOidcProvider().key  # the provider now signs with a key we do not trust
    with pytest.raises(AuthenticationFailed):
        sign_in.complete(**answer, browser=BROWSER)


def test_provider_refusal_is_authentication_failed() -> None:
    provider = FakeOidcProvider()
    sign_in = _sign_in(provider)
    answer = provider.authorize(sign_in.begin(BROWSER))
    provider.codes.clear()  # the code expired at the provider
    with pytest.raises(AuthenticationFailed, match="refused"):
        sign_in.complete(**answer, browser=BROWSER)


def test_local_sign_in() -> None:
    local = LocalStaffSignIn("pw-123", "facility-print")
    principal = local.sign_in(" nurse ", "pw-123")
    assert principal.username == "nurse"
    assert principal.roles == frozenset({"facility-print"})
    with pytest.raises(AuthenticationFailed):
        local.sign_in("nurse", "wrong")
    with pytest.raises(AuthenticationFailed):
        local.sign_in("", "pw-123")
