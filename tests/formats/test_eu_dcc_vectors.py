"""``verify_hc1`` against every EU DCC test vector (dgc-testdata), step by step.

Each vector's ``EXPECTEDRESULTS`` names the steps it tests (absent = not tested). Our
verifier reports the first failing step (:data:`certdist.formats.eu_dcc.STEPS`); a step
expected to fail must be the one that fails, and a step expected to pass must not fail.
Steps outside ``verify_hc1`` are checked here with the same inputs: the QR image decodes
to the text (``PICTUREDECODE``), the payload equals the vector's JSON (``VALIDJSON``) and
validates against the schema (``SCHEMAVALIDATION``), and the DSC's key usage allows the
payload's kind (``KEYUSAGE``).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from certdist.errors import VerificationError
from certdist.formats.eu_dcc import STEPS, dsc_may_sign, verify_hc1
from certdist.signing.cose import certificate_kid
from certdist.signing.keys import PublicKey
from tests.support.environment import VECTORS, require
from tests.support.imaging import open_image, scan
from tests.support.wallet_samples import dcc_schema_validator

DCC_VECTORS = VECTORS / "eu-dcc" / "vectors"
# Which verify_hc1 step each expectation is about.
STEP_OF = {
    "EXPECTEDUNPREFIX": "prefix",
    "EXPECTEDB45DECODE": "base45",
    "EXPECTEDCOMPRESSION": "zlib",
    "EXPECTEDDECODE": "cwt",
    "EXPECTEDVALIDOBJECT": "cwt",
    "EXPECTEDVERIFY": "signature",
    "EXPECTEDEXPIRATIONCHECK": "expiry",
}
ORDER = STEPS


def vector_files() -> list[Path]:
    return sorted(DCC_VECTORS.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def failing_step(vector: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """The step at which verify_hc1 rejects the vector (None if it accepts), and the payload."""
    context = vector["TESTCTX"]
    certificate = x509.load_der_x509_certificate(base64.b64decode(context["CERTIFICATE"]))
    kid = certificate_kid(base64.b64decode(context["CERTIFICATE"]))

    def keys_for_kid(wanted: bytes) -> list[PublicKey]:
        key = certificate.public_key()
        assert isinstance(key, PublicKey)
        return [key] if wanted == kid else []

    clock = datetime.fromisoformat(context["VALIDATIONCLOCK"].replace("Z", "+00:00"))
    try:
        verified = verify_hc1(vector["PREFIX"], keys_for_kid, clock)
    except VerificationError as exc:
        return str(exc).split(":", 1)[0], None
    return None, verified.payload


def test_every_vector_is_present() -> None:
    # A vanished folder must not turn this file into zero tests.
    require(len(vector_files()) >= 40, f"EU DCC vectors not found in {DCC_VECTORS}")


@pytest.mark.parametrize("path", vector_files(), ids=lambda p: p.stem)
def test_vector(path: Path) -> None:
    vector = load(path)
    expected: dict[str, bool] = vector.get("EXPECTEDRESULTS", {})
    step, payload = failing_step(vector)
    assert step is None or step in ORDER
    for name, outcome in expected.items():
        tested = STEP_OF.get(name)
        if tested is None:
            continue
        if outcome:
            assert step is None or ORDER.index(step) > ORDER.index(tested), (name, step)
        else:  # this step, or one before it, fails
            assert step is not None, name
            assert ORDER.index(step) <= ORDER.index(tested), (name, step)
    if expected.get("EXPECTEDPICTUREDECODE") is not None and "2DCODE" in vector:
        decoded = picture_text(base64.b64decode(vector["2DCODE"]))
        assert (decoded == vector["PREFIX"]) is expected["EXPECTEDPICTUREDECODE"]
    if expected.get("EXPECTEDVALIDJSON"):
        assert payload == vector["JSON"]
    if "EXPECTEDSCHEMAVALIDATION" in expected:
        assert schema_valid(payload or vector["JSON"]) is expected["EXPECTEDSCHEMAVALIDATION"]
    if "EXPECTEDKEYUSAGE" in expected:
        certificate = x509.load_der_x509_certificate(
            base64.b64decode(vector["TESTCTX"]["CERTIFICATE"])
        )
        assert dsc_may_sign(certificate, payload or vector["JSON"]) is expected["EXPECTEDKEYUSAGE"]


def picture_text(png: bytes) -> str | None:
    try:
        texts = scan(open_image(png))
    except OSError:  # Pillow cannot read the image at all (vector Q1)
        return None
    return texts[0].decode() if texts else None


def schema_valid(document: dict[str, Any]) -> bool:
    return dcc_schema_validator().is_valid(document)
