"""EU DCC: the conformance vectors agree with EXPECTEDRESULTS, configured DSCs, and our own
HC1 revoked with its certificate."""

from __future__ import annotations

import base64
import dataclasses
import json
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography import x509

from certdist.config import VerifierSettings
from certdist.errors import InvalidInput
from certdist.formats import eu_dcc as dcc_format
from certdist.formats.base45 import b45encode
from certdist.formats.eu_dcc import PREFIX, DccNames, VerifiedDcc, build_payload, encode_hc1
from certdist.services.common.clock import FixedClock
from certdist.services.verification import FormatCheckers, Status, Verifier, check_hc1, check_shc
from certdist.services.verification.eu_dcc import dcc_vaccine
from certdist.signing.contexts import ContextLoader
from certdist.signing.cose import sign1
from certdist.signing.dsc import DocumentSigner
from certdist.signing.trust import TrustStore
from certdist.storage.database import Database
from certdist.wiring import Services
from tests.support import wallet_samples
from tests.support.environment import VECTORS
from tests.support.immutable_cbor import frozen, immutable_loads
from tests.support.issuing import issue_signed
from tests.support.services import ServicesFactory


def dcc_vectors() -> list[str]:
    return sorted(p.stem for p in (VECTORS / "eu-dcc" / "vectors").glob("*.json"))


#: Which EXPECTEDRESULTS step a failed outcome's reason names (the format's step prefixes).
STEP_OF_REASON = {
    "EXPECTEDB45DECODE": ("base45:",),
    "EXPECTEDCOMPRESSION": ("zlib:",),
    "EXPECTEDDECODE": ("cose:", "cwt:"),
    "EXPECTEDVERIFY": ("signature:", "cose:"),
    "EXPECTEDEXPIRATIONCHECK": ("expiry:",),
    "EXPECTEDSCHEMAVALIDATION": ("schema:",),
    "EXPECTEDKEYUSAGE": ("key usage:",),
}


@pytest.fixture(scope="module")
def dcc_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path_factory.mktemp('dcc') / 'certdist.db'}"
    with Database(url, deadline_seconds=10) as database:
        database.migrate()
        yield database


def dcc_verifier(signers: list[x509.Certificate], database: Database, now: datetime) -> Verifier:
    """A verifier that trusts only these DSCs, at a fixed time."""
    return Verifier(
        TrustStore(document_signers=signers),
        database.certificates(),
        FixedClock(now),
        ContextLoader(),
        FormatCheckers(hc1=check_hc1, shc=check_shc),
    )


@pytest.mark.parametrize("name", dcc_vectors())
def test_eu_dcc_vectors_agree_with_expected_results(
    name: str, testdata: Path, dcc_database: Database
) -> None:
    vector = json.loads((testdata / "eu-dcc" / "vectors" / f"{name}.json").read_text())
    context, expected = vector["TESTCTX"], vector["EXPECTEDRESULTS"]
    signers = []
    if context.get("CERTIFICATE"):
        signers = [x509.load_der_x509_certificate(base64.b64decode(context["CERTIFICATE"]))]
    clock = datetime.fromisoformat(context["VALIDATIONCLOCK"].replace("Z", "+00:00"))
    verifier = dcc_verifier(signers, dcc_database, clock)
    failing = [step for step, result in expected.items() if result is False]

    if expected.get("EXPECTEDUNPREFIX") is False:
        with pytest.raises(InvalidInput):
            verifier.check(vector["PREFIX"])
    elif failing and failing != ["EXPECTEDPICTUREDECODE"]:
        outcome = verifier.check(vector["PREFIX"])
        assert outcome.status is Status.INVALID, outcome
        prefixes = tuple(p for step in failing for p in STEP_OF_REASON[step])
        assert outcome.reason.startswith(prefixes), outcome.reason
    elif expected.get("EXPECTEDVERIFY") or expected.get("EXPECTEDEXPIRATIONCHECK"):
        outcome = verifier.check(vector["PREFIX"])
        assert outcome.status is Status.VALID, outcome
        assert outcome.certificate is not None
        assert outcome.certificate.format == "eu-dcc"
    else:
        # Only decoding steps are specified: whatever the outcome, these steps passed.
        outcome = verifier.check(vector["PREFIX"])
        passed = tuple(p for step in expected for p in STEP_OF_REASON.get(step, ()))
        assert outcome.status is Status.VALID or not outcome.reason.startswith(passed)

    if "2DCODE" in vector and "EXPECTEDPICTUREDECODE" in expected:
        image = base64.b64decode(vector["2DCODE"])
        if expected["EXPECTEDPICTUREDECODE"]:
            assert verifier.check(image) == verifier.check(vector["PREFIX"])
        else:
            with pytest.raises(InvalidInput):
                verifier.check(image)


