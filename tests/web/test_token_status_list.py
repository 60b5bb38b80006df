"""Token Status Lists end to end: an SD-JWT VC copy with its own ``status.status_list``, the
signed token served at ``/trust/token-status/{listId}``, its bit set when the certificate is
withdrawn, and the verifier (ours, and another deployment's that fetches the token)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from certdist.config import Settings
from certdist.formats import token_status_list as tsl
from certdist.formats.sd_jwt_vc import StatusReference, decode_jws, sign_jwt
from certdist.services.verification import Status
from certdist.services.verification.status_list import StatusListChecker
from certdist.signing.jose import thumbprint
from certdist.signing.keys import PublicKey
from certdist.wiring import Services
from tests.support.issuing import issue_signed
from tests.support.sd_jwt import payload_of
from tests.support.services import ServicesFactory
from tests.support.verifier_samples import ServedBy, another_deployment

PUBLIC = "https://certs.example.org"
ROUTE = "/trust/token-status/"


@pytest.fixture
def settings(make_services: ServicesFactory) -> Settings:
    return make_services.settings(public_url=PUBLIC)


def copy_with_status(services: Services) -> tuple[str, StatusReference]:
    """One SD-JWT VC copy of BEN0001's certificate with an index of its own."""
    issue_signed(services)
    bundle = services.distribution.certificates.bundle("BEN0001")
    reference = services.issuance.token_status_lists.allocate(bundle.latest.certificate_id)
    issuer = services.distribution.wallet.issuers.sd_jwt_vc
    return issuer.issue(bundle, status=reference), reference


def served(client: TestClient, uri: str) -> str:
    response = client.get(uri.removeprefix(PUBLIC))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/statuslist+jwt"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["access-control-allow-origin"] == "*"
    token: str = response.text
    return token


def status_in(services: Services, token: str, reference: StatusReference) -> int:
    """The entry of ``reference`` in ``token``, checked with the keys of jwt-vc-issuer."""

    def keys_for(kid: str) -> list[PublicKey]:
        return services.verifier.trust.shc_keys(PUBLIC, kid)

    verified = tsl.read_status_list_token(
        token, uri=reference.uri, keys_for=keys_for, issuer=PUBLIC, now=services.clock.now()
    )
    return verified.status_of(reference.idx)


def test_the_route_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "get" in paths[ROUTE + "{list_id}"]


def test_the_token_is_signed_by_the_published_key_and_follows_revocation(
    client: TestClient, services: Services
) -> None:
    sd_jwt, reference = copy_with_status(services)
    assert reference.uri == f"{PUBLIC}{ROUTE}1"
    before = served(client, reference.uri)
    kid = decode_jws(before, "token")[0]["kid"]
    published = client.get("/.well-known/jwt-vc-issuer").json()["jwks"]["keys"]
    assert kid in {key["kid"] for key in published}
    assert status_in(services, before, reference) == tsl.VALID
    assert services.verifier.check(sd_jwt).status is Status.VALID

    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")

    after = served(client, reference.uri)
    assert status_in(services, after, reference) == tsl.INVALID
    outcome = services.verifier.check(sd_jwt)
    assert (outcome.status, outcome.code) == (Status.REVOKED, "revoked")


def test_the_verifier_of_another_deployment_fetches_the_token(
    client: TestClient, services: Services
) -> None:
    """Without our records, the token alone tells that the copy was revoked."""
    sd_jwt, reference = copy_with_status(services)
    fetch = ServedBy(client, PUBLIC)
    now = [0.0]
    elsewhere = another_deployment(
        services.verifier,
        StatusListChecker(None, fetch, max_age_seconds=600, monotonic=lambda: now[0]),
    )
    assert elsewhere.check(sd_jwt).status is Status.VALID
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    assert elsewhere.check(sd_jwt).status is Status.VALID  # held for the token's ttl
    now[0] = 301.0  # the token's ttl (300 s) is shorter than the verifier's 600 s
    outcome = elsewhere.check(sd_jwt)
    assert (outcome.status, outcome.code) == (Status.REVOKED, "revoked")
    assert fetch.fetched == [reference.uri, reference.uri]


