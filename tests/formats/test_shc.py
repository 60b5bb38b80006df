"""SMART Health Cards: the spec's examples verify (00, 01) or fail as their README says (03:
expired and revoked); what we issue has the prescribed shape, verifies, and fits the QR."""

from __future__ import annotations

import json
import re
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import segno
from cryptography.hazmat.primitives.asymmetric import ec

from certdist.errors import InvalidInput, UnknownKey, VerificationError
from certdist.formats.qr_image import matrix_png
from certdist.formats.shc import (
    CARD_TYPES,
    RID_ENTRY,
    ShcIssuer,
    VerifiedShc,
    card_file,
    is_revoked,
    qr_matrix_of,
    qr_text,
    revocation_id,
    sign_card,
    verify_shc,
)
from certdist.signing.jose import b64url_decode, public_key_from_jwk, thumbprint
from certdist.signing.keys import KeyAlgorithm, KeyUse, PublicKey, SigningKey
from tests.support.environment import require
from tests.support.imaging import open_image, read_qr_codes
from tests.support.wallet_samples import (
    NOW,
    SHC_CODES,
    bundle,
    sample_revocation_id,
    shc_issuer,
)

EXAMPLE_ISSUER = "https://spec.smarthealth.cards/examples/issuer"


@pytest.fixture(scope="module")
def examples(testdata: Path) -> Path:
    directory = testdata / "shc" / "examples"
    require(directory.is_dir(), f"SMART Health Card examples not found in {directory}")
    return directory


@pytest.fixture(scope="module")
def example_keys(examples: Path) -> dict[str, PublicKey]:
    jwks = json.loads((examples / "issuer" / ".well-known" / "jwks.json").read_text())
    return {key["kid"]: public_key_from_jwk(key) for key in jwks["keys"]}


def trusting(issuer: str, keys: dict[str, PublicKey]) -> Any:
    return lambda iss, kid: [keys[kid]] if iss == issuer and kid in keys else []


def example_jws(examples: Path, number: str) -> str:
    return (examples / f"example-{number}-d-jws.txt").read_text().strip()


@pytest.mark.parametrize("number", ["00", "01"])
def test_valid_examples_verify(
    examples: Path, example_keys: dict[str, PublicKey], number: str
) -> None:
    verified = verify_shc(
        example_jws(examples, number), trusting(EXAMPLE_ISSUER, example_keys), NOW
    )
    expected = json.loads((examples / f"example-{number}-b-jws-payload-expanded.json").read_text())
    assert verified.payload == expected
    assert verified.issuer == EXAMPLE_ISSUER
    assert verified.fhir_bundle["resourceType"] == "Bundle"
    crl = json.loads(next((examples / "issuer" / ".well-known" / "crl").glob("*.json")).read_text())
    assert not is_revoked(verified, crl)
    # The example file and numeric QR text hold the same JWS.
    card = json.loads((examples / f"example-{number}-e-file.smart-health-card").read_text())
    assert card["verifiableCredential"] == [example_jws(examples, number)]
    numeric = (examples / f"example-{number}-f-qr-code-numeric-value-0.txt").read_text().strip()
    assert qr_text(example_jws(examples, number)) == numeric


def test_example_03_is_expired_and_revoked(
    examples: Path, example_keys: dict[str, PublicKey]
) -> None:
    jws = example_jws(examples, "03")
    keys = trusting(EXAMPLE_ISSUER, example_keys)
    with pytest.raises(VerificationError, match=r"^expiry: the card has expired"):
        verify_shc(jws, keys, NOW)
    issued = datetime(2023, 6, 22, 17, 0, tzinfo=UTC)  # between nbf and exp
    verified = verify_shc(jws, keys, issued)
    crl = json.loads(
        (examples / "issuer" / ".well-known" / "crl" / f"{verified.kid}.json").read_text()
    )
    assert is_revoked(verified, crl)


def test_examples_fail_with_another_issuer_or_a_tampered_payload(
    examples: Path, example_keys: dict[str, PublicKey]
) -> None:
    jws = example_jws(examples, "00")
    with pytest.raises(UnknownKey):
        verify_shc(jws, trusting("https://elsewhere.example", example_keys), NOW)
    header, payload, signature = jws.split(".")
    data = json.loads(zlib.decompress(b64url_decode(payload), -15))
    data["vc"]["credentialSubject"]["fhirBundle"]["entry"][1]["resource"]["lotNumber"] = "X"
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    import base64

    forged_payload = base64.urlsafe_b64encode(
        packer.compress(json.dumps(data).encode()) + packer.flush()
    ).rstrip(b"=")
    forged = f"{header}.{forged_payload.decode()}.{signature}"
    with pytest.raises(VerificationError, match=r"^signature:"):
        verify_shc(forged, trusting(EXAMPLE_ISSUER, example_keys), NOW)