def test_a_dsc_configured_in_the_settings(
    make_services: ServicesFactory, testdata: Path, tmp_path: Path
) -> None:
    vector = json.loads((testdata / "eu-dcc" / "vectors" / "SE-1.json").read_text())
    dsc = tmp_path / "se-dsc.der"
    dsc.write_bytes(base64.b64decode(vector["TESTCTX"]["CERTIFICATE"]))
    clock = FixedClock(
        datetime.fromisoformat(vector["TESTCTX"]["VALIDATIONCLOCK"].replace("Z", "+00:00"))
    )
    services = make_services(verifier=VerifierSettings(dsc_certificates=[dsc]), clock=clock)
    view = services.verifier.verify(vector["PREFIX"])
    assert (view.format, view.kind) == ("eu-dcc", "vaccination")
    assert view.date_of_birth
    assert view.name
    assert view.vaccine
    assert view.dose


def test_our_own_eu_dcc_verifies_and_is_revoked_with_the_certificate(services: Services) -> None:
    issue_signed(services)
    hc1 = services.distribution.wallet.issuers.dcc.hc1(
        services.distribution.certificates.bundle("BEN0001")
    )
    view = services.verifier.verify(hc1)
    assert (view.format, view.name, view.dose, view.total_doses) == ("eu-dcc", "Bhaya Mitra", 1, 2)
    assert view.vaccine == "Covishield (ChAdOx1 nCoV-19, Serum Institute of India)"
    services.issuance.certificates.revoke("BEN0001", None, reason="issued in error")
    assert services.verifier.check(hc1).status is Status.REVOKED


def signed_dcc(dcc_database: Database) -> tuple[str, Verifier]:
    """A vaccination HC1 and a verifier that trusts its DSC (no PDF fonts needed)."""
    signer = wallet_samples.document_signer_valid(
        datetime(2022, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)
    )
    payload = build_payload(
        wallet_samples.bundle(), DccNames(fnt="MITRA", gnt="BHAYA"), wallet_samples.PROFILE
    )
    signed_at = datetime(2022, 6, 1, tzinfo=UTC)
    hc1 = encode_hc1(payload, signer, issuer="IN", issued_at=signed_at, validity=timedelta(days=9))
    return hc1, dcc_verifier([signer.certificate], dcc_database, signed_at + timedelta(days=1))


