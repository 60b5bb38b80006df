"""EU DCC issuing: a schema-valid payload with value-set codes, the HC1 chain, names, QR."""

from __future__ import annotations

import json
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import cbor2
import jsonschema
import pytest
import segno

from certdist.errors import InvalidInput, SignerExpired, UnknownKey, VerificationError
from certdist.formats.base45 import b45decode
from certdist.formats.eu_dcc import (
    DccIssuer,
    DccNames,
    build_payload,
    hc1_matrix,
    names_from_full_name,
    names_from_request,
    uvci,
    verify_hc1,
)
from certdist.formats.qr_image import matrix_png
from tests.support.imaging import open_image, read_qr_codes
from tests.support.immutable_cbor import immutable_loads
from tests.support.wallet_samples import (
    DCC_NAMES,
    NOW,
    PROFILE,
    bundle,
    dcc_issuer,
    document_signer_valid,
    tampered_variants,
    value_set,
)


def test_payload_is_schema_valid_with_official_codes(
    schema: jsonschema.protocols.Validator, testdata: Path
) -> None:
    payload = build_payload(bundle(2), DCC_NAMES, PROFILE)
    errors = [e.message for e in schema.iter_errors(payload)]
    assert errors == []
    [entry] = payload["v"]
    assert entry["vp"] in value_set(testdata, "vaccine-prophylaxis")
    assert entry["mp"] in value_set(testdata, "vaccine-medicinal-product")
    assert entry["ma"] in value_set(testdata, "vaccine-mah-manf")
    assert entry["tg"] in value_set(testdata, "disease-agent-targeted")
    assert entry["co"] in value_set(testdata, "country-2-codes")
    assert entry["vp"] != "J07BX03"  # deprecated code DIVOC used
    assert (entry["dn"], entry["sd"], entry["dt"]) == (2, 2, "2021-06-02")
    assert entry["ci"] == "URN:UVCI:01:IN:100000002"
    assert payload["dob"] == "1994-11-30"
    assert payload["nam"] == {"fn": "Mitra", "fnt": "MITRA", "gn": "Bhaya", "gnt": "BHAYA"}


def test_booster_is_written_n_of_n(schema: jsonschema.protocols.Validator) -> None:
    payload = build_payload(bundle(3, total=2), DCC_NAMES, PROFILE)
    assert (payload["v"][0]["dn"], payload["v"][0]["sd"]) == (3, 3)
    assert schema.is_valid(payload)


def test_unknown_dob_is_the_empty_string(schema: jsonschema.protocols.Validator) -> None:
    payload = build_payload(bundle(1, dob=None), DCC_NAMES, PROFILE)
    assert payload["dob"] == ""
    assert schema.is_valid(payload)


def test_unmapped_vaccine_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no EU DCC codes configured"):
        build_payload(bundle(1, vaccine="CoVax"), DCC_NAMES, PROFILE)


def test_hc1_chain_decodes_step_by_step(tmp_path: Path) -> None:
    issuer = dcc_issuer(tmp_path)
    text = issuer.hc1(bundle(2), DCC_NAMES)
    assert text.startswith("HC1:")
    cose = zlib.decompress(b45decode(text[4:]))
    message = cbor2.loads(cose)
    assert message.tag == 18
    protected = cbor2.loads(message.value[0])
    assert protected == {1: -7, 4: issuer.signer.kid}
    claims = cbor2.loads(message.value[2])
    issued = int(issuer.issued_at().timestamp())
    assert claims[1] == "IN"
    assert claims[6] == issued
    assert claims[4] == issued + 365 * 86400
    assert claims[-260][1] == build_payload(bundle(2), DCC_NAMES, PROFILE)


def test_verify_hc1_accepts_ours_and_reports_expiry(tmp_path: Path) -> None:
    issuer = dcc_issuer(tmp_path)
    text = issuer.hc1(bundle(2), DCC_NAMES)
    keys = lambda kid: [issuer.signer.public_key] if kid == issuer.signer.kid else []  # noqa: E731
    verified = verify_hc1(text, keys, NOW)
    assert verified.payload["v"][0]["ci"] == uvci("IN", "100000002")
    assert verified.issuer == "IN"
    assert verified.kid == issuer.signer.kid
    with pytest.raises(VerificationError, match=r"^expiry: .*expired"):
        verify_hc1(text, keys, NOW + timedelta(days=366))
    with pytest.raises(VerificationError, match=r"^expiry: .*not valid yet"):
        verify_hc1(text, keys, NOW - timedelta(days=2))
    with pytest.raises(UnknownKey):
        verify_hc1(text, lambda kid: [], NOW)