def test_we_sign_like_the_example_issuer(testdata: Path, examples: Path) -> None:
    """Signing the example payload with the example key gives a card the examples' keys
    verify, with the header and kid the spec shows."""
    from jwcrypto import jwk

    private = json.loads(
        (testdata / "shc" / "issuer-private" / "issuer.jwks.private.json").read_text()
    )
    entry = next(
        k for k in private["keys"] if k["kid"] == "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s"
    )
    key = jwk.JWK(**entry).get_op_key("sign")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    signing = SigningKey("example", KeyUse.SHC, KeyAlgorithm.EC_P256, key, True, None)
    payload = json.loads((examples / "example-00-b-jws-payload-expanded.json").read_text())
    jws = sign_card(payload, signing)
    header = json.loads(b64url_decode(jws.split(".")[0]))
    assert header == {"zip": "DEF", "alg": "ES256", "kid": entry["kid"]}
    assert thumbprint(key.public_key()) == entry["kid"]
    minified = (examples / "example-00-c-jws-payload-minified.json").read_text().strip()
    assert zlib.decompress(b64url_decode(jws.split(".")[1]), -15).decode() == minified
    jwks = json.loads((examples / "issuer" / ".well-known" / "jwks.json").read_text())
    keys = {k["kid"]: public_key_from_jwk(k) for k in jwks["keys"]}
    assert verify_shc(jws, trusting(EXAMPLE_ISSUER, keys), NOW).payload == payload


# --- what we issue ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> ShcIssuer:
    return shc_issuer(tmp_path_factory.mktemp("keys"))


def ours(issuer: ShcIssuer) -> Any:
    return lambda iss, kid: (
        [issuer.key.public_key] if (iss, kid) == (issuer.issuer, issuer.kid) else []
    )


def test_bundle_follows_the_smart_rules(issuer: ShcIssuer) -> None:
    payload = issuer.payload(bundle(3, total=2))
    assert payload["iss"] == "https://certdist.test"
    assert payload["nbf"] == int(bundle(3).latest.created_at.timestamp())
    assert payload["vc"]["type"] == list(CARD_TYPES)
    fhir = payload["vc"]["credentialSubject"]["fhirBundle"]
    entries = fhir["entry"]
    assert [e["fullUrl"] for e in entries] == [f"resource:{i}" for i in range(4)]
    patient = entries[0]["resource"]
    assert patient == {
        "resourceType": "Patient",
        "name": [{"family": "Mitra", "given": ["Bhaya"]}],
        "birthDate": "1994-11-30",
    }
    doses = [e["resource"] for e in entries[1:]]
    assert [d["protocolApplied"][0]["doseNumberPositiveInt"] for d in doses] == [1, 2, 3]
    first = doses[0]
    assert first["patient"] == {"reference": "resource:0"}
    assert first["occurrenceDateTime"] == "2021-05-02"
    assert first["lotNumber"] == "4121Z025"
    assert first["performer"] == [{"actor": {"display": "ABC Medical Center"}}]
    assert first["protocolApplied"] == [{"doseNumberPositiveInt": 1, "seriesDosesPositiveInt": 2}]
    assert {c["code"] for c in first["vaccineCode"]["coding"]} == {"210", "XM9QW8"}
    text = json.dumps(fhir)
    for forbidden in ('"id"', '"text"', '"display": "COVID', '"meta"'):
        assert forbidden not in text


def test_card_verifies_is_deterministic_and_fits_version_22(issuer: ShcIssuer) -> None:
    jws = issuer.jws(bundle(3))
    assert jws == issuer.jws(bundle(3))
    verified = verify_shc(jws, ours(issuer), NOW)
    assert verified.kid == issuer.kid == thumbprint(issuer.key.public_key)  # type: ignore[arg-type]
    assert len(jws) <= 1195
    matrix = qr_matrix_of(jws)
    assert matrix.version <= 22
    assert matrix.ec == "L"
    [found] = read_qr_codes(open_image(matrix_png(matrix)))
    assert found.text == qr_text(jws)
    assert found.ec_level == "L"
    # Two segments: the numeric one makes the symbol far smaller than one byte segment.
    assert matrix.version < int(segno.make_qr(qr_text(jws), mode="byte", error="l").version)
    assert json.loads(card_file([jws])) == {"verifiableCredential": [jws]}


