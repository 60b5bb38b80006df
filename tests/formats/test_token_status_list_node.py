"""Our Token Status List tokens in an independent implementation (``@sd-jwt/jwt-status-list``,
DESIGN §7): it reads the entry our SD-JWT VC names from the token we serve (the draft's bit
order, ZLIB), VALID before and INVALID after the certificate is revoked, every other copy's
entry unchanged; and ``@sd-jwt/sd-jwt-vc``, given the token for the credential's status URI,
accepts the credential before and refuses it after."""

from __future__ import annotations

import time
from typing import Any

import pytest

from certdist.formats.sd_jwt_vc import StatusReference
from certdist.signing.jose import public_key_from_jwk
from certdist.wiring import Services
from tests.support.issuing import certify
from tests.support.node_verifiers import TOKEN_STATUS_HARNESS, NodeVerifiers
from tests.support.request_bodies import vaccination_request_body
from tests.support.services import ServicesFactory

pytestmark = pytest.mark.node


@pytest.fixture
def issuing(make_sqlite_services: ServicesFactory) -> Services:
    services = make_sqlite_services()
    certify(services, vaccination_request_body("NODE1"), vaccination_request_body("NODE2"))
    return services


def copy_of(services: Services, code: str) -> tuple[str, StatusReference]:
    bundle = services.distribution.certificates.bundle(code)
    reference = services.issuance.token_status_lists.allocate(bundle.latest.certificate_id)
    issuer = services.distribution.wallet.issuers.sd_jwt_vc
    return issuer.issue(bundle, status=reference), reference


def issuer_jwk(services: Services) -> dict[str, Any]:
    """The key ``/.well-known/jwt-vc-issuer`` publishes for our SD-JWT VC key."""
    metadata = services.distribution.wallet.jwt_vc_issuer()
    kid = services.distribution.wallet.issuers.sd_jwt_vc.kid
    [jwk] = [key for key in metadata["jwks"]["keys"] if key["kid"] == kid]
    public_key_from_jwk(jwk)
    return {k: jwk[k] for k in ("kty", "crv", "x", "y")}


def test_node_reads_our_token_status_list(node_verifiers: NodeVerifiers, issuing: Services) -> None:
    revoked, revoked_ref = copy_of(issuing, "NODE1")
    kept, kept_ref = copy_of(issuing, "NODE2")
    assert revoked_ref.uri == kept_ref.uri
    lists = issuing.issuance.token_status_lists
    jwk = issuer_jwk(issuing)

    def run() -> list[dict[str, Any]]:
        token = lists.token(1)
        now = int(time.time())  # not before the token's iat (the library allows no skew)
        cases = [
            {"sdJwt": sd_jwt, "token": token, "issuerJwk": jwk, "now": now}
            for sd_jwt in (revoked, kept)
        ]
        return node_verifiers.run(TOKEN_STATUS_HARNESS, cases)

    before = run()
    for result, reference in zip(before, (revoked_ref, kept_ref), strict=True):
        assert result.get("error") is None, result
        assert result["typ"] == "statuslist+jwt"
        assert result["signatureValid"]
        assert result["reference"] == {"idx": reference.idx, "uri": reference.uri}
        assert result["sub"] == reference.uri
        assert (result["bits"], result["size"]) == (1, lists.size)
        assert result["status"] == 0
        assert result["credentialAccepted"], result.get("credentialError")

    issuing.issuance.certificates.revoke("NODE1", None, reason="issued in error")

    after_revoked, after_kept = run()
    assert after_revoked["signatureValid"]
    assert after_revoked["status"] == 1
    assert not after_revoked["credentialAccepted"]
    assert "Status is not valid" in after_revoked["credentialError"]
    assert after_kept["status"] == 0
    assert after_kept["credentialAccepted"], after_kept.get("credentialError")
