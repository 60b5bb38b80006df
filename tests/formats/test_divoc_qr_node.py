"""The QR codes we print, read the way DIVOC's verification app reads them.

The app scans the QR to a JavaScript string and hands it to ``@pathcheck/divoc-sdk``'s
``unpackAndVerify``, which unzips it with JSZip and checks the proof. Both payload forms
must survive that path. zxing-cpp reads our PNG back to the symbol's bytes, and the scanner's
text is those bytes decoded the way each form is meant to be read: the raw ZIP form as
ISO-8859-1 (the QR standard's byte-mode default, what zxing's plain text mode returns), and
DIVOC-Node's form as UTF-8 (what scanners that decode byte mode as UTF-8 return; this is why
that form exists, and why it is a setting).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import zxingcpp

from certdist.domain.requests import CertificationRequest
from certdist.formats.divoc_qr import PayloadForm, encode_payload
from certdist.formats.qr_image import qr_png
from certdist.signing.keys import KeyUse
from certdist.wiring import Services
from tests.support.imaging import open_image
from tests.support.node_verifiers import (
    CACHE_DIR,
    HARNESS_PRELUDE,
    NodeVerifiers,
    write_if_changed,
)
from tests.support.request_bodies import vaccination_request_body
from tests.support.services import ServicesFactory

pytestmark = pytest.mark.node

QR_HARNESS = "divoc-sdk-qr-harness.cjs"
QR_HARNESS_JS = (
    HARNESS_PRELUDE
    + """
globalThis.__certdistExtraContexts = {};
const sdk = require('./divoc-sdk-certdist.cjs');

// case: {text: "<what the scanner read>", publicKeyPem: "..."}
main(async (testCase) => {
  const json = await sdk.unpackAndVerify(testCase.text, testCase.publicKeyPem);
  const certificateId = json ? json.evidence[0].certificateId : null;
  return {verified: json !== undefined, certificateId};
}).catch((error) => { toStderr((error && error.stack) || error); process.exit(1); });
"""
)


@pytest.fixture
def issuing(make_sqlite_services: ServicesFactory) -> Services:
    return make_sqlite_services()


SCANNER_CHARSET = {"zip": "iso-8859-1", "zip-latin1-utf8": "utf-8"}


def _scanned_text(payload: bytes, form: PayloadForm) -> str:
    barcodes = zxingcpp.read_barcodes(
        open_image(qr_png(payload)),
        formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
    )
    # zxing-cpp now and then reports a large binary symbol twice (one full-suite run in
    # several): what counts is that the symbol read back is the payload.
    read: list[bytes] = [barcode.bytes for barcode in barcodes]
    assert payload in read, f"{len(read)} symbols read, none holding the payload"
    return payload.decode(SCANNER_CHARSET[form])


@pytest.mark.parametrize("form", ["zip", "zip-latin1-utf8"])
def test_divoc_sdk_unpacks_and_verifies_our_qr(
    node_verifiers: NodeVerifiers, issuing: Services, form: PayloadForm
) -> None:
    request = CertificationRequest.model_validate(
        vaccination_request_body("QRSDK1", name='Zoë "Q" प्रिया')
    )
    [issued] = issuing.issuance.certificates.certify([request])
    signed = issuing.issuance.certificates.signed_credential(issued.certificate_id)
    tampered = json.loads(signed)
    tampered["credentialSubject"]["name"] = "Someone Else"
    pem = issuing.keys.active(KeyUse.CREDENTIAL).public_pem()
    texts = [signed, json.dumps(tampered, ensure_ascii=False, separators=(",", ":"))]
    cases: list[dict[str, Any]] = [
        {"text": _scanned_text(encode_payload(text, form=form), form), "publicKeyPem": pem}
        for text in texts
    ]
    write_if_changed(CACHE_DIR / QR_HARNESS, QR_HARNESS_JS)
    results = node_verifiers.run(QR_HARNESS, cases)
    assert results[0] == {"verified": True, "certificateId": issued.certificate_id}
    assert results[1]["verified"] is False
