"""Recognising the input: every form, unreadable and oversized input, images."""

from __future__ import annotations

from pathlib import Path

import pytest

from certdist.errors import FieldError, InvalidInput, PayloadTooLarge
from certdist.formats.divoc_qr import encode_payload
from certdist.services.verification import (
    NO_QR_CODE,
    ImageLimits,
    InputKind,
    Verifier,
    classify,
    shc_numeric_to_jws,
)
from certdist.signing.contexts import ContextLoader
from certdist.wiring import Services
from tests.support.issuing import issue_signed
from tests.support.verifier_samples import blank_png, png_of


def test_numeric_qr_text_decodes_to_the_jws(testdata: Path) -> None:
    examples = testdata / "shc" / "examples"
    numeric = (examples / "example-00-f-qr-code-numeric-value-0.txt").read_text().strip()
    assert shc_numeric_to_jws(numeric) == (examples / "example-00-d-jws.txt").read_text().strip()


@pytest.mark.parametrize(
    "data",
    [
        "hello",
        b"\x00\x01\x02\x03",
        '{"a": 1}',
        "{broken json",
        "shc:/123",
        "HL0:6BFOXN",
        '{"verifiableCredential": ["a.b.c", "d.e.f"]}',
        '{"resourceType": "Bundle", "type": "document", "entry": []}',  # unsigned
        png_of(b"just some text"),
    ],
)
def test_unreadable_input(services: Services, data: bytes | str) -> None:
    with pytest.raises(InvalidInput):
        services.verifier.check(data)


@pytest.mark.parametrize(
    "data",
    [
        "HC1:garbage",
        "shc:/9999",
        "PK\x03\x04 not a zip",
        "eyJ.eyJ.sig",
        '{"verifiableCredential": ["a.b.c"]}',
        '{"verifiableCredential": "a.b.c"}',
        '{"proof": {}, "credentialSubject": {}}',
        '{"resourceType": "Bundle", "signature": "signed"}',
    ],
)
def test_a_known_form_that_cannot_be_decoded_is_malformed(
    services: Services, data: bytes | str
) -> None:
    """Recognised (so not a client error) but nothing signed can be found in it: "malformed",
    never "signature", which would say a forger changed a real certificate."""
    outcome = services.verifier.check(data)
    assert (outcome.status, outcome.code, outcome.certificate) == ("invalid", "malformed", None)


def test_an_image_without_a_qr_code_says_so(services: Services) -> None:
    with pytest.raises(InvalidInput) as caught:
        services.verifier.check(blank_png())
    assert caught.value.errors == [FieldError(NO_QR_CODE, "no QR code found")]


def test_limits(services: Services) -> None:
    with pytest.raises(PayloadTooLarge):
        services.verifier.check("x" * (64 * 1024 + 1))
    small = Verifier(
        services.verifier.trust,
        services.database.certificates(),
        services.clock,
        ContextLoader(),
        image_limits=ImageLimits(max_bytes=1024, max_pixels=100 * 100),
    )
    with pytest.raises(PayloadTooLarge):
        small.check(png_of(encode_payload(issue_signed(services))))  # over 1024 bytes
    with pytest.raises(PayloadTooLarge):
        small.check(blank_png())  # 200 x 200 pixels


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"PK\x03\x04rest", InputKind.DIVOC_ZIP),
        ('  {"proof": {}}', InputKind.DIVOC_JSON),
        ("hc1:ABC", InputKind.HC1),
        ("shc:/5676", InputKind.SHC_NUMERIC),
        ("eyJ.eyJ.sig", InputKind.SHC_JWS),
        ('{"verifiableCredential": []}', InputKind.SHC_FILE),
        ('{"resourceType": "Bundle", "signature": {}}', InputKind.FHIR_BUNDLE),
        (b"\x89PNG\r\n\x1a\nrest", InputKind.IMAGE),
        (b"\xff\xd8\xff\xe0rest", InputKind.IMAGE),
    ],
)
def test_classify(data: bytes | str, kind: InputKind) -> None:
    assert classify(data)[0] is kind
