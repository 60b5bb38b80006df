"""COSE_Sign1: what we sign verifies here and in ``cwt`` (PyPI); what a scanner must
tolerate (tag 61, untagged, kid placement) is accepted, and anything altered is refused."""

from __future__ import annotations

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from certdist.errors import (
    MalformedCertificate,
    UnknownKey,
    UnsupportedFormat,
    VerificationError,
)
from certdist.signing.cose import (
    ES256,
    PS256,
    cbor_map,
    certificate_kid,
    is_cbor_array,
    parse_sign1,
    sign1,
    verify_sign1,
)
from certdist.signing.keys import PublicKey
from tests.support.immutable_cbor import immutable_loads

KID = b"\x01\x02\x03\x04\x05\x06\x07\x08"


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def trusting(public: PublicKey, kid: bytes = KID) -> object:
    return lambda wanted: [public] if wanted == kid else []


def test_signed_message_has_the_eu_dcc_shape(key: ec.EllipticCurvePrivateKey) -> None:
    signed = cbor2.loads(sign1(b"payload", key, KID))
    assert isinstance(signed, cbor2.CBORTag)
    assert signed.tag == 18
    protected, unprotected, payload, signature = signed.value
    assert cbor2.loads(protected) == {1: ES256, 4: KID}
    assert unprotected == {}
    assert payload == b"payload"
    assert len(signature) == 64  # raw r || s, not DER


def test_round_trip_and_determinism(key: ec.EllipticCurvePrivateKey) -> None:
    first = sign1(b"payload", key, KID)
    assert first == sign1(b"payload", key, KID)  # RFC 6979 nonces
    verified = verify_sign1(first, trusting(key.public_key()))  # type: ignore[arg-type]
    assert verified.payload == b"payload"
    assert verified.kid == KID
    assert verified.algorithm == ES256


@pytest.mark.cwt
def test_cwt_library_verifies_our_signature(key: ec.EllipticCurvePrivateKey) -> None:
    from cryptography.hazmat.primitives import serialization
    from cwt import COSE, COSEKey, VerifyError

    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public = COSEKey.from_pem(pem, alg="ES256", kid=KID)
    assert COSE.new().decode(sign1(b"payload", key, KID), public) == b"payload"
    tampered = bytearray(sign1(b"payload", key, KID))
    tampered[-1] ^= 1
    with pytest.raises(VerifyError):
        COSE.new().decode(bytes(tampered), public)


def test_tag_61_and_untagged_forms_are_accepted(key: ec.EllipticCurvePrivateKey) -> None:
    tagged = cbor2.loads(sign1(b"p", key, KID))
    for form in (cbor2.CBORTag(61, tagged), tagged.value, cbor2.CBORTag(61, tagged.value)):
        data = cbor2.dumps(form)
        assert verify_sign1(data, trusting(key.public_key())).payload == b"p"  # type: ignore[arg-type]


