"""IETF Token Status List: the specification's byte order and encodings (tests/vectors/
token-status-list), and the Status List Token we sign and read back."""

from __future__ import annotations

import json
import re
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certdist.errors import MalformedCertificate, UnknownKey, VerificationError
from certdist.formats import token_status_list as tsl
from certdist.formats.sd_jwt_vc import decode_jws, sign_jwt
from certdist.signing.jose import b64url, thumbprint
from certdist.signing.keys import PublicKey

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
URI = "https://certs.example.org/trust/token-status/1"
ISSUER = "https://certs.example.org"


def example(testdata: Path, name: str) -> tuple[dict[str, Any], str]:
    """A draft example file: its JSON object (``lst`` unwrapped) and the text before it."""
    text = (testdata / "token-status-list" / name).read_text(encoding="utf-8")
    head, _, body = text.partition("{")
    document = json.loads(re.sub(r"\s+", "", "{" + body))
    return document, head


def test_the_specifications_16_entry_example_bit_order(testdata: Path) -> None:
    excerpt = (testdata / "token-status-list" / "byte-array-1-bit.md").read_text()
    statuses = {int(i): int(v, 2) for i, v in re.findall(r"status\[(\d+)\] = 0b([01]+)", excerpt)}
    assert len(statuses) == 16
    document, head = example(testdata, "status_list_encoding_json.md")
    expected_bytes = bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", head))
    built = tsl.TokenStatusList.of([i for i, v in statuses.items() if v], size=16)
    assert built.raw() == expected_bytes == b"\xb9\xa3"  # index 0 is the LEAST significant bit
    decoded = tsl.TokenStatusList.decode(document)
    assert [decoded.get(i) for i in range(16)] == [statuses[i] for i in range(16)]
    # The draft's compressed bytes: our ZLIB at level 9 makes exactly the same stream.
    hex_stream = re.search(r"compressed array \(hex\): ([0-9a-f]+)", excerpt)
    assert hex_stream is not None
    assert bytes.fromhex(hex_stream[1]) == zlib.compress(expected_bytes, 9)
    assert built.as_claim() == document


def test_the_two_bit_example_reads(testdata: Path) -> None:
    document, head = example(testdata, "status_list_encoding2_json.md")
    decoded = tsl.TokenStatusList.decode(document)
    assert decoded.raw() == bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", head))
    assert [decoded.get(i) for i in range(12)] == [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]


def test_the_appendix_vector_of_2_to_the_20_entries(testdata: Path) -> None:
    excerpt = (testdata / "token-status-list" / "test-vectors-1-bit.md").read_text()
    invalid = [int(i) for i in re.findall(r"status\[(\d+)\] = 0b1", excerpt)]
    assert len(invalid) == 11
    document, _ = example(testdata, "status_list_encoding1_long_json.md")
    decoded = tsl.TokenStatusList.decode(document)
    assert decoded.size == 2**20
    assert [i for i in range(2**20) if decoded.get(i)] == invalid
    assert tsl.TokenStatusList.of(invalid, 2**20).raw() == decoded.raw()


def test_round_trip_and_setting_back() -> None:
    statuses = tsl.TokenStatusList.of([3, 9, 131_071], 2**17)
    again = tsl.TokenStatusList.decode(statuses.as_claim())
    assert again.raw() == statuses.raw()
    assert [i for i in range(again.size) if again.get(i)] == [3, 9, 131_071]
    again.set(9, tsl.VALID)
    assert (again.get(9), again.get(3)) == (0, 1)
    with pytest.raises(ValueError, match="does not fit"):
        again.set(1, tsl.SUSPENDED)
    with pytest.raises(IndexError):
        again.get(2**17)


@pytest.mark.parametrize(
    ("claim", "problem"),
    [
        ("nope", "not an object"),
        ({"bits": 3, "lst": "eNrbuRgAAhcBXQ"}, "bits"),
        ({"bits": True, "lst": "eNrbuRgAAhcBXQ"}, "bits"),
        ({"bits": 1}, "lst is missing"),
        ({"bits": 1, "lst": "e+N"}, "not base64url"),
        ({"bits": 1, "lst": b64url(b"not zlib")}, "not ZLIB"),
        ({"bits": 1, "lst": b64url(zlib.compress(b""))}, "empty"),
        ({"bits": 1, "lst": b64url(zlib.compress(bytes(tsl.MAX_BYTES + 1)))}, "longer than"),
    ],
)
def test_malformed_lists_are_refused(claim: Any, problem: str) -> None:
    with pytest.raises(MalformedCertificate, match=problem):
        tsl.TokenStatusList.decode(claim)