def test_tampered_card_and_wrong_issuer_fail(issuer: ShcIssuer) -> None:
    jws = issuer.jws(bundle(2))
    header, payload, signature = jws.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(VerificationError, match=r"^signature:"):
        verify_shc(f"{header}.{payload}.{flipped}", ours(issuer), NOW)
    with pytest.raises(UnknownKey):
        verify_shc(jws, lambda iss, kid: [], NOW)
    with pytest.raises(VerificationError, match="not valid yet"):
        verify_shc(jws, ours(issuer), bundle(2).latest.created_at - timedelta(hours=1))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a.b", "three parts"),
        ("!!.a.b", "base64url"),
        ("eyJhbGciOiJSUzI1NiJ9.YQ.YQ", "ES256"),
        ("eyJhbGciOiJFUzI1NiJ9.YQ.YQ", "compressed"),
    ],
)
def test_malformed_cards_say_why(text: str, reason: str) -> None:
    with pytest.raises(VerificationError, match=reason):
        verify_shc(text, lambda iss, kid: [], NOW)


def test_unmapped_vaccine_is_refused(issuer: ShcIssuer) -> None:
    with pytest.raises(InvalidInput, match="no SMART Health Card codes"):
        issuer.payload(bundle(1, vaccine="CoVax"))


# --- revocation ---------------------------------------------------------------------------------


def test_cards_carry_the_rid_of_their_latest_certificate(issuer: ShcIssuer) -> None:
    card = bundle(3)
    rid = sample_revocation_id(card.latest.certificate_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]{11}", rid)  # 64 bits, base64url
    assert issuer.payload(card)["vc"]["rid"] == rid
    verified = verify_shc(issuer.jws(card), ours(issuer), NOW)
    assert verified.rid == rid
    crl = {"kid": issuer.kid, "method": "rid", "ctr": 2, "rids": [rid]}
    assert is_revoked(verified, crl)
    assert not is_revoked(verified, {**crl, "rids": [sample_revocation_id("another")]})
    assert not is_revoked(verified, {**crl, "kid": "another key"})


def test_the_rid_secret_is_part_of_the_version(issuer: ShcIssuer) -> None:
    """Another secret gives other rids, so cached cards (ETag = version + ids) must go."""
    other = ShcIssuer(
        issuer.issuer,
        issuer.key,
        SHC_CODES,
        revocation_id=lambda certificate_id: sample_revocation_id(certificate_id, b"t" * 32),
    )
    assert other.version != issuer.version
    assert other.version.startswith("shc-2/")
    assert other.payload(bundle(1))["vc"]["rid"] != issuer.payload(bundle(1))["vc"]["rid"]


def test_a_rid_needs_64_bits_of_keyed_hash() -> None:
    assert revocation_id(bytes(range(32))) == revocation_id(bytes(range(8)))
    with pytest.raises(ValueError, match="at least 8 bytes"):
        revocation_id(b"short")


def card_with(rid: str, issued_at: datetime | None) -> VerifiedShc:
    return VerifiedShc(
        payload={}, issuer="https://x", kid="k", issued_at=issued_at, expires_at=None, rid=rid
    )


def test_a_timestamped_rid_revokes_only_cards_issued_before_it() -> None:
    """The specification's rule: ``rid.<time>`` revokes cards whose ``nbf`` is before it."""
    moment = datetime(2021, 11, 15, 12, 0, tzinfo=UTC)
    crl = {
        "kid": "k",
        "method": "rid",
        "ctr": 1,
        "rids": [f"lHKzqFUMjhs.{int(moment.timestamp())}"],
    }
    assert is_revoked(card_with("lHKzqFUMjhs", moment - timedelta(seconds=1)), crl)
    assert not is_revoked(card_with("lHKzqFUMjhs", moment), crl)
    assert not is_revoked(card_with("lHKzqFUMjhs", moment + timedelta(days=1)), crl)
    # Without nbf the card cannot show it came later.
    assert is_revoked(card_with("lHKzqFUMjhs", None), crl)
    assert not is_revoked(card_with("AQPCj4wwk6Mt", moment - timedelta(days=1)), crl)


@pytest.mark.parametrize(
    "entry", ["lHKzqFUMjhs.", "lHKzqFUMjhs.12x", "lHKzqFUMjhs .1", "lHKzqFUMjhs=", "a" * 25]
)
def test_entries_of_another_form_name_no_card(entry: str) -> None:
    crl = {"kid": "k", "method": "rid", "ctr": 1, "rids": [entry]}
    assert not is_revoked(card_with(entry.split(".")[0], None), crl)


def test_the_rid_grammar_holds_for_the_specification_example_and_ours(examples: Path) -> None:
    crl = json.loads(next((examples / "issuer" / ".well-known" / "crl").glob("*.json")).read_text())
    assert crl["rids"]
    assert all(RID_ENTRY.fullmatch(entry) for entry in crl["rids"])
    ours = sample_revocation_id("1001")
    assert RID_ENTRY.fullmatch(ours)
    assert len(ours) <= 24