def test_verify_hc1_takes_immutable_decoded_cbor_and_gives_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a decoder that hands out tuples and read-only maps (cbor2 6 inside tags), the
    HC1 still verifies and its payload comes back as plain JSON data (dicts, lists)."""
    issuer = dcc_issuer(tmp_path)
    text = issuer.hc1(bundle(2), DCC_NAMES)
    keys = lambda kid: [issuer.signer.public_key] if kid == issuer.signer.kid else []  # noqa: E731
    expected = verify_hc1(text, keys, NOW).payload
    monkeypatch.setattr(cbor2, "loads", immutable_loads)
    verified = verify_hc1(text, keys, NOW)
    assert verified.payload == expected
    assert type(verified.payload) is dict
    assert type(verified.payload["v"]) is list
    assert type(verified.payload["nam"]) is dict
    assert json.loads(json.dumps(verified.payload)) == expected


def test_tampered_copies_fail_at_the_right_step(tmp_path: Path) -> None:
    issuer = dcc_issuer(tmp_path)
    text = issuer.hc1(bundle(2), DCC_NAMES)
    keys = lambda kid: [issuer.signer.public_key] if kid == issuer.signer.kid else []  # noqa: E731
    for step, forged in tampered_variants(text).items():
        with pytest.raises(VerificationError, match=rf"^{step}:"):
            verify_hc1(forged, keys, NOW)


@pytest.mark.cwt
def test_cwt_library_reads_our_hc1(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cwt import COSE, COSEKey, VerifyError

    issuer = dcc_issuer(tmp_path)
    text = issuer.hc1(bundle(2), DCC_NAMES)
    pem = issuer.signer.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = COSEKey.from_pem(pem, alg="ES256", kid=issuer.signer.kid)
    cose = zlib.decompress(b45decode(text[4:]))
    claims: dict[Any, Any] = cbor2.loads(COSE.new().decode(cose, key))
    assert claims[-260][1]["nam"]["fnt"] == "MITRA"
    forged = zlib.decompress(b45decode(tampered_variants(text)["signature"][4:]))
    with pytest.raises(VerifyError):
        COSE.new().decode(forged, key)


def test_same_day_same_bytes_next_day_new_issue_time(tmp_path: Path) -> None:
    today = dcc_issuer(tmp_path, NOW)
    later_today = dcc_issuer(tmp_path, NOW + timedelta(hours=5))
    tomorrow = dcc_issuer(tmp_path, NOW + timedelta(days=1))
    assert today.hc1(bundle(2), DCC_NAMES) == later_today.hc1(bundle(2), DCC_NAMES)
    assert today.version == later_today.version
    assert today.hc1(bundle(2), DCC_NAMES) != tomorrow.hc1(bundle(2), DCC_NAMES)
    assert today.version != tomorrow.version


def test_qr_is_alphanumeric_level_q_and_scans_back(tmp_path: Path) -> None:
    text = dcc_issuer(tmp_path).hc1(bundle(2), DCC_NAMES)
    matrix = hc1_matrix(text)
    [found] = read_qr_codes(open_image(matrix_png(matrix)))
    assert found.text == text
    assert found.ec_level == "Q"
    # Alphanumeric mode: 5.5 bits a character; byte mode would need a larger symbol.
    byte_mode = segno.make_qr(text, mode="byte", error="q", boost_error=False)
    assert matrix.version < int(byte_mode.version)


# --- names -------------------------------------------------------------------------------------


def test_names_from_request_are_validated() -> None:
    names = names_from_request({"fn": "d'Červenková", "fnt": "DCERVENKOVA", "gn": "", "gnt": ""})
    assert names.as_payload() == {"fn": "d'Červenková", "fnt": "DCERVENKOVA"}
    with pytest.raises(InvalidInput) as caught:
        names_from_request({"fn": "Mitra", "fnt": "Mitra", "gn": "x" * 81, "gnt": 5})
    fields = {(e.location, e.message.split(":")[0]) for e in caught.value.errors}
    assert ("fnt", "must be the ICAO 9303 transliteration") in fields
    assert ("gn", "must be at most 80 characters") in fields
    assert ("gnt", "must be a string") in fields
    with pytest.raises(InvalidInput, match="invalid") as caught:
        names_from_request({})
    assert caught.value.errors[0].location == "fnt"
    with pytest.raises(InvalidInput) as caught:
        names_from_request({"fn": "Mitra", "gnt": "BHAYA"})
    assert caught.value.errors[0].message == "is required when fn is given"


def test_names_derived_from_a_latin_name() -> None:
    assert names_from_full_name("Anna-Lena  Müller Lüdenscheidt") == DccNames(
        fnt="LUEDENSCHEIDT", gnt="ANNA<LENA<MUELLER", fn="Lüdenscheidt", gn="Anna-Lena Müller"
    )
    assert names_from_full_name("Madonna") == DccNames(fnt="MADONNA", fn="Madonna")
    with pytest.raises(InvalidInput, match="send fn, fnt, gn and gnt"):
        names_from_full_name("प्रिया शर्मा")


def test_uvci_keeps_only_allowed_characters() -> None:
    assert uvci("IN", "abc-123/4") == "URN:UVCI:01:IN:ABC1234"
    with pytest.raises(InvalidInput):
        uvci("IN", "---")


def test_an_expired_or_future_dsc_signs_nothing() -> None:
    day = timedelta(days=1)
    for start, end in ((NOW - 400 * day, NOW - day), (NOW + day / 24, NOW + 400 * day)):
        issuer = DccIssuer(PROFILE, document_signer_valid(start, end), lambda: NOW)
        with pytest.raises(SignerExpired, match="renewed"):
            issuer.hc1(bundle(2), DCC_NAMES)


def test_a_dcc_lies_within_its_dsc_validity() -> None:
    """On the DSC's first day the DCC is issued at the DSC's start, not at midnight before it;
    near the DSC's end the DCC expires with it."""
    starts, ends = NOW - timedelta(hours=2), NOW + timedelta(days=10)  # NOW is 09:30 UTC
    signer = document_signer_valid(starts, ends)
    text = DccIssuer(PROFILE, signer, lambda: NOW).hc1(bundle(2), DCC_NAMES)
    verified = verify_hc1(text, lambda kid: [signer.public_key], NOW)
    # Certificate times are whole seconds, as CWT times are.
    assert (verified.issued_at, verified.expires_at) == (starts, ends)
