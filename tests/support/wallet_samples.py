"""Bundles and signers for the health-wallet format tests (no database needed)."""

from __future__ import annotations

import functools
import hmac
import json
import zlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import jsonschema
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from certdist.config import WalletSettings
from certdist.domain.credential import CredentialProfile, lab_test_credential
from certdist.domain.models import TEST, VACCINATION, CertificateRecord
from certdist.domain.requests import TestCertificationRequest
from certdist.formats.base45 import b45decode, b45encode
from certdist.formats.eu_dcc import PREFIX, DccIssuer, DccNames, DccProfile, DccVaccine
from certdist.formats.lab_test import LabTestCodes
from certdist.formats.registry import CertificateBundle
from certdist.formats.shc import Coding, ShcIssuer, revocation_id
from certdist.services.distribution.wallet import lab_test_codes
from certdist.signing.dsc import DocumentSigner, DocumentSigners, ensure_local_signers
from certdist.signing.keys import KeyStore, KeyUse
from tests.support.credentials import make_credential
from tests.support.environment import VECTORS, require
from tests.support.request_bodies import lab_test_request_body

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
ISSUED = datetime(2021, 8, 1, 6, 0, tzinfo=UTC)

#: The default lab-test mappings of the settings, as the service builds them.
LAB_CODES: LabTestCodes = lab_test_codes(WalletSettings())
PROFILE = DccProfile(
    country="IN",
    certificate_issuer="Ministry of Health and Family Welfare",
    validity=timedelta(days=365),
    vaccines={"covishield": DccVaccine("29061000087103", "Covishield", "ORG-100001981")},
    lab_tests=LAB_CODES,
)
_CREDENTIALS = CredentialProfile(
    issuer="https://cowin.gov.in/",
    base_url="https://cowin.gov.in",
    vaccination_context="https://cowin.gov.in/credentials/vaccination/v1",
    test_context="https://cowin.gov.in/credentials/testCertificate/v1",
)
SHC_CODES = {
    "covishield": [
        Coding("http://hl7.org/fhir/sid/cvx", "210"),
        Coding("http://id.who.int/icd/release/11/mms", "XM9QW8"),
    ]
}


def record(
    *,
    dose: int = 1,
    total: int = 2,
    name: str = "Bhaya Mitra",
    code: str = "BEN0001",
    vaccine: str = "COVISHIELD",
    dob: date | None = date(1994, 11, 30),
    mobile: str | None = "+919880414889",
) -> CertificateRecord:
    certificate_id = f"10000000{dose}"
    credential = make_credential(
        dose=dose,
        total=total,
        name=name,
        certificate_id=certificate_id,
        ref_id=code,
        date=f"2021-0{4 + dose}-02T10:00:00.000Z",
    )
    credential["evidence"][0]["vaccine"] = vaccine
    created = ISSUED + timedelta(days=30 * dose)
    return CertificateRecord(
        id=f"r{dose}",
        certificate_id=certificate_id,
        pre_enrollment_code=code,
        entity_type=VACCINATION,
        program_id="covid-19",
        dose=dose,
        total_doses=total,
        name=name,
        dob=dob,
        gender="Male",
        mobile=mobile,
        contacts=(),
        certificate=json.dumps(credential),
        key_id="did:test",
        created_at=created,
        updated_at=created,
    )


def lab_record(
    *, dob: date | None = date(1994, 11, 30), facility: str | None = None, **details: Any
) -> CertificateRecord:
    """A lab-test certificate as issued from the factory's request, ``details`` replacing
    fields of its ``testDetails``."""
    body = lab_test_request_body("LAB0001")
    body["testDetails"].update(details)
    if facility is not None:
        body["facility"]["name"] = facility
    request = TestCertificationRequest.model_validate(body)
    credential = lab_test_credential(
        request, certificate_id="300000001", issued_at=ISSUED, profile=_CREDENTIALS
    )
    return CertificateRecord(
        id="lab1",
        certificate_id="300000001",
        pre_enrollment_code="LAB0001",
        entity_type=TEST,
        program_id="",
        dose=None,
        total_doses=None,
        name=request.recipient.name,
        dob=dob,
        gender="Male",
        mobile="+919880414889",
        contacts=(),
        certificate=json.dumps(credential),
        key_id="did:test",
        created_at=ISSUED,
        updated_at=ISSUED,
    )


def lab_bundle(**options: Any) -> CertificateBundle:
    return CertificateBundle(latest=lab_record(**options))


def bundle(doses: int = 2, **options: object) -> CertificateBundle:
    records = [record(dose=d, **options) for d in range(1, doses + 1)]  # type: ignore[arg-type]
    return CertificateBundle(latest=records[-1], doses=tuple(reversed(records)))


