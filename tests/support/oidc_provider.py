"""A small OpenID Connect provider for tests: authorization code + PKCE, like Keycloak.

``authorize`` plays the provider's login page (the user has signed in and approves), and
``token`` is its token endpoint, with the checks a real provider makes: the code is single
use, bound to the client, the redirect URI and the PKCE challenge.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jwcrypto import jwk, jwt

from certdist.services.access.tokens import IssuerTrust, StaticKeys

ISSUER = "https://login.example.test/realms/divoc"
API_AUDIENCE = "certdist"
CLIENT_ID = "facility-portal"


@dataclass
class FakeOidcProvider:
    issuer: str = ISSUER
    key: jwk.JWK = field(default_factory=lambda: jwk.JWK.generate(kty="EC", crv="P-256"))
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def trust(self) -> IssuerTrust:
        public = jwk.JWK(**self.key.export_public(as_dict=True))
        public.update(kid=self.key.thumbprint())
        keyset = jwk.JWKSet()
        keyset.add(public)
        return IssuerTrust(issuer=self.issuer, audience=API_AUDIENCE, keys=StaticKeys(keyset))

    def authorize(
        self, url: str, *, username: str = "nurse-1", roles: Sequence[str] = ("facility-print",)
    ) -> dict[str, str]:
        """The browser arrives at ``url``; the user signs in. The redirect's query."""
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        assert query["response_type"] == "code"
        assert query["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {**query, "username": username, "roles": list(roles)}
        return {"code": code, "state": query["state"]}

    def token(self, url: str, form: Mapping[str, str]) -> tuple[int, bytes]:
        self.token_requests.append(dict(form))
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, b'{"error":"invalid_grant"}'
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if (
            challenge != grant["code_challenge"]
            or form.get("client_id") != grant["client_id"]
            or form.get("redirect_uri") != grant["redirect_uri"]
        ):
            return 400, b'{"error":"invalid_grant"}'
        now = int(time.time())
        common = {"iss": self.issuer, "sub": grant["username"], "iat": now, "exp": now + 300}
        id_token = self.sign(
            {**common, "aud": grant["client_id"], "nonce": grant["nonce"], "azp": CLIENT_ID}
        )
        access_token = self.sign(
            {
                **common,
                "aud": API_AUDIENCE,
                "preferred_username": grant["username"],
                "realm_access": {"roles": grant["roles"]},
            }
        )
        answer = {"id_token": id_token, "access_token": access_token, "token_type": "Bearer"}
        return 200, json.dumps(answer).encode()

    def sign(self, claims: dict[str, Any]) -> str:
        token = jwt.JWT(
            header={"alg": "ES256", "typ": "JWT", "kid": self.key.thumbprint()}, claims=claims
        )
        token.make_signed_token(self.key)
        serialized: str = token.serialize()
        return serialized
