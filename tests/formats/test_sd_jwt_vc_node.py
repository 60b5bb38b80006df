"""Our SD-JWT VCs in an independent implementation (``@sd-jwt/sd-jwt-vc``, DESIGN §7): it
verifies what we issue with the key we publish and reads the claims (never a forged one); a
presentation it makes of a subset, with a Key Binding JWT signed by the holder's key, passes
our verifier showing only that subset, and one signed by another key does not."""

from __future__ import annotations

import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certdist.services.verification import Status
from certdist.signing.jose import b64url, p256_jwk, public_key_from_jwk
from certdist.wiring import Services
from tests.support.issuing import certify
from tests.support.node_verifiers import SD_JWT_HARNESS, NodeVerifiers
from tests.support.request_bodies import vaccination_request_body
from tests.support.sd_jwt import decoded, split
from tests.support.services import ServicesFactory

pytestmark = pytest.mark.node


@pytest.fixture
def issuing(make_sqlite_services: ServicesFactory) -> Services:
    services = make_sqlite_services()
    certify(services, *(vaccination_request_body("NODE1", dose=d) for d in (1, 2)))
    return services


def private_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    d = key.private_numbers().private_value.to_bytes(32, "big")
    return {**p256_jwk(key.public_key()), "d": b64url(d)}


def issue(services: Services, holder: dict[str, str] | None = None) -> str:
    bundle = services.distribution.certificates.bundle("NODE1")
    return services.distribution.wallet.issuers.sd_jwt_vc.issue(bundle, holder_jwk=holder)


def issuer_jwk(services: Services, sd_jwt: str) -> dict[str, Any]:
    """The key our ``/.well-known/jwt-vc-issuer`` publishes for the credential's ``kid``."""
    metadata = services.distribution.wallet.jwt_vc_issuer()
    kid = services.distribution.wallet.issuers.sd_jwt_vc.kid
    [jwk] = [key for key in metadata["jwks"]["keys"] if key["kid"] == kid]
    public_key_from_jwk(jwk)  # a P-256 key
    return {k: jwk[k] for k in ("kty", "crv", "x", "y")}


def test_node_verifies_our_sd_jwt_vc_and_reads_the_claims(
    node_verifiers: NodeVerifiers, issuing: Services
) -> None:
    sd_jwt = issue(issuing)
    jwt, disclosures = split(sd_jwt)
    name = next(d for d in disclosures if decoded(d)[1:2] == ["name"])
    forged = b64url(f'["{decoded(name)[0]}","name","Someone Else"]'.encode())
    jwk = issuer_jwk(issuing, sd_jwt)
    now = int(time.time())
    cases = [
        {"op": "verify", "sdJwt": sd_jwt, "issuerJwk": jwk, "now": now},
        {"op": "verify", "sdJwt": sd_jwt.replace(name, forged), "issuerJwk": jwk, "now": now},
        {"op": "verify", "sdJwt": f"{jwt}~", "issuerJwk": jwk, "now": now},
    ]
    whole, tampered, nothing = node_verifiers.run(SD_JWT_HARNESS, cases)
    assert whole["verified"], whole.get("error")
    claims = whole["claims"]
    assert claims["name"] == "Bhaya Mitra"
    assert [dose["dose"] for dose in claims["vaccinations"]] == [1, 2]
    assert claims["vct"].endswith("/credentials/vaccination/v1")
    # The library drops a disclosure no digest references instead of refusing the whole
    # (RFC 9901 §7.1 says reject; ours does): either way the forged name is never read.
    assert not tampered["verified"] or "name" not in tampered["claims"]
    assert nothing["verified"], nothing.get("error")
    assert "name" not in nothing["claims"]
    assert "vaccinations" not in nothing["claims"]


def test_a_node_presentation_of_a_subset_passes_our_verifier(
    node_verifiers: NodeVerifiers, issuing: Services
) -> None:
    holder = ec.generate_private_key(ec.SECP256R1())
    sd_jwt = issue(issuing, p256_jwk(holder.public_key()))
    frame = {"vaccinations": {"0": {"vaccine": True}, "1": {"vaccine": True, "dose": True}}}
    kb = {"iat": int(time.time()), "aud": "https://verifier.example", "nonce": "n-1234"}
    [made] = node_verifiers.run(
        SD_JWT_HARNESS,
        [
            {
                "op": "present",
                "sdJwt": sd_jwt,
                "frame": frame,
                "holderJwk": private_jwk(holder),
                "kb": kb,
            }
        ],
    )
    presentation = made.get("presentation")
    assert presentation, made.get("error")
    outcome = issuing.verifier.check(presentation)
    assert (outcome.status, outcome.code) == (Status.VALID, "valid"), outcome.reason
    assert outcome.certificate is not None
    shown = outcome.certificate.as_json()
    assert shown["holder_binding"] == "shown"
    assert (shown["vaccine"], shown["dose"]) == ("Covishield", 2)
    for hidden in ("name", "date_of_birth", "date", "total_doses"):
        assert hidden not in shown
    stranger = ec.generate_private_key(ec.SECP256R1())
    [other] = node_verifiers.run(
        SD_JWT_HARNESS,
        [
            {
                "op": "present",
                "sdJwt": sd_jwt,
                "frame": frame,
                "holderJwk": private_jwk(stranger),
                "kb": kb,
            }
        ],
    )
    assert issuing.verifier.check(other["presentation"]).status is Status.INVALID
