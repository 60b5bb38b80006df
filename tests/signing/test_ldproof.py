"""Linked-data proofs: DIVOC's vectors, round trips, tampering, malformed proofs."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certdist.errors import (
    ConfigurationError,
    InvalidInput,
    MalformedCertificate,
    UnknownKey,
    UnsupportedFormat,
    VerificationError,
)
from certdist.signing.contexts import ContextLoader, bundled_context_path
from certdist.signing.keys import KeyAlgorithm, KeyUse, PublicKey, SigningKey
from certdist.signing.ldproof import (
    CredentialSigner,
    ProofType,
    sign_credential,
    verify_credential,
)

from .samples import CREATED, HARD_NAMES, CredentialFactory

PS256_HEADER = "eyJhbGciOiJQUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19"


def resolver(*keys: SigningKey) -> Any:
    table: dict[str, PublicKey] = {key.id: key.public_key for key in keys}
    return table.get


def b64url_json(value: object) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# --- DIVOC's own vectors --------------------------------------------------------------------


@pytest.fixture
def divoc_public_key(testdata: Path) -> PublicKey:
    key = serialization.load_pem_public_key((testdata / "divoc/rsa2018-public.pem").read_bytes())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def load_vector(testdata: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((testdata / "divoc" / name).read_text(encoding="utf-8"))
    return loaded


def test_divoc_signed_vector_verifies(testdata: Path, divoc_public_key: PublicKey) -> None:
    credential = load_vector(testdata, "rsa2018-signed.json")
    assert verify_credential(credential, {"did:india": divoc_public_key}.get) == "did:india"


def test_divoc_tampered_vector_fails(testdata: Path, divoc_public_key: PublicKey) -> None:
    credential = load_vector(testdata, "rsa2018-tampered.json")
    with pytest.raises(VerificationError, match="signature does not match") as raised:
        verify_credential(credential, {"did:india": divoc_public_key}.get)
    assert not isinstance(raised.value, UnknownKey)


def test_unknown_verification_method_raises_unknown_key(
    testdata: Path, divoc_public_key: PublicKey
) -> None:
    credential = load_vector(testdata, "rsa2018-signed.json")
    with pytest.raises(UnknownKey, match="did:india"):
        verify_credential(credential, {"did:elsewhere": divoc_public_key}.get)


def test_divoc_vector_reserialised_still_verifies(
    testdata: Path, divoc_public_key: PublicKey
) -> None:
    """The proof covers canonical RDF, not JSON text: key order and spacing do not matter."""
    credential = load_vector(testdata, "rsa2018-signed.json")
    reordered = json.loads(json.dumps(credential, sort_keys=True, indent=None))
    assert verify_credential(reordered, {"did:india": divoc_public_key}.get) == "did:india"


# --- round trips -----------------------------------------------------------------------------


@pytest.fixture(params=["rsa", "ed25519"])
def key(request: pytest.FixtureRequest) -> SigningKey:
    fixture: SigningKey = request.getfixturevalue(f"{request.param}_key")
    return fixture


@pytest.mark.parametrize("name", HARD_NAMES)
def test_round_trip_with_hard_names(
    key: SigningKey, vaccination_credential: CredentialFactory, name: str
) -> None:
    signed = sign_credential(vaccination_credential(name=name), key, created=CREATED)
    assert signed["credentialSubject"]["name"] == name
    assert verify_credential(signed, resolver(key)) == key.id
    # and after a trip through JSON text, as it is stored and served
    text = json.dumps(signed, ensure_ascii=False, separators=(",", ":"))
    assert verify_credential(json.loads(text), resolver(key)) == key.id


def test_round_trip_test_certificate(
    key: SigningKey, test_certificate_credential: CredentialFactory
) -> None:
    signed = sign_credential(test_certificate_credential(), key, created=CREATED)
    assert verify_credential(signed, resolver(key)) == key.id


def test_round_trip_vaccination_v2_with_dob(
    key: SigningKey, vaccination_credential: CredentialFactory
) -> None:
    credential = vaccination_credential(context="https://divoc.dev/credentials/vaccination/v2")
    credential["credentialSubject"]["dob"] = "1994-11-30"
    credential["evidence"][0]["icd11Code"] = "XM9QW8"
    credential["evidence"][0]["prophylaxis"] = "COVID-19 vaccine, non-replicating viral vector"
    signed = sign_credential(credential, key, created=CREATED)
    assert verify_credential(signed, resolver(key)) == key.id


def test_proof_shape(rsa_key: SigningKey, vaccination_credential: CredentialFactory) -> None:
    credential = vaccination_credential()
    signed = sign_credential(credential, rsa_key, created=CREATED)
    assert list(signed) == [*credential, "proof"]
    proof = signed["proof"]
    assert list(proof) == ["type", "created", "verificationMethod", "proofPurpose", "jws"]
    assert proof["type"] == "RsaSignature2018"
    assert proof["created"] == "2021-08-28T11:35:43Z"
    assert proof["verificationMethod"] == rsa_key.id
    assert proof["proofPurpose"] == "assertionMethod"
    header, payload, signature = proof["jws"].split(".")
    assert header == PS256_HEADER
    assert payload == ""
    assert len(base64.urlsafe_b64decode(signature + "==")) == 256


def test_ed25519_proof_is_deterministic(
    ed25519_key: SigningKey, vaccination_credential: CredentialFactory
) -> None:
    first = sign_credential(vaccination_credential(), ed25519_key, created=CREATED)
    second = sign_credential(vaccination_credential(), ed25519_key, created=CREATED)
    assert first == second
    assert first["proof"]["type"] == "Ed25519Signature2018"
    header = first["proof"]["jws"].split(".")[0]
    assert header == b64url_json({"alg": "EdDSA", "b64": False, "crit": ["b64"]})


def test_created_is_utc_whole_seconds(
    ed25519_key: SigningKey, vaccination_credential: CredentialFactory
) -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    created = datetime(2021, 8, 28, 17, 5, 43, 999999, tzinfo=ist)
    signed = sign_credential(vaccination_credential(), ed25519_key, created=created)
    assert signed["proof"]["created"] == "2021-08-28T11:35:43Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_credential(vaccination_credential(), ed25519_key, created=datetime(2021, 1, 1))


def test_signing_copies_its_input(
    rsa_key: SigningKey, vaccination_credential: CredentialFactory
) -> None:
    credential = vaccination_credential()
    before = copy.deepcopy(credential)
    signed = sign_credential(credential, rsa_key, created=CREATED)
    assert credential == before  # input untouched
    credential["credentialSubject"]["name"] = "Someone Else"  # caller mutates its own dict
    assert signed["credentialSubject"]["name"] == "Bhaya Mitra"
    assert verify_credential(signed, resolver(rsa_key)) == rsa_key.id


def test_signer_class_and_function_agree(
    ed25519_key: SigningKey, vaccination_credential: CredentialFactory
) -> None:
    signer = CredentialSigner(ed25519_key, ContextLoader())
    assert signer.key_id == ed25519_key.id
    signed = signer.sign(vaccination_credential(), created=CREATED)
    assert signed == sign_credential(vaccination_credential(), ed25519_key, created=CREATED)
    assert signer.verify(signed, resolver(ed25519_key)) == ed25519_key.id


# --- tampering -------------------------------------------------------------------------------


def leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaf_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaf_paths(item, (*path, index))
    else:
        yield path


def set_path(document: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        document = document[step]
    document[path[-1]] = value


def changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    return value + "x" if value else "x"


def test_every_field_change_breaks_the_proof(
    key: SigningKey, vaccination_credential: CredentialFactory
) -> None:
    signed = sign_credential(vaccination_credential(), key, created=CREATED)
    paths = [p for p in leaf_paths(signed) if p[0] != "proof"]
    assert len(paths) > 40
    for path in paths:
        tampered = copy.deepcopy(signed)
        value: Any = tampered
        for step in path:
            value = value[step]
        set_path(tampered, path, changed(value))
        with pytest.raises(VerificationError) as raised:
            verify_credential(tampered, resolver(key))
        assert not isinstance(raised.value, UnknownKey), path


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda c: c["credentialSubject"].pop("nationality"), "signature does not match"),
        (lambda c: c["credentialSubject"].update(uhid="123"), "signature does not match"),
        (lambda c: c.update(extra="field"), "'extra' is not defined"),
        (lambda c: c["evidence"].append(copy.deepcopy(c["evidence"][0])), "does not match"),
        (lambda c: c["proof"].update(created="2021-08-28T11:35:44Z"), "does not match"),
        (lambda c: c["proof"].update(foo="abc"), "'foo' is not defined"),
    ],
    ids=["removed", "added-defined", "added-undefined", "evidence-added", "created", "proof-foo"],
)
def test_structural_changes_break_the_proof(
    rsa_key: SigningKey, vaccination_credential: CredentialFactory, mutate: Any, reason: str
) -> None:
    signed = sign_credential(vaccination_credential(), rsa_key, created=CREATED)
    mutate(signed)
    with pytest.raises(VerificationError, match=reason):
        verify_credential(signed, resolver(rsa_key))


@pytest.mark.parametrize(
    ("signer", "verifier"),
    [
        ("rsa_key", "other_rsa_key"),
        ("ed25519_key", "other_ed25519_key"),
    ],
)
def test_proof_fails_against_another_key(
    request: pytest.FixtureRequest,
    vaccination_credential: CredentialFactory,
    signer: str,
    verifier: str,
) -> None:
    signing_key: SigningKey = request.getfixturevalue(signer)
    other: SigningKey = request.getfixturevalue(verifier)
    signed = sign_credential(vaccination_credential(), signing_key, created=CREATED)
    with pytest.raises(VerificationError, match="signature does not match"):
        verify_credential(signed, {signing_key.id: other.public_key}.get)


def test_proof_type_and_key_type_must_agree(
    rsa_key: SigningKey, ed25519_key: SigningKey, vaccination_credential: CredentialFactory
) -> None:
    signed = sign_credential(vaccination_credential(), ed25519_key, created=CREATED)
    with pytest.raises(VerificationError, match=r"is not an (RSA|Ed25519) key"):
        verify_credential(signed, {ed25519_key.id: rsa_key.public_key}.get)
    signed["proof"]["type"] = "RsaSignature2018"
    with pytest.raises(VerificationError, match="bad jws header"):
        verify_credential(signed, resolver(ed25519_key))


# --- malformed proofs ------------------------------------------------------------------------


def proof_with(signed: dict[str, Any], **changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(signed)
    for name, value in changes.items():
        if value is None:
            result["proof"].pop(name)
        else:
            result["proof"][name] = value
    return result


@pytest.fixture
def signed_rsa(rsa_key: SigningKey, vaccination_credential: CredentialFactory) -> dict[str, Any]:
    return sign_credential(vaccination_credential(), rsa_key, created=CREATED)


def test_missing_proof(rsa_key: SigningKey, signed_rsa: dict[str, Any]) -> None:
    unsigned = {k: v for k, v in signed_rsa.items() if k != "proof"}
    with pytest.raises(VerificationError, match="no proof"):
        verify_credential(unsigned, resolver(rsa_key))


def test_proof_set_is_refused(rsa_key: SigningKey, signed_rsa: dict[str, Any]) -> None:
    signed_rsa["proof"] = [signed_rsa["proof"]]
    with pytest.raises(VerificationError, match="single proof"):
        verify_credential(signed_rsa, resolver(rsa_key))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"type": "EcdsaSecp256k1Signature2019"}, "unsupported proof type"),
        ({"type": ["RsaSignature2018"]}, "unsupported proof type"),
        ({"type": None}, "unsupported proof type"),
        ({"proofPurpose": "authentication"}, "proofPurpose"),
        ({"verificationMethod": None}, "no verificationMethod"),
        ({"jws": None}, "no jws"),
        ({"jws": "abc"}, "malformed jws"),
        ({"jws": PS256_HEADER + ".cGF5bG9hZA.c2ln"}, "malformed jws"),
        ({"jws": PS256_HEADER + ".."}, "malformed jws"),
        ({"jws": PS256_HEADER + "..not*base64"}, "signature is not base64url"),
        ({"jws": "!!!..c2ln"}, "header is not base64url"),
        ({"jws": "bm90IGpzb24..c2ln"}, "header is not JSON"),
    ],
)
def test_malformed_proofs(
    rsa_key: SigningKey, signed_rsa: dict[str, Any], changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(VerificationError, match=reason) as raised:
        verify_credential(proof_with(signed_rsa, **changes), resolver(rsa_key))
    assert not isinstance(raised.value, UnknownKey)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "RS256", "b64": False, "crit": ["b64"]},
        {"alg": "PS256", "b64": True, "crit": ["b64"]},
        {"alg": "PS256", "b64": 0, "crit": ["b64"]},
        {"alg": "PS256", "b64": False},
        {"alg": "PS256", "b64": False, "crit": ["b64"], "kid": "x"},
        ["PS256"],
    ],
)
def test_bad_jws_headers(rsa_key: SigningKey, signed_rsa: dict[str, Any], header: Any) -> None:
    signature = signed_rsa["proof"]["jws"].split("..")[1]
    tampered = proof_with(signed_rsa, jws=b64url_json(header) + ".." + signature)
    with pytest.raises(VerificationError, match="bad jws header"):
        verify_credential(tampered, resolver(rsa_key))


def test_equivalent_header_encoding_is_still_checked_by_signature(
    rsa_key: SigningKey, signed_rsa: dict[str, Any]
) -> None:
    """The signature covers the header as encoded, so re-encoding it breaks the proof."""
    signature = signed_rsa["proof"]["jws"].split("..")[1]
    spaced = json.dumps({"alg": "PS256", "b64": False, "crit": ["b64"]}).encode()
    header = base64.urlsafe_b64encode(spaced).rstrip(b"=").decode()
    with pytest.raises(VerificationError, match="signature does not match"):
        verify_credential(proof_with(signed_rsa, jws=header + ".." + signature), resolver(rsa_key))


def test_non_object_credential() -> None:
    with pytest.raises(VerificationError, match="JSON object"):
        verify_credential(["not", "a", "credential"], {}.get)  # type: ignore[arg-type]


# --- what may be signed ----------------------------------------------------------------------


def test_integral_floats_are_integers_as_in_javascript(
    ed25519_key: SigningKey, vaccination_credential: CredentialFactory
) -> None:
    as_int = vaccination_credential()
    as_float = vaccination_credential()
    as_float["evidence"][0]["dose"] = 1.0
    signed_float = sign_credential(as_float, ed25519_key, created=CREATED)
    assert signed_float == sign_credential(as_int, ed25519_key, created=CREATED)
    assert type(signed_float["evidence"][0]["dose"]) is int


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (2**53, "too large"),
        (-(2**53), "too large"),
        (1e21, "too large"),
        (1e-7, "too close to zero"),
        (float("nan"), "finite"),
        (datetime(2021, 1, 1, tzinfo=UTC), "not a JSON value"),
        (b"bytes", "not a JSON value"),
    ],
)
def test_non_json_values_are_refused(
    rsa_key: SigningKey, vaccination_credential: CredentialFactory, value: Any, reason: str
) -> None:
    credential = vaccination_credential()
    credential["evidence"][0]["dose"] = value
    with pytest.raises(InvalidInput, match=f"evidence.0.dose: .*{reason}"):
        sign_credential(credential, rsa_key, created=CREATED)


def test_tabs_are_refused_both_ways(
    rsa_key: SigningKey, vaccination_credential: CredentialFactory
) -> None:
    """pyld and DIVOC's rdf-canonize 1 serialise a tab differently (see test_ldproof_node)."""
    with pytest.raises(InvalidInput, match=r"credentialSubject\.name: tab characters"):
        sign_credential(vaccination_credential(name="Bhaya\tMitra"), rsa_key, created=CREATED)
    signed = sign_credential(vaccination_credential(), rsa_key, created=CREATED)
    signed["credentialSubject"]["name"] = "Bhaya\tMitra"
    with pytest.raises(VerificationError, match="tab characters"):
        verify_credential(signed, resolver(rsa_key))


