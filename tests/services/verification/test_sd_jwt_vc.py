"""SD-JWT VC presentations through the verifier (as ``certdist verify`` and the web verifier
use it): our own credentials, disclosed subsets, key binding, revocation, other issuers."""

from __future__ import annotations

from typing import Any

from certdist.formats.sd_jwt_vc import SdJwtVcIssuer, StatusReference
from certdist.services.verification import Status
from certdist.services.verification.detect import InputKind, classify
from certdist.signing.jose import b64url
from certdist.wiring import Services
from tests.support.issuing import issue_signed
from tests.support.sd_jwt import decoded, holder_key, named, present, split, with_key_binding


def our_sd_jwt(services: Services, **options: Any) -> str:
    issue_signed(services)
    issuer = services.distribution.wallet.issuers.sd_jwt_vc
    return issuer.issue(services.distribution.certificates.bundle("BEN0001"), **options)


def test_presentations_are_recognised_with_and_without_key_binding(services: Services) -> None:
    key, jwk = holder_key()
    sd_jwt = our_sd_jwt(services, holder_jwk=jwk)
    assert classify(sd_jwt)[0] is InputKind.SD_JWT_VC
    assert classify(with_key_binding(sd_jwt, key))[0] is InputKind.SD_JWT_VC
    assert classify(split(sd_jwt)[0] + "~")[0] is InputKind.SD_JWT_VC


def test_our_whole_credential_is_valid_without_holder_binding(services: Services) -> None:
    outcome = services.verifier.check(our_sd_jwt(services))
    assert (outcome.status, outcome.code) == (Status.VALID, "valid")
    assert outcome.certificate is not None
    shown = outcome.certificate.as_json()
    assert (shown["format"], shown["kind"]) == ("sd-jwt-vc", "vaccination")
    assert (shown["name"], shown["date_of_birth"], shown["dose"]) == (
        "Bhaya Mitra",
        "1994-11-30",
        1,
    )
    assert shown["holder_binding"] == "not shown"
    assert shown["issuer"] == services.settings.public_url


def test_only_the_disclosed_claims_are_shown(services: Services) -> None:
    key, jwk = holder_key()
    sd_jwt = our_sd_jwt(services, holder_jwk=jwk)
    presentation = with_key_binding(present(sd_jwt, named("vaccinations", "vaccine")), key)
    outcome = services.verifier.check(presentation)
    assert outcome.status is Status.VALID, outcome.reason
    assert outcome.certificate is not None
    shown = outcome.certificate.as_json()
    assert (shown["vaccine"], shown["holder_binding"]) == ("Covishield", "shown")
    for hidden in ("name", "date_of_birth", "date", "dose", "total_doses"):
        assert hidden not in shown


def test_tampering_and_wrong_holder_keys_are_invalid(services: Services) -> None:
    _, jwk = holder_key()
    sd_jwt = our_sd_jwt(services, holder_jwk=jwk)
    jwt, disclosures = split(sd_jwt)
    name = next(d for d in disclosures if decoded(d)[1:2] == ["name"])
    forged = b64url(f'["{decoded(name)[0]}","name","Someone Else"]'.encode())
    stranger, _ = holder_key()
    for bad in ("~".join([jwt, forged, ""]), with_key_binding(sd_jwt, stranger)):
        outcome = services.verifier.check(bad)
        assert (outcome.status, outcome.code) == (Status.INVALID, "signature")
        assert outcome.certificate is None


def test_another_issuer_is_not_trusted(services: Services) -> None:
    ours = services.distribution.wallet.issuers.sd_jwt_vc
    foreign = SdJwtVcIssuer(
        "https://elsewhere.example",
        ours.key,
        revocation_ref=lambda _: "x",
        now=services.clock.now,
    )
    issue_signed(services)
    sd_jwt = foreign.issue(services.distribution.certificates.bundle("BEN0001"))
    assert services.verifier.check(sd_jwt).code == "unknown-key"


def test_our_credential_is_revoked_with_its_certificate(services: Services) -> None:
    sd_jwt = our_sd_jwt(services)
    presentation = present(sd_jwt, named("vaccinations", "vaccine"))
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    for text in (sd_jwt, presentation):
        outcome = services.verifier.check(text)
        assert (outcome.status, outcome.code) == (Status.REVOKED, "revoked")


def test_the_token_status_list_alone_revokes_a_copy(services: Services) -> None:
    """A copy whose rid we cannot open (as another deployment sees it) is revoked by the set
    bit of its Token Status List entry; a copy whose entry is outside its list is unknown."""
    issue_signed(services)
    ours = services.distribution.wallet.issuers.sd_jwt_vc
    opaque = SdJwtVcIssuer(
        ours.issuer, ours.key, revocation_ref=lambda _: "unreadable", now=services.clock.now
    )
    bundle = services.distribution.certificates.bundle("BEN0001")
    lists = services.issuance.token_status_lists
    reference = lists.allocate(bundle.latest.certificate_id)
    copy = opaque.issue(bundle, status=reference)
    outside = opaque.issue(bundle, status=StatusReference(reference.uri, lists.size))
    assert services.verifier.check(copy).status is Status.VALID
    assert services.verifier.check(outside).code == "revocation-unknown"
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    outcome = services.verifier.check(present(copy, named("vaccinations", "vaccine")))
    assert (outcome.status, outcome.code) == (Status.REVOKED, "revoked")
    assert "token status list" in outcome.reason


def test_the_issuer_metadata_names_the_signing_key(services: Services) -> None:
    metadata = services.distribution.wallet.jwt_vc_issuer()
    issuer = services.distribution.wallet.issuers.sd_jwt_vc
    assert metadata["issuer"] == issuer.issuer == services.settings.public_url.rstrip("/")
    assert issuer.kid in [key["kid"] for key in metadata["jwks"]["keys"]]
