"""SD-JWT VC: structure, digests and decoys, salts, selective disclosure, holder binding, and
the verification of presentations (tampered, unknown, expired, key binding)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certdist.errors import InvalidInput, MalformedCertificate, UnknownKey, VerificationError
from certdist.formats.sd_jwt_vc import (
    KeyBindingPolicy,
    SdJwtVcIssuer,
    StatusReference,
    digest_of,
    verify_presentation,
)
from certdist.signing.jose import b64url, b64url_decode, es256_verify
from certdist.signing.keys import KeyUse, PublicKey
from tests.support.sd_jwt import (
    decoded,
    ed25519_holder_key,
    header_of,
    holder_key,
    named,
    payload_of,
    present,
    split,
    with_key_binding,
)
from tests.support.wallet_samples import NOW, bundle, key_store, lab_bundle

ISS = "https://certdist.test"


@pytest.fixture
def issuer(tmp_path: Path) -> SdJwtVcIssuer:
    return SdJwtVcIssuer(
        ISS + "/",
        key_store(tmp_path).active(KeyUse.SHC),
        revocation_ref=lambda certificate_id: f"sealed-{certificate_id}",
        now=lambda: NOW,
    )


def keys_of(issuer: SdJwtVcIssuer) -> Any:
    public = issuer.key.private_key.public_key()
    return lambda iss, kid: [public] if (iss, kid) == (ISS, issuer.kid) else []


def all_digests(value: Any) -> list[str]:
    """Every digest in a payload (``_sd`` entries and array elements), decoys included."""
    if isinstance(value, dict):
        own = list(value.get("_sd", []))
        if set(value) == {"..."}:
            own.append(value["..."])
        return own + [d for v in value.values() for d in all_digests(v)]
    if isinstance(value, list):
        return [d for v in value for d in all_digests(v)]
    return []


def test_the_issuer_jwt_header_and_visible_claims(issuer: SdJwtVcIssuer) -> None:
    sd_jwt = issuer.issue(bundle())
    assert sd_jwt.endswith("~")
    assert header_of(sd_jwt) == {"typ": "dc+sd-jwt", "alg": "ES256", "kid": issuer.kid}
    payload = payload_of(sd_jwt)
    visible = set(payload) - {"_sd"}
    assert visible == {"iss", "iat", "exp", "vct", "rid", "_sd_alg"}
    assert payload["iss"] == ISS
    assert payload["vct"] == f"{ISS}/credentials/vaccination/v1"
    assert payload["rid"] == "sealed-100000002"
    assert payload["_sd_alg"] == "sha-256"
    assert payload["exp"] - payload["iat"] == int(timedelta(days=365).total_seconds())
    jwt, _ = split(sd_jwt)
    signing_input, signature = jwt.rsplit(".", 1)
    public: PublicKey = issuer.key.private_key.public_key()  # type: ignore[assignment]
    assert es256_verify(public, signing_input.encode(), b64url_decode(signature))


def test_no_personal_data_is_in_the_clear(issuer: SdJwtVcIssuer) -> None:
    jwt, _ = split(issuer.issue(bundle()))
    clear = b64url_decode(jwt.split(".")[1]).decode()
    for personal in ("Bhaya", "Mitra", "1994", "COVISHIELD", "2021-05-02"):
        assert personal not in clear


def test_every_disclosure_is_referenced_once_and_decoys_pad_every_object(
    issuer: SdJwtVcIssuer,
) -> None:
    sd_jwt = issuer.issue(bundle(doses=2))
    payload = payload_of(sd_jwt)
    _, disclosures = split(sd_jwt)
    by_digest = {digest_of(d): decoded(d) for d in disclosures}
    nested = [v for d in by_digest.values() for v in [d[-1]]]
    referenced = all_digests(payload) + [x for v in nested for x in all_digests(v)]
    assert len(referenced) == len(set(referenced))
    assert set(by_digest) <= set(referenced)
    decoys = set(referenced) - set(by_digest)
    assert decoys  # some digests name no disclosure
    for obj in [payload, *(v for v in nested if isinstance(v, dict))]:
        assert len(obj["_sd"]) % 4 == 0
        assert len(set(obj["_sd"]) & decoys) >= 1
    # name, birthdate, the doses array, two array elements, and six fields of each dose
    names = sorted(d[1] for d in by_digest.values() if len(d) == 3)
    assert (names.count("vaccine"), names.count("dose")) == (2, 2)
    assert {"name", "birthdate", "vaccinations"} <= set(names)
    assert sum(1 for d in by_digest.values() if len(d) == 2) == 2
    for disclosure in by_digest.values():
        assert len(b64url_decode(disclosure[0])) == 16  # a 128-bit salt


def test_two_copies_share_no_salt_digest_or_rid(tmp_path: Path) -> None:
    counter = iter(range(100))
    issuer = SdJwtVcIssuer(
        ISS,
        key_store(tmp_path).active(KeyUse.SHC),
        revocation_ref=lambda _: f"r{next(counter)}",
        now=lambda: NOW,
    )
    first, second = issuer.issue_batch(bundle(), [None, None])
    salts = [{decoded(d)[0] for d in split(c)[1]} for c in (first, second)]
    digests = [set(all_digests(payload_of(c))) for c in (first, second)]
    assert salts[0]
    assert not salts[0] & salts[1]
    assert digests[0]
    assert not digests[0] & digests[1]
    assert payload_of(first)["rid"] != payload_of(second)["rid"]


def test_the_holder_key_and_the_status_reference_are_visible(issuer: SdJwtVcIssuer) -> None:
    _, jwk = holder_key()
    sd_jwt = issuer.issue(
        bundle(), holder_jwk={**jwk, "d": "ignored"}, status=StatusReference("https://s/1", 7)
    )
    payload = payload_of(sd_jwt)
    assert payload["cnf"] == {"jwk": jwk}
    assert payload["status"] == {"status_list": {"idx": 7, "uri": "https://s/1"}}
    with pytest.raises(InvalidInput):
        issuer.issue(bundle(), holder_jwk={"kty": "OKP", "crv": "Ed25519", "x": "AA"})


def test_a_lab_test_discloses_the_test_fields(issuer: SdJwtVcIssuer) -> None:
    sd_jwt = issuer.issue(lab_bundle())
    assert payload_of(sd_jwt)["vct"] == f"{ISS}/credentials/lab-test/v1"
    verified = verify_presentation(sd_jwt, keys_of(issuer), NOW)
    test = verified.claims["test"]
    assert {"result", "sample_collected", "type"} <= set(test)
    assert verified.claims["birthdate"] == "1994-11-30"


# --- verifying ---------------------------------------------------------------------------------


def test_the_whole_credential_verifies_with_every_claim(issuer: SdJwtVcIssuer) -> None:
    verified = verify_presentation(issuer.issue(bundle()), keys_of(issuer), NOW)
    claims = verified.claims
    assert (claims["name"], claims["birthdate"]) == ("Bhaya Mitra", "1994-11-30")
    assert [(d["dose"], d["date"]) for d in claims["vaccinations"]] == [
        (1, "2021-05-02"),
        (2, "2021-06-02"),
    ]
    assert not {"_sd", "_sd_alg"} & set(claims)
    assert not verified.holder_bound


def test_a_subset_shows_only_what_was_disclosed(issuer: SdJwtVcIssuer) -> None:
    presentation = present(issuer.issue(bundle()), named("vaccinations", "vaccine", "dose"))
    claims = verify_presentation(presentation, keys_of(issuer), NOW).claims
    assert not {"name", "birthdate"} & set(claims)
    assert claims["vaccinations"] == [
        {"vaccine": "COVISHIELD", "dose": 1},
        {"vaccine": "COVISHIELD", "dose": 2},
    ]
    name_only = present(issuer.issue(bundle()), named("name"))
    assert verify_presentation(name_only, keys_of(issuer), NOW).claims.keys() == {
        "iss",
        "iat",
        "exp",
        "vct",
        "rid",
        "name",
    }


def test_a_tampered_or_unknown_or_repeated_disclosure_is_refused(
    issuer: SdJwtVcIssuer,
) -> None:
    sd_jwt = issuer.issue(bundle())
    jwt, disclosures = split(sd_jwt)
    name = next(d for d in disclosures if decoded(d)[1:2] == ["name"])
    forged = b64url(f'["{decoded(name)[0]}","name","Someone Else"]'.encode())
    other = split(issuer.issue(bundle()))[1][0]
    for bad in (
        "~".join([jwt, forged, ""]),
        "~".join([jwt, other, ""]),
        "~".join([jwt, name, name, ""]),
    ):
        with pytest.raises(VerificationError):
            verify_presentation(bad, keys_of(issuer), NOW)
    with pytest.raises(MalformedCertificate):
        verify_presentation("~".join([jwt, "not-json", ""]), keys_of(issuer), NOW)


def test_a_wrong_key_an_unknown_key_and_expiry_are_refused(
    issuer: SdJwtVcIssuer, tmp_path: Path
) -> None:
    sd_jwt = issuer.issue(bundle())
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(VerificationError, match="signature"):
        verify_presentation(sd_jwt, lambda iss, kid: [other], NOW)
    with pytest.raises(UnknownKey):
        verify_presentation(sd_jwt, lambda iss, kid: [], NOW)
    with pytest.raises(VerificationError, match="expired"):
        verify_presentation(sd_jwt, keys_of(issuer), NOW + timedelta(days=366))
    assert verify_presentation(sd_jwt, keys_of(issuer), NOW + timedelta(days=364))


def test_a_key_binding_jwt_is_checked_against_the_holder_key(issuer: SdJwtVcIssuer) -> None:
    key, jwk = holder_key()
    presentation = present(issuer.issue(bundle(), holder_jwk=jwk), named("name"))
    iat = int(NOW.timestamp())
    bound = with_key_binding(presentation, key, iat=iat)
    policy = KeyBindingPolicy(audience="https://verifier.example", nonce="n-0S6_WzA2Mj")
    verified = verify_presentation(bound, keys_of(issuer), NOW, policy)
    assert verified.holder_bound
    assert verified.claims["name"] == "Bhaya Mitra"
    # The default policy (no nonce of its own) accepts any audience, if recent.
    assert verify_presentation(bound, keys_of(issuer), NOW).holder_bound
    stranger, _ = holder_key()
    wrong_hash = b64url(hashlib.sha256(b"other").digest())
    refused = {
        "nonce": (with_key_binding(presentation, key, iat=iat, nonce="replayed"), policy),
        "aud": (with_key_binding(presentation, key, iat=iat, aud="https://evil"), policy),
        "signed by the holder": (with_key_binding(presentation, stranger, iat=iat), None),
        "sd_hash": (with_key_binding(presentation, key, iat=iat, sd_hash=wrong_hash), None),
        "too old": (with_key_binding(presentation, key, iat=iat - 3600), None),
    }
    for reason, (text, rules) in refused.items():
        with pytest.raises(VerificationError, match=reason):
            verify_presentation(text, keys_of(issuer), NOW, rules)
    # A disclosure added after the holder signed breaks sd_hash.
    full = issuer.issue(bundle(), holder_jwk=jwk)
    jwt, disclosures = split(full)
    name = next(d for d in disclosures if decoded(d)[1:2] == ["name"])
    birthdate = next(d for d in disclosures if decoded(d)[1:2] == ["birthdate"])
    signed = with_key_binding("~".join([jwt, name, ""]), key, iat=iat)
    widened = "~".join([jwt, name, birthdate, signed.rsplit("~", 1)[1]])
    with pytest.raises(VerificationError, match="sd_hash"):
        verify_presentation(widened, keys_of(issuer), NOW)


def test_an_ed25519_holder_key_is_bound_and_its_key_binding_checked(
    issuer: SdJwtVcIssuer,
) -> None:
    key, jwk = ed25519_holder_key()
    issued = issuer.issue(bundle(), holder_jwk=jwk)
    assert payload_of(issued)["cnf"] == {"jwk": jwk}
    presentation = present(issued, named("name"))
    iat = int(NOW.timestamp())
    for alg in ("EdDSA", "Ed25519"):
        bound = with_key_binding(presentation, key, iat=iat, alg=alg)
        assert verify_presentation(bound, keys_of(issuer), NOW).holder_bound
    stranger, _ = ed25519_holder_key()
    with pytest.raises(VerificationError, match="signed by the holder"):
        verify_presentation(with_key_binding(presentation, stranger, iat=iat), keys_of(issuer), NOW)
    # The Ed25519 signature under another algorithm's name is not checked as that one.
    with pytest.raises(VerificationError, match="signed by the holder"):
        verify_presentation(
            with_key_binding(presentation, key, iat=iat, alg="ES256"), keys_of(issuer), NOW
        )
    with pytest.raises(MalformedCertificate, match="one of ES256, EdDSA, Ed25519"):
        verify_presentation(
            with_key_binding(presentation, key, iat=iat, alg="HS256"), keys_of(issuer), NOW
        )


def test_a_holder_key_of_another_kind_is_refused_at_issuance(issuer: SdJwtVcIssuer) -> None:
    for jwk in (
        {"kty": "OKP", "crv": "X25519", "x": "A" * 43},
        {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
        {"kty": "OKP", "crv": "Ed25519", "x": "AA"},
    ):
        with pytest.raises(InvalidInput, match="holder key"):
            issuer.issue(bundle(), holder_jwk=jwk)


def test_key_binding_without_a_holder_key_is_refused(issuer: SdJwtVcIssuer) -> None:
    key, _ = holder_key()
    unbound = with_key_binding(issuer.issue(bundle()), key, iat=int(NOW.timestamp()))
    with pytest.raises(VerificationError, match="cnf"):
        verify_presentation(unbound, keys_of(issuer), NOW)


def test_a_jwt_of_another_type_is_malformed(issuer: SdJwtVcIssuer) -> None:
    jwt, _ = split(issuer.issue(bundle()))
    _, rest = jwt.split(".", 1)
    retyped = b64url(b'{"typ":"JWT","alg":"ES256","kid":"x"}') + "." + rest
    with pytest.raises(MalformedCertificate, match="type"):
        verify_presentation(retyped + "~", keys_of(issuer), NOW)
