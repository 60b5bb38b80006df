import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jwcrypto import jwk, jwt

from certdist.domain.roles import DEFAULT_ROLES, Permission
from certdist.errors import AuthenticationFailed, PermissionDenied
from certdist.services.access.tokens import (
    Authorizer,
    IssuerTrust,
    LocalTokenIssuer,
    StaticKeys,
    TokenVerifier,
    remote_jwks,
)
from certdist.services.common.clock import FixedClock

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ISSUER = "https://keycloak.example/auth/realms/divoc"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


def _rsa_key() -> jwk.JWK:
    return jwk.JWK.generate(kty="RSA", size=2048, kid="k1")


def _keyset(*keys: jwk.JWK) -> jwk.JWKSet:
    keyset = jwk.JWKSet()
    for key in keys:
        public = jwk.JWK(**key.export_public(as_dict=True))
        keyset.add(public)
    return keyset


def _token(key: jwk.JWK, alg: str = "RS256", **claims: Any) -> str:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "certdist",
        "sub": "user-1",
        "preferred_username": "facility-1",
        "exp": int((NOW + timedelta(minutes=5)).timestamp()),
        "realm_access": {"roles": ["certificate-issuer"]},
    }
    base.update(claims)
    token = jwt.JWT(
        header={"alg": alg, "kid": key.get("kid")},
        claims={k: v for k, v in base.items() if v is not None},
    )
    token.make_signed_token(key)
    serialized: str = token.serialize()
    return serialized


def _verifier(clock: FixedClock, key: jwk.JWK, client_id: str | None = None) -> TokenVerifier:
    trust = IssuerTrust(
        issuer=ISSUER, audience="certdist", keys=StaticKeys(_keyset(key)), client_id=client_id
    )
    return TokenVerifier([trust], clock)


def test_valid_keycloak_token_gives_principal_with_roles(clock: FixedClock) -> None:
    key = _rsa_key()
    principal = _verifier(clock, key).verify(_token(key))
    assert principal.username == "facility-1"
    assert principal.roles == {"certificate-issuer"}
    assert principal.issuer == ISSUER


def test_client_roles_count_for_the_configured_client(clock: FixedClock) -> None:
    key = _rsa_key()
    token = _token(
        key,
        realm_access=None,
        resource_access={"portal": {"roles": ["api"]}, "other": {"roles": ["admin"]}},
    )
    assert _verifier(clock, key, client_id="portal").verify(token).roles == {"api"}


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int((NOW - timedelta(minutes=5)).timestamp())}, "expired"),
        ({"exp": None}, "no expiry"),
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "https://evil.example/"}, "not trusted"),
        ({"nbf": int((NOW + timedelta(hours=1)).timestamp())}, "not valid yet"),
    ],
)
def test_every_claim_is_checked(clock: FixedClock, claims: dict[str, Any], reason: str) -> None:
    key = _rsa_key()
    with pytest.raises(AuthenticationFailed, match=reason):
        _verifier(clock, key).verify(_token(key, **claims))


def test_token_signed_by_another_key_is_refused(clock: FixedClock) -> None:
    trusted, attacker = _rsa_key(), _rsa_key()
    with pytest.raises(AuthenticationFailed):
        _verifier(clock, trusted).verify(_token(attacker))


def test_tampered_payload_is_refused(clock: FixedClock) -> None:
    key = _rsa_key()
    header, payload, signature = _token(key).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["realm_access"]["roles"] = ["admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(AuthenticationFailed, match="signature"):
        _verifier(clock, key).verify(f"{header}.{forged}.{signature}")


def test_unsigned_alg_none_token_is_refused(clock: FixedClock) -> None:
    key = _rsa_key()
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    payload = _token(key).split(".")[1]
    with pytest.raises(AuthenticationFailed):
        _verifier(clock, key).verify(f"{header}.{payload}.")


@pytest.mark.parametrize("junk", ["", "abc", "a.b.c", "a.b", "x" * 20000])
def test_junk_is_refused(clock: FixedClock, junk: str) -> None:
    with pytest.raises(AuthenticationFailed):
        _verifier(clock, _rsa_key()).verify(junk)


def test_remote_jwks_refreshes_once_for_a_rotated_key(clock: FixedClock) -> None:
    old, new = _rsa_key(), jwk.JWK.generate(kty="RSA", size=2048, kid="k2")
    served = [_keyset(old)]
    fetches: list[str] = []

    def fetch(url: str) -> bytes:
        fetches.append(url)
        return served[-1].export(private_keys=False).encode()

    source = remote_jwks("https://keycloak.example/certs", fetch=fetch, min_refresh_seconds=0)
    verifier = TokenVerifier([IssuerTrust(issuer=ISSUER, audience="certdist", keys=source)], clock)
    verifier.verify(_token(old))
    served.append(_keyset(old, new))
    assert verifier.verify(_token(new)).username == "facility-1"
    assert len(fetches) == 2


def test_local_issuer_round_trip_with_mobile(clock: FixedClock) -> None:
    issuer = LocalTokenIssuer(
        jwk.JWK.generate(kty="EC", crv="P-256"),
        issuer="certdist-local",
        audience="certdist",
        clock=clock,
    )
    verifier = TokenVerifier([issuer.trust()], clock)
    principal = verifier.verify(
        issuer.mint(["recipient"], username="citizen", mobile="+919880414889")
    )
    assert principal.roles == {"recipient"}
    assert principal.mobile == "+919880414889"
    short_lived = issuer.mint(["recipient"], username="citizen", lifetime=timedelta(minutes=1))
    clock.advance(timedelta(minutes=2))
    with pytest.raises(AuthenticationFailed, match="expired"):
        verifier.verify(short_lived)


def test_authorizer_checks_role_per_permission(clock: FixedClock) -> None:
    key = _rsa_key()
    principal = _verifier(clock, key).verify(_token(key))
    authorizer = Authorizer(DEFAULT_ROLES)
    authorizer.check(principal, Permission.ISSUE)
    with pytest.raises(PermissionDenied):
        authorizer.check(principal, Permission.REVOKE)


def test_a_remembered_token_still_expires(clock: FixedClock) -> None:
    key = _rsa_key()
    verifier = _verifier(clock, key)
    token = _token(key, exp=int((NOW + timedelta(seconds=60)).timestamp()))
    assert verifier.verify(token).username == "facility-1"
    assert verifier.verify(token).username == "facility-1"  # from memory
    clock.advance(timedelta(seconds=60 + 31))  # past expiry and the clock-skew leeway
    with pytest.raises(AuthenticationFailed, match="expired"):
        verifier.verify(token)


def test_refused_tokens_are_not_remembered(clock: FixedClock) -> None:
    key = _rsa_key()
    verifier = _verifier(clock, key)
    token = _token(key, aud="someone-else")
    for _ in range(2):
        with pytest.raises(AuthenticationFailed, match="audience"):
            verifier.verify(token)