def test_a_dcc_verifies_with_immutable_decoded_cbor(
    dcc_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``certdist verify`` answers under cbor2 6, which decodes the tagged COSE_Sign1 into
    a tuple and frozendicts: valid, not "must be an array of four items"."""
    hc1, verifier = signed_dcc(dcc_database)
    monkeypatch.setattr(cbor2, "loads", immutable_loads)
    outcome = verifier.check(hc1)
    assert outcome.status is Status.VALID, outcome
    assert outcome.certificate is not None
    assert (outcome.certificate.kind, outcome.certificate.name) == ("vaccination", "BHAYA MITRA")


def test_the_eu_rules_take_any_sequence_and_mapping(
    dcc_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The payload's structure is checked by shape: entries in a tuple, maps read-only."""
    hc1, verifier = signed_dcc(dcc_database)
    real = dcc_format.verify_hc1

    def frozen_payload(*args: Any, **kwargs: Any) -> VerifiedDcc:
        verified = real(*args, **kwargs)
        return dataclasses.replace(verified, payload=frozen(verified.payload))

    monkeypatch.setattr(dcc_format, "verify_hc1", frozen_payload)
    outcome = verifier.check(hc1)
    assert outcome.status is Status.VALID, outcome
    assert outcome.certificate is not None
    assert outcome.certificate.kind == "vaccination"
    assert outcome.certificate.dose is not None


@pytest.mark.parametrize(
    ("signed_at", "status", "reason"),
    [
        (datetime(2022, 6, 1, tzinfo=UTC), Status.VALID, "signature, expiry"),
        (datetime(2023, 6, 1, tzinfo=UTC), Status.INVALID, "signer validity:"),
        (datetime(2021, 6, 1, tzinfo=UTC), Status.INVALID, "signer validity:"),
    ],
)
def test_a_dcc_signed_outside_its_dsc_validity_is_invalid(
    signed_at: datetime, status: Status, reason: str, dcc_database: Database
) -> None:
    """The DSC must have been valid when it signed; the check uses the CWT's iat, so a
    certificate signed in time stays valid after its DSC expires."""
    signer = wallet_samples.document_signer_valid(
        datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC)
    )
    payload = build_payload(
        wallet_samples.bundle(), DccNames(fnt="MITRA", gnt="BHAYA"), wallet_samples.PROFILE
    )
    hc1 = encode_hc1(
        payload, signer, issuer="SE", issued_at=signed_at, validity=timedelta(days=365 * 3)
    )
    verifier = dcc_verifier([signer.certificate], dcc_database, datetime(2023, 9, 1, tzinfo=UTC))
    outcome = verifier.check(hc1)
    assert (outcome.status, outcome.reason.startswith(reason)) == (status, True), outcome


@pytest.mark.parametrize(
    ("test_type", "shown"),
    [("RAT", "Rapid antigen test"), ("RT-PCR", None)],
)
def test_a_lab_test_dcc_shows_what_was_tested(
    test_type: str, shown: str | None, dcc_database: Database
) -> None:
    """A rapid test's entry has no name (``nm``), so its type code is shown in words."""
    signer = wallet_samples.document_signer_valid(
        datetime(2022, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)
    )
    lab = wallet_samples.lab_bundle(testType=test_type)
    payload = build_payload(lab, DccNames(fnt="MITRA"), wallet_samples.PROFILE)
    signed_at = datetime(2022, 6, 1, tzinfo=UTC)
    hc1 = encode_hc1(payload, signer, issuer="IN", issued_at=signed_at, validity=timedelta(days=3))
    verifier = dcc_verifier([signer.certificate], dcc_database, signed_at + timedelta(days=1))
    outcome = verifier.check(hc1)
    assert outcome.status is Status.VALID, outcome
    assert outcome.certificate is not None
    assert outcome.certificate.kind == "test"
    assert outcome.certificate.test == (shown or payload["t"][0]["nm"])
    assert outcome.certificate.test != payload["t"][0]["tt"]


@pytest.mark.parametrize(
    ("entry", "shown"),
    [
        ({"mp": "EU/1/20/1528", "vp": "1119349007"}, "Comirnaty (Pfizer-BioNTech)"),
        (
            {"mp": "NewVax", "vp": "1119349007"},
            "SARS-CoV-2 mRNA vaccine (EU vaccine-medicinal-product NewVax)",
        ),
        ({"mp": "NewVax", "vp": "0"}, "EU vaccine-medicinal-product NewVax"),
        ({}, None),
    ],
)
def test_the_vaccine_is_named_in_words(entry: dict[str, str], shown: str | None) -> None:
    assert dcc_vaccine(entry) == shown


# --- malformed, signature, not yet valid ---------------------------------------------------


def _signed_claims(signer: DocumentSigner, claims: dict[int, Any]) -> str:
    """An HC1 of exactly these CWT claims, properly signed by ``signer``."""
    assert signer.private_key is not None
    signed = sign1(cbor2.dumps(claims), signer.private_key, signer.kid)
    return PREFIX + b45encode(zlib.compress(signed))


def _dcc_claims(at: datetime, **extra: Any) -> dict[int, Any]:
    payload = build_payload(
        wallet_samples.bundle(), DccNames(fnt="MITRA", gnt="BHAYA"), wallet_samples.PROFILE
    )
    claims: dict[int, Any] = {1: "IN", 6: int(at.timestamp()), 4: int(at.timestamp()) + 10**7}
    claims[-260] = {1: {**payload, **extra}}
    return claims


