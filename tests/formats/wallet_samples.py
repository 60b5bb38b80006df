"""Bundles and signers for the health-wallet format tests (no database needed)."""

from __future__ import annotations

import functools
import hmac
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import jsonschema

from certdist.domain.models import VACCINATION, CertificateRecord
from certdist.formats.eu_dcc import DccIssuer, DccProfile, DccVaccine
from certdist.formats.registry import CertificateBundle
from certdist.formats.shc import Coding, ShcIssuer, revocation_id
from certdist.signing.dsc import DocumentSigners, ensure_local_signers
from certdist.signing.keys import KeyStore, KeyUse
from tests.conftest import SHARED_TESTDATA, require
from tests.formats.credentials import make_credential

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
ISSUED = datetime(2021, 8, 1, 6, 0, tzinfo=UTC)

PROFILE = DccProfile(
    country="IN",
    certificate_issuer="Ministry of Health and Family Welfare",
    validity=timedelta(days=365),
    vaccines={"covishield": DccVaccine("29061000087103", "Covishield", "ORG-100001981")},
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
    )


@functools.cache
def dcc_schema_validator() -> jsonschema.protocols.Validator:
    """The EU DCC JSON schema 1.3.3 of the shared test data, with format checks."""
    path = SHARED_TESTDATA / "eu-dcc" / "schema" / "DCC.combined-schema.json"
    require(path.is_file(), f"EU DCC schema not found at {path}")
    schema = json.loads(path.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator: jsonschema.protocols.Validator = validator_class(
        schema, format_checker=validator_class.FORMAT_CHECKER
    )
    return validator