# --- the token -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def token_of(key: ec.EllipticCurvePrivateKey, invalid: tuple[int, ...] = ()) -> str:
    return tsl.status_list_token(
        URI,
        tsl.TokenStatusList.of(invalid, 2**17),
        key,
        issuer=ISSUER,
        issued_at=NOW,
        expires_at=NOW + timedelta(days=1),
        ttl_seconds=300,
    )


def read(token: str, key: ec.EllipticCurvePrivateKey, **options: Any) -> tsl.VerifiedStatusList:
    kid = thumbprint(key.public_key())

    def keys_for(asked: str) -> list[PublicKey]:
        return [key.public_key()] if asked == kid else []

    arguments: dict[str, Any] = {"uri": URI, "keys_for": keys_for, "issuer": ISSUER, "now": NOW}
    return tsl.read_status_list_token(token, **{**arguments, **options})


def test_the_token_has_the_specifications_header_and_claims(
    key: ec.EllipticCurvePrivateKey,
) -> None:
    header, claims, _, _ = decode_jws(token_of(key, (42,)), "token")
    assert header == {"typ": "statuslist+jwt", "alg": "ES256", "kid": thumbprint(key.public_key())}
    assert claims["sub"] == URI
    assert claims["iss"] == ISSUER
    assert claims["iat"] == int(NOW.timestamp())
    assert claims["exp"] == int((NOW + timedelta(days=1)).timestamp())
    assert claims["ttl"] == 300
    assert claims["status_list"]["bits"] == 1
    verified = read(token_of(key, (42,)), key)
    assert (verified.status_of(42), verified.status_of(41)) == (tsl.INVALID, tsl.VALID)
    assert verified.ttl_seconds == 300
    with pytest.raises(MalformedCertificate, match="outside the list"):
        verified.status_of(2**17)


def resigned(key: ec.EllipticCurvePrivateKey, token: str, **changes: Any) -> str:
    header, claims, _, _ = decode_jws(token, "token")
    header = {**header, **changes.pop("header", {})}
    claims = {k: v for k, v in {**claims, **changes}.items() if v is not None}
    return sign_jwt(header, claims, key)


def test_a_token_that_does_not_hold_is_refused(key: ec.EllipticCurvePrivateKey) -> None:
    token = token_of(key)
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(VerificationError, match="sub"):
        read(token, key, uri=URI.replace("/1", "/2"))
    with pytest.raises(VerificationError, match="expired"):
        read(token, key, now=NOW + timedelta(days=1))
    with pytest.raises(UnknownKey):
        read(token, other)  # signed by a key not trusted for the issuer
    forged = resigned(other, token, header={"kid": thumbprint(key.public_key())})
    with pytest.raises(VerificationError, match="signature"):
        read(forged, key)
    with pytest.raises(MalformedCertificate, match="type"):
        read(resigned(key, token, header={"typ": "JWT"}), key)
    with pytest.raises(VerificationError, match="issuer"):
        read(resigned(key, token, iss="https://elsewhere.example"), key)
    with pytest.raises(MalformedCertificate, match="iat"):
        read(resigned(key, token, iat=None), key)
    with pytest.raises(MalformedCertificate, match="ttl"):
        read(resigned(key, token, ttl=-5), key)
    with pytest.raises(MalformedCertificate, match="three parts"):
        read("not.a-token", key)


def test_the_credentials_reference() -> None:
    assert tsl.reference_of({"status": {"status_list": {"uri": URI, "idx": 7}}}) == (URI, 7)
    assert tsl.reference_of({"iss": ISSUER}) is None
    assert tsl.reference_of({"status": {"other_mechanism": {}}}) is None
    for bad in ({"uri": URI, "idx": -1}, {"uri": URI, "idx": True}, {"idx": 1}, "x"):
        with pytest.raises(MalformedCertificate):
            tsl.reference_of({"status": {"status_list": bad}})