_NOW = datetime(2022, 6, 2, tzinfo=UTC)
_SIGNER = wallet_samples.document_signer_valid(
    datetime(2022, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)
)


@pytest.mark.parametrize(
    "variant",
    ["garbage", "base45", "zlib", "not cose", "no kid", "no health certificate"],
)
def test_an_hc1_that_cannot_be_decoded_is_malformed(variant: str, dcc_database: Database) -> None:
    good = _signed_claims(_SIGNER, _dcc_claims(_NOW))
    variants = {
        **wallet_samples.tampered_variants(good),
        "garbage": "HC1:garbage",
        "not cose": PREFIX + b45encode(zlib.compress(cbor2.dumps({"a": 1}))),
        "no kid": PREFIX
        + b45encode(zlib.compress(cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b"", b""])))),
        "no health certificate": _signed_claims(_SIGNER, {1: "IN"}),
    }
    outcome = dcc_verifier([_SIGNER.certificate], dcc_database, _NOW).check(variants[variant])
    assert (outcome.status, outcome.code, outcome.certificate) == (
        Status.INVALID,
        "malformed",
        None,
    ), outcome


def test_a_changed_hc1_is_a_signature_mismatch_not_malformed(dcc_database: Database) -> None:
    good = _signed_claims(_SIGNER, _dcc_claims(_NOW))
    forged = wallet_samples.tampered_variants(good)["signature"]
    verifier = dcc_verifier([_SIGNER.certificate], dcc_database, _NOW)
    assert verifier.check(good).code == "valid"
    assert (verifier.check(forged).status, verifier.check(forged).code) == (
        Status.INVALID,
        "signature",
    )


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({6: _NOW + timedelta(days=1)}, "not-yet-valid"),  # issued tomorrow
        ({5: _NOW + timedelta(hours=2)}, "not-yet-valid"),  # nbf later today
        ({5: _NOW + timedelta(minutes=3)}, "valid"),  # within the clock skew
        ({6: _NOW + timedelta(minutes=3)}, "valid"),
        ({5: _NOW - timedelta(days=1)}, "valid"),
    ],
)
def test_an_hc1_valid_from_later_is_not_yet_valid(
    claims: dict[int, datetime], code: str, dcc_database: Database
) -> None:
    cwt = _dcc_claims(_NOW - timedelta(days=1))
    cwt.update({claim: int(at.timestamp()) for claim, at in claims.items()})
    outcome = dcc_verifier([_SIGNER.certificate], dcc_database, _NOW).check(
        _signed_claims(_SIGNER, cwt)
    )
    assert outcome.code == code, outcome
    if code == "not-yet-valid":
        assert outcome.certificate is None  # the format refuses it before the EU rules' view
        assert outcome.valid_from == next(iter(claims.values())).date().isoformat()


@pytest.mark.parametrize(
    ("valid_from", "hour", "code"),
    [
        ("2022-06-04", 12, "not-yet-valid"),
        ("2022-06-03", 0, "not-yet-valid"),  # 14:00 on the 2nd even at UTC+14
        ("2022-06-03", 12, "valid"),  # already the 3rd east of UTC+12
        ("2022-06-02", 0, "valid"),
    ],
)
def test_a_recovery_valid_from_a_later_day_is_not_yet_valid(
    valid_from: str, hour: int, code: str, dcc_database: Database
) -> None:
    """``df`` is a date without a zone: it is taken to begin in the earliest zone (UTC+14)."""
    cwt = _dcc_claims(_NOW - timedelta(days=1))
    certificate = cwt[-260][1]
    del certificate["v"]
    certificate["r"] = [
        {
            "tg": "840539006",
            "fr": "2022-05-20",
            "co": "IN",
            "is": "Ministry of Health",
            "df": valid_from,
            "du": "2022-11-20",
            "ci": "URN:UVCI:01:IN:RECOVERY1",
        }
    ]
    now = _NOW + timedelta(hours=hour)
    outcome = dcc_verifier([_SIGNER.certificate], dcc_database, now).check(
        _signed_claims(_SIGNER, cwt)
    )
    assert outcome.code == code, outcome
    if code == "not-yet-valid":
        assert outcome.valid_from == valid_from
        assert outcome.certificate is None