def key_store(directory: Path) -> KeyStore:
    return KeyStore.init_directory(directory, credential_algorithm="Ed25519", now=NOW)


def document_signers(directory: Path) -> DocumentSigners:
    return ensure_local_signers(directory, key_store(directory), country="IN", now=NOW)


def dcc_issuer(directory: Path, now: datetime = NOW) -> DccIssuer:
    return DccIssuer(PROFILE, document_signers(directory).active, lambda: now)


def sample_revocation_id(certificate_id: str, secret: bytes = b"s" * 32) -> str:
    """A card's rid as the service derives it: a keyed hash of the certificate id."""
    return revocation_id(hmac.digest(secret, certificate_id.encode(), "sha256"))


def shc_issuer(directory: Path, issuer: str = "https://certdist.test") -> ShcIssuer:
    return ShcIssuer(
        issuer,
        key_store(directory).active(KeyUse.SHC),
        SHC_CODES,
        revocation_id=sample_revocation_id,
        lab_tests=LAB_CODES,
    )


@functools.cache
def dcc_schema_validator() -> jsonschema.protocols.Validator:
    """The EU DCC JSON schema 1.3.3 of the shared test data, with format checks."""
    path = VECTORS / "eu-dcc" / "schema" / "DCC.combined-schema.json"
    require(path.is_file(), f"EU DCC schema not found at {path}")
    schema = json.loads(path.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator: jsonschema.protocols.Validator = validator_class(
        schema, format_checker=validator_class.FORMAT_CHECKER
    )
    return validator


#: Names as a traveller would send them for the EU certificate of :func:`bundle`.
DCC_NAMES = DccNames(fnt="MITRA", gnt="BHAYA", fn="Mitra", gn="Bhaya")


def value_set(testdata: Path, name: str) -> set[str]:
    """The codes of one EU DCC value set of the shared test data."""
    data = json.loads((testdata / "eu-dcc" / "valuesets" / f"{name}.json").read_text())
    return set(data["valueSetValues"])


def self_signed(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    not_before: datetime,
    not_after: datetime,
    *,
    country: str = "SE",
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, country)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )


def document_signer_valid(not_before: datetime, not_after: datetime) -> DocumentSigner:
    """A self-signed Document Signer Certificate (and its key) valid over the given period."""
    key = ec.generate_private_key(ec.SECP256R1())
    return DocumentSigner(self_signed(key, not_before, not_after), "short-lived", key)


def write_upload_signer(
    directory: Path, *, use_rsa: bool = False
) -> tuple[Path, Path, x509.Certificate]:
    """A gateway upload certificate (PEM) and its key (PEM, 0600) written into ``directory``:
    (certificate file, key file, certificate)."""
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if use_rsa
        else ec.generate_private_key(ec.SECP256R1())
    )
    now = datetime.now(UTC)
    certificate = self_signed(key, now - timedelta(days=1), now + timedelta(days=365), country="IN")
    directory.mkdir(parents=True, exist_ok=True)
    certificate_file = directory / "upload.crt"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file = directory / "upload-key.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return certificate_file, key_file, certificate


# --- forged EU DCCs: an HC1 text changed after signing --------------------------------------


def _resigned_claims(text: str, change: Callable[[dict[str, Any]], None]) -> str:
    """``text`` with ``change`` made to the certificate in its claims and the original
    signature kept (so the signature no longer matches)."""
    cose = cbor2.loads(zlib.decompress(b45decode(text.removeprefix(PREFIX))))
    claims = cbor2.loads(cose.value[2])
    change(claims[-260][1])
    forged = cbor2.CBORTag(18, [cose.value[0], {}, cbor2.dumps(claims), cose.value[3]])
    return PREFIX + b45encode(zlib.compress(cbor2.dumps(forged)))


def tampered_variants(text: str) -> dict[str, str]:
    """Copies of a vaccination HC1, each broken at one step of verification (the key)."""

    def another_dose(certificate: dict[str, Any]) -> None:
        entry = certificate["v"][0]
        entry["dn"] = entry["dn"] % 9 + 1  # always a different dose

    cose = cbor2.loads(zlib.decompress(b45decode(text[4:])))
    return {
        "signature": _resigned_claims(text, another_dose),
        "prefix": "HC2:" + text[4:],
        "base45": text[:-1] + "a",
        "zlib": "HC1:" + b45encode(cbor2.dumps(cose)),
    }


def tampered_result(text: str) -> str:
    """The same lab-test HC1 with its test result flipped, the signature kept."""

    def other_result(certificate: dict[str, Any]) -> None:
        entry = certificate["t"][0]
        entry["tr"] = "260373001" if entry["tr"] == "260415000" else "260415000"

    return _resigned_claims(text, other_result)
