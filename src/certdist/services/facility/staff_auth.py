"""Facility staff sign-in: OpenID Connect authorization-code flow with PKCE, or (embedded
default only) a local sign-in.

The OIDC flow (RFC 6749 §4.1 + RFC 7636 S256 + OIDC nonce):

1. :meth:`OidcStaffSignIn.begin` makes a random ``state``, ``nonce`` and PKCE verifier, keeps
   them in the shared state store under the state (so any server process can finish the
   flow, and each state works once), and returns the provider's authorization URL.
2. The provider sends the browser back with ``code`` and ``state``;
   :meth:`OidcStaffSignIn.complete` takes the pending login out of the store (one use), posts
   the code and the verifier to the token endpoint, verifies the ID token (signature,
   issuer, audience = our client id, expiry, nonce) and the access token (the same checks as
   any API token), and returns the staff member as a :class:`Principal`, who must hold the
   print permission.

Roles come from the access token, read exactly as API bearer tokens are (Keycloak's
``realm_access`` / ``resource_access``), so the provider's issuer must be one of the
configured ``trusted_issuers``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jwcrypto import jwt
from jwcrypto.common import JWException

from certdist.domain.roles import Permission, Principal
from certdist.errors import AuthenticationFailed
from certdist.services.access import Authorizer, IssuerTrust, TokenVerifier
from certdist.services.common import Clock
from certdist.storage.state import SharedState

#: How long a started sign-in may take at the provider.
PENDING_SECONDS = 600
LEEWAY_SECONDS = 30

#: ``post(url, form) -> (status, body)``: the token endpoint call, injectable for tests.
FormPost = Callable[[str, Mapping[str, str]], tuple[int, bytes]]


@dataclass(frozen=True)
class OidcClient:
    issuer: str
    client_id: str
    authorization_endpoint: str
    token_endpoint: str
    redirect_uri: str
    client_secret: str | None = None
    scopes: tuple[str, ...] = ("openid", "profile")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(ASCII(code_verifier)))."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def http_post_form(url: str, form: Mapping[str, str]) -> tuple[int, bytes]:
    if not url.startswith(("https://", "http://")):
        raise AuthenticationFailed("the token endpoint must be an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=urllib.parse.urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read(1024 * 1024)
    except urllib.error.HTTPError as error:
        return error.code, error.read(64 * 1024)
    except OSError as error:
        raise AuthenticationFailed("the sign-in provider could not be reached") from error


class OidcStaffSignIn:
    def __init__(
        self,
        client: OidcClient,
        trust: IssuerTrust,
        tokens: TokenVerifier,
        authorizer: Authorizer,
        state: SharedState,
        clock: Clock,
        *,
        post: FormPost = http_post_form,
    ) -> None:
        self._client = client
        self._trust = trust
        self._tokens = tokens
        self._authorizer = authorizer
        self._state = state
        self._clock = clock
        self._post = post

    @staticmethod
    def _pending_key(state: str) -> str:
        return "staff-oidc:" + hashlib.sha256(state.encode()).hexdigest()

    def begin(self, browser: str, return_to: str = "/") -> str:
        """Start a sign-in; the URL to send the browser to.

        ``browser`` is a random value the caller also keeps in a cookie of this browser:
        the callback must come back to the same browser, or an attacker could finish their
        own sign-in in a victim's browser (login CSRF)."""
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)  # 64 characters, within RFC 7636's 43–128
        pending = {
            "nonce": nonce,
            "verifier": verifier,
            "return_to": return_to,
            "browser": hashlib.sha256(browser.encode()).hexdigest(),
        }
        self._state.put(self._pending_key(state), json.dumps(pending).encode(), PENDING_SECONDS)
        query = {
            "response_type": "code",
            "client_id": self._client.client_id,
            "redirect_uri": self._client.redirect_uri,
            "scope": " ".join(self._client.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
        separator = "&" if "?" in self._client.authorization_endpoint else "?"
        return self._client.authorization_endpoint + separator + urllib.parse.urlencode(query)

    def complete(self, *, state: str, code: str, browser: str) -> tuple[Principal, str]:
        """Finish a sign-in: the staff member and where they were going."""
        if not state or not code or len(state) > 512 or len(code) > 4096:
            raise AuthenticationFailed("the sign-in response is incomplete")
        raw = self._state.pop(self._pending_key(state))
        if raw is None:
            raise AuthenticationFailed("this sign-in has expired or was already used")
        pending = json.loads(raw)
        if not hmac.compare_digest(
            pending["browser"], hashlib.sha256(browser.encode()).hexdigest()
        ):
            raise AuthenticationFailed("this sign-in was started in another browser")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self._client.redirect_uri,
            "client_id": self._client.client_id,
            "code_verifier": pending["verifier"],
        }
        if self._client.client_secret:
            form["client_secret"] = self._client.client_secret
        status, body = self._post(self._client.token_endpoint, form)
        if status != 200:
            raise AuthenticationFailed("the sign-in provider refused the code")
        try:
            answer = json.loads(body)
            id_token, access_token = str(answer["id_token"]), str(answer["access_token"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthenticationFailed("the sign-in provider's answer is malformed") from exc
        self._check_id_token(id_token, pending["nonce"])
        principal = self._tokens.verify(access_token)
        if principal.issuer != self._client.issuer:
            raise AuthenticationFailed("the access token comes from another issuer")
        self._authorizer.check(principal, Permission.PRINT)
        return principal, str(pending["return_to"])

    def _check_id_token(self, token: str, nonce: str) -> None:
        try:
            verified = jwt.JWT(
                jwt=token,
                key=self._trust.keys.keys(refresh=True),
                algs=list(self._trust.algorithms),
                expected_type="JWS",
                check_claims=False,
            )
            claims: dict[str, Any] = json.loads(verified.claims)
        except (JWException, ValueError, TypeError) as exc:
            raise AuthenticationFailed("the ID token does not verify") from exc
        now = self._clock.now().timestamp()
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        exp = claims.get("exp")
        if claims.get("iss") != self._client.issuer or self._client.client_id not in audiences:
            raise AuthenticationFailed("the ID token is for another issuer or client")
        if not isinstance(exp, int | float) or now > exp + LEEWAY_SECONDS:
            raise AuthenticationFailed("the ID token has expired")
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise AuthenticationFailed("the ID token does not answer this sign-in")


class LocalStaffSignIn:
    """The embedded default's staff sign-in (dev only; production settings refuse it):
    a password from the settings, granting the print role to the name typed."""

    def __init__(self, password: str, role: str) -> None:
        self._password = password
        self._role = role

    def sign_in(self, username: str, password: str) -> Principal:
        username = username.strip()
        if not username or len(username) > 64 or not username.isprintable():
            raise AuthenticationFailed("enter a user name")
        if not hmac.compare_digest(password.encode(), self._password.encode()):
            raise AuthenticationFailed("the user name or password is not right")
        return Principal(
            subject=f"local:{username}",
            username=username,
            roles=frozenset({self._role}),
            issuer="certdist-local-staff",
        )