def test_lone_surrogates_are_refused(
    rsa_key: SigningKey, vaccination_credential: CredentialFactory
) -> None:
    with pytest.raises(InvalidInput, match="not valid Unicode"):
        sign_credential(vaccination_credential(name="broken \ud800"), rsa_key, created=CREATED)


def test_already_signed_is_refused(rsa_key: SigningKey, signed_rsa: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput, match="already carries a proof"):
        sign_credential(signed_rsa, rsa_key, created=CREATED)


def test_undefined_property_is_refused(
    rsa_key: SigningKey, vaccination_credential: CredentialFactory
) -> None:
    credential = vaccination_credential()
    credential["credentialSubject"]["dob"] = "1994-11-30"  # only the v2 context defines dob
    with pytest.raises(InvalidInput, match="'dob' is not defined"):
        sign_credential(credential, rsa_key, created=CREATED)


def test_unknown_context_is_refused(
    rsa_key: SigningKey, vaccination_credential: CredentialFactory
) -> None:
    credential = vaccination_credential(context="https://example.gov/credentials/vaccination/v1")
    with pytest.raises(InvalidInput, match="not available locally"):
        sign_credential(credential, rsa_key, created=CREATED)


def test_deployment_context_alias(
    rsa_key: SigningKey, vaccination_credential: CredentialFactory
) -> None:
    url = "https://example.gov/credentials/vaccination/v1"
    loader = ContextLoader({url: "vaccination-v1"})
    signed = CredentialSigner(rsa_key, loader).sign(
        vaccination_credential(context=url), created=CREATED
    )
    assert verify_credential(signed, resolver(rsa_key), loader=loader) == rsa_key.id
    path_loader = ContextLoader({url: bundled_context_path("vaccination-v1")})
    assert verify_credential(signed, resolver(rsa_key), loader=path_loader) == rsa_key.id
    with pytest.raises(VerificationError, match="not available locally") as raised:
        verify_credential(signed, resolver(rsa_key))  # the default loader lacks the alias
    assert not isinstance(raised.value, UnknownKey)