def test_an_unreachable_or_untrusted_token_is_revocation_unknown(
    client: TestClient, services: Services
) -> None:
    sd_jwt, _ = copy_with_status(services)

    def down(url: str) -> bytes:
        raise OSError("connection refused")

    def forged(url: str) -> bytes:  # our token's claims, signed by another key
        header, claims, _, _ = decode_jws(client.get(url.removeprefix(PUBLIC)).text, "t")
        return sign_jwt(header, claims, ec.generate_private_key(ec.SECP256R1())).encode()

    def for_another_list(url: str) -> bytes:  # a genuine token, of another list
        token = services.issuance.token_status_lists.token(1)
        header, claims, _, _ = decode_jws(token, "t")
        key = services.distribution.wallet.issuers.sd_jwt_vc.key.private_key
        return sign_jwt(header, {**claims, "sub": f"{PUBLIC}{ROUTE}2"}, key).encode()

    for fetch in (down, forged, for_another_list):
        elsewhere = another_deployment(
            services.verifier,
            StatusListChecker(None, fetch),
        )
        outcome = elsewhere.check(sd_jwt)
        assert (outcome.status, outcome.code) == (Status.INVALID, "revocation-unknown"), fetch


def test_unknown_and_bad_list_ids(client: TestClient, services: Services) -> None:
    response = client.get(ROUTE + "7")
    assert response.status_code == 404
    assert "no token status list 7" in response.text
    for bad in ("not-a-number", "0", "-1", "1e3", "99999999999"):
        assert client.get(ROUTE + bad).status_code == 400, bad


def test_accept_negotiation(client: TestClient, services: Services) -> None:
    copy_with_status(services)
    for accept in (
        "application/statuslist+jwt",
        "Application/StatusList+JWT",
        "application/*",
        "*/*",
        "text/html, */*;q=0.1",
        "",
    ):
        response = client.get(ROUTE + "1", headers={"Accept": accept})
        assert response.status_code == 200, accept
    refused = client.get(ROUTE + "1", headers={"Accept": "application/statuslist+cwt"})
    assert refused.status_code == 406
    assert "application/statuslist+jwt" in refused.text
    for refusing in ("application/statuslist+jwt;q=0", "*/*; q=0.000", "*/*;q=nan", "*/*;q=x"):
        assert client.get(ROUTE + "1", headers={"Accept": refusing}).status_code == 406, refusing


def test_the_key_id_is_the_thumbprint_of_the_sd_jwt_vc_key(
    client: TestClient, services: Services
) -> None:
    _, reference = copy_with_status(services)
    header = decode_jws(served(client, reference.uri), "token")[0]
    issuer = services.distribution.wallet.issuers.sd_jwt_vc
    assert header == {"typ": "statuslist+jwt", "alg": "ES256", "kid": issuer.kid}
    public = issuer.key.public_key
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert issuer.kid == thumbprint(public)


def test_a_batch_has_one_entry_per_copy(services: Services) -> None:
    issue_signed(services)
    bundle = services.distribution.certificates.bundle("BEN0001")
    lists = services.issuance.token_status_lists
    references = [lists.allocate(bundle.latest.certificate_id) for _ in range(3)]
    issuer = services.distribution.wallet.issuers.sd_jwt_vc
    copies = issuer.issue_batch(bundle, [None] * 3, statuses=references)
    named = [payload_of(copy)["status"]["status_list"] for copy in copies]
    assert named == [{"idx": r.idx, "uri": r.uri} for r in references]
    assert len({entry["idx"] for entry in named}) == 3
    with pytest.raises(ValueError, match="one status per holder key"):
        issuer.issue_batch(bundle, [None] * 3, statuses=references[:2])
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    statuses = lists.statuses(1)
    assert [statuses.get(r.idx) for r in references] == [tsl.INVALID] * 3