@pytest.mark.parametrize("form", ["tag 18", "tag 61 around tag 18", "untagged"])
def test_immutable_decoded_containers_are_accepted(
    key: ec.EllipticCurvePrivateKey, form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cbor2 6 decodes a tagged COSE_Sign1 as a tuple holding a frozendict: any sequence and
    any mapping must do, in every form a scanner meets."""
    tagged = cbor2.loads(sign1(b"p", key, KID))
    message = {
        "tag 18": tagged,
        "tag 61 around tag 18": cbor2.CBORTag(61, tagged),
        "untagged": tagged.value,
    }[form]
    data = cbor2.dumps(message)
    monkeypatch.setattr(cbor2, "loads", immutable_loads)
    parsed = parse_sign1(data)
    assert not isinstance(parsed.unprotected, dict)  # the stand-in really froze the headers
    assert verify_sign1(data, trusting(key.public_key())).payload == b"p"  # type: ignore[arg-type]


def test_immutable_unprotected_kid_and_claims_map(
    key: ec.EllipticCurvePrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, payload, signature = cbor2.loads(sign1(b"p", key, KID)).value
    bare = cbor2.dumps({1: ES256})
    untagged = cbor2.dumps([bare, {4: KID}, payload, signature])
    claims = cbor2.dumps(cbor2.CBORTag(61, {1: "IN", -260: {1: {"v": [{"dn": 1}]}}}))
    monkeypatch.setattr(cbor2, "loads", immutable_loads)
    assert parse_sign1(untagged).kid == KID
    decoded = cbor_map(claims, "the CWT")
    assert decoded[-260][1]["v"][0]["dn"] == 1
    with pytest.raises(VerificationError, match="not a CBOR map"):
        cbor_map(cbor2.dumps(("a", "b")), "the CWT")


def test_is_cbor_array_takes_any_sequence_but_strings() -> None:
    assert is_cbor_array([1])
    assert is_cbor_array((1,))
    assert not any(is_cbor_array(v) for v in ("ab", b"ab", bytearray(b"ab"), {1: 2}, 3))


def test_tampered_payload_or_signature_is_refused(key: ec.EllipticCurvePrivateKey) -> None:
    protected, unprotected, _, signature = cbor2.loads(sign1(b"p", key, KID)).value
    for message in (
        [protected, unprotected, b"q", signature],
        [protected, unprotected, b"p", signature[:-1] + bytes([signature[-1] ^ 1])],
    ):
        data = cbor2.dumps(cbor2.CBORTag(18, message))
        with pytest.raises(VerificationError, match="signature does not match") as raised:
            verify_sign1(data, trusting(key.public_key()))  # type: ignore[arg-type]
        assert type(raised.value) is VerificationError  # a mismatch, not malformed


def test_unknown_kid_and_other_key(key: ec.EllipticCurvePrivateKey) -> None:
    data = sign1(b"p", key, KID)
    with pytest.raises(UnknownKey):
        verify_sign1(data, lambda kid: [])
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(VerificationError, match="does not match"):
        verify_sign1(data, trusting(other))  # type: ignore[arg-type]


def test_protected_kid_wins_over_unprotected(key: ec.EllipticCurvePrivateKey) -> None:
    protected, _, payload, signature = cbor2.loads(sign1(b"p", key, KID)).value
    wrong = {4: b"\xff" * 8}
    message = parse_sign1(cbor2.dumps(cbor2.CBORTag(18, [protected, wrong, payload, signature])))
    assert message.kid == KID
    # Only when the protected header has no kid does the unprotected one count.
    bare = cbor2.dumps({1: ES256})
    message = parse_sign1(cbor2.dumps([bare, {4: KID}, payload, signature]))
    assert message.kid == KID


def test_ps256_verifies() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    protected = cbor2.dumps({1: PS256, 4: KID})
    to_sign = cbor2.dumps(["Signature1", protected, b"", b"p"])
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    signature = rsa_key.sign(to_sign, pss, hashes.SHA256())
    data = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, b"p", signature]))
    assert verify_sign1(data, trusting(rsa_key.public_key())).algorithm == PS256  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x5a\x00\x00", "not a CBOR"),
        (cbor2.dumps(cbor2.CBORTag(98, [])), "tag 98"),
        (cbor2.dumps([b"", {}, b""]), "four items"),
        (cbor2.dumps([b"\x01", {}, b"", b""]), "protected header"),
        (cbor2.dumps([cbor2.dumps([1]), {}, b"", b""]), "not a map"),
        (cbor2.dumps([cbor2.dumps({1: -7}), {}, b"", b""]), "no key id"),
    ],
)
def test_malformed_messages_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedCertificate, match=reason):
        verify_sign1(data, lambda kid: [])


def test_an_algorithm_we_do_not_implement_is_unsupported() -> None:
    """Well formed, and perhaps genuine: not malformed, and not a forgery either."""
    data = cbor2.dumps([cbor2.dumps({1: -8, 4: KID}), {}, b"", b""])
    with pytest.raises(UnsupportedFormat, match="algorithm"):
        verify_sign1(data, lambda kid: [])


def test_certificate_kid_is_first_eight_bytes_of_sha256() -> None:
    import hashlib

    assert certificate_kid(b"der") == hashlib.sha256(b"der").digest()[:8]