def test_signer_refuses_unsuitable_keys(rsa_key: SigningKey) -> None:
    ec_key = SigningKey(
        "did:test:ec",
        KeyUse.SHC,
        KeyAlgorithm.EC_P256,
        ec.generate_private_key(ec.SECP256R1()),
        True,
        CREATED,
    )
    with pytest.raises(ConfigurationError, match="RSA or Ed25519"):
        CredentialSigner(ec_key, ContextLoader())
    retired = SigningKey(
        rsa_key.id, rsa_key.use, rsa_key.algorithm, rsa_key.private_key, False, CREATED
    )
    with pytest.raises(ConfigurationError, match="retired"):
        CredentialSigner(retired, ContextLoader())


def test_proof_type_names() -> None:
    assert [str(t) for t in ProofType] == ["RsaSignature2018", "Ed25519Signature2018"]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"type": "EcdsaSecp256k1Signature2019"}, UnsupportedFormat),
        ({"type": None}, MalformedCertificate),
        ({"jws": "abc"}, MalformedCertificate),
        ({"jws": "bm90IGpzb24..c2ln"}, MalformedCertificate),
        ({"verificationMethod": None}, MalformedCertificate),
        ({"proofPurpose": "authentication"}, VerificationError),
    ],
)
def test_what_kind_of_failure_a_proof_is(
    rsa_key: SigningKey, signed_rsa: dict[str, Any], changes: dict[str, Any], error: type
) -> None:
    """A proof that cannot be processed is malformed; a suite we do not implement is
    unsupported; only a check that ran and failed is a plain verification failure."""
    with pytest.raises(VerificationError) as raised:
        verify_credential(proof_with(signed_rsa, **changes), resolver(rsa_key))
    assert type(raised.value) is error


def test_content_the_contexts_do_not_define_is_malformed(
    rsa_key: SigningKey, signed_rsa: dict[str, Any]
) -> None:
    with pytest.raises(MalformedCertificate):
        verify_credential({**signed_rsa, "undefinedTerm": "x"}, resolver(rsa_key))
