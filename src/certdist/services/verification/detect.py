"""Recognising the input: which certificate form a text, a file or a photo holds, and the
bytes ready for that form's reader.

Text forms: a DIVOC QR (ZIP in either byte form, or the credential's JSON), ``HC1:…``,
``shc:/…``, a compact JWS, an SD-JWT VC (``<jwt>~<disclosures>~[<kb-jwt>]``), a
``.smart-health-card`` file, a signed FHIR ``Bundle`` (the
DDCC:VS document of :mod:`certdist.formats.fhir`). Images (PNG, JPEG, WebP, GIF) and
PDFs (:mod:`.pdf`) are scanned for QR codes and the first one holding a certificate is used.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from certdist.errors import FieldError, InvalidInput, MalformedCertificate, PayloadTooLarge
from certdist.services.verification.pdf import looks_like_pdf
from certdist.services.verification.qr_reader import read_qr_codes

if TYPE_CHECKING:
    pass

#: The FieldError location of "the image holds no QR code" (a camera frame may miss it).
NO_QR_CODE: Final = "image"
#: Text forms are never larger than this (a QR holds at most 2,953 bytes; a credential a few KB).
MAX_TEXT_BYTES: Final = 64 * 1024
_JWS: Final = re.compile(rb"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
#: ``<jwt>~<disclosure>~…~`` and an optional key binding JWT after the last ``~``.
_SD_JWT: Final = re.compile(
    rb"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+~(?:[A-Za-z0-9_-]+~)*"
    rb"(?:[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)?"
)
_SHC_NUMERIC: Final = re.compile(rb"shc:/(?:\d{2})+")
_IMAGE_MAGIC: Final = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF", b"GIF87a", b"GIF89a")
_IMAGE_FORMATS: Final = ("PNG", "JPEG", "WEBP", "GIF")
#: zxing-cpp finds a QR in a downscaled copy too, but a 50-megapixel photo costs seconds.
_MAX_SCAN_SIDE: Final = 3000


class InputKind(StrEnum):
    """What :func:`classify` recognised."""

    DIVOC_ZIP = "divoc-zip"
    DIVOC_JSON = "divoc-json"
    HC1 = "hc1"
    SHC_NUMERIC = "shc-numeric"
    SHC_JWS = "jws"
    SHC_FILE = "smart-health-card-file"
    FHIR_BUNDLE = "fhir-bundle"
    SD_JWT_VC = "sd-jwt-vc"
    IMAGE = "image"
    PDF = "pdf"


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000


def classify(data: bytes | str) -> tuple[InputKind, bytes]:
    """What ``data`` is, and its bytes ready for that kind's reader.

    Raises :class:`InvalidInput` for anything that is not a known certificate form.
    """
    if isinstance(data, str):
        if data.startswith("PK\x03\x04"):
            # A scanner's text of a DIVOC ZIP QR: decode_payload takes both byte forms.
            return InputKind.DIVOC_ZIP, _zip_text_bytes(data)
        raw = data.encode("utf-8")
    else:
        raw = bytes(data)
    if raw.startswith(_IMAGE_MAGIC):
        return InputKind.IMAGE, raw
    if looks_like_pdf(raw):
        return InputKind.PDF, raw
    if len(raw) > MAX_TEXT_BYTES:
        raise PayloadTooLarge(f"a certificate is at most {MAX_TEXT_BYTES} bytes of text")
    if raw.startswith(b"PK\x03\x04"):
        return InputKind.DIVOC_ZIP, raw
    text = raw.removeprefix(b"\xef\xbb\xbf").strip()
    if text[:4].upper() == b"HC1:":
        return InputKind.HC1, text
    if text.startswith(b"shc:/"):
        if not _SHC_NUMERIC.fullmatch(text):
            raise InvalidInput("a shc:/ payload must be followed by pairs of digits")
        return InputKind.SHC_NUMERIC, text
    if _JWS.fullmatch(text):
        return InputKind.SHC_JWS, text
    if _SD_JWT.fullmatch(text):
        return InputKind.SD_JWT_VC, text
    if text.startswith(b"{"):
        return _json_kind(text)
    raise InvalidInput(
        "not a certificate: expected a DIVOC QR or credential, HC1:, shc:/, a JWS, an SD-JWT VC, "
        "a .smart-health-card file, a signed FHIR Bundle, or an image or PDF with a QR code"
    )


# Past classify() the input is a known certificate form: what cannot be decoded from here on
# is a malformed certificate (an outcome), no longer unreadable input (a client error).


def ascii_text(payload: bytes) -> str:
    try:
        return payload.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedCertificate("the certificate text holds characters outside ASCII") from None


def utf8_text(payload: bytes) -> str:
    """JSON text (a FHIR bundle holds names in any script)."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedCertificate("the certificate JSON is not UTF-8 text") from None


def _zip_text_bytes(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _json_kind(text: bytes) -> tuple[InputKind, bytes]:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
        raise InvalidInput("the input starts like JSON but is not valid JSON") from None
    if isinstance(document, dict) and document.get("resourceType") == "Bundle":
        return _fhir_bundle_kind(document, text)
    if isinstance(document, dict) and "verifiableCredential" in document:
        return InputKind.SHC_FILE, text
    if isinstance(document, dict) and ("proof" in document or "credentialSubject" in document):
        return InputKind.DIVOC_JSON, text
    raise InvalidInput(
        "this JSON is neither a signed credential, a .smart-health-card file nor a signed "
        "FHIR Bundle"
    )


def _fhir_bundle_kind(document: dict[str, object], text: bytes) -> tuple[InputKind, bytes]:
    # An unsigned bundle is a FHIR document, not a certificate: nothing in it can be checked,
    # so it is unreadable input (not an invalid certificate).
    if "signature" not in document:
        raise InvalidInput(
            "this FHIR Bundle carries no signature (Bundle.signature): only signed "
            "DDCC:VS bundles can be verified"
        )
    return InputKind.FHIR_BUNDLE, text


def single_card(file_text: bytes) -> str:
    """The one JWS of a ``.smart-health-card`` file."""
    cards = json.loads(file_text).get("verifiableCredential")
    if not isinstance(cards, list) or not cards or not all(isinstance(c, str) for c in cards):
        raise MalformedCertificate("verifiableCredential must be a list of JWS strings")
    if len(cards) != 1:
        raise InvalidInput(f"the file holds {len(cards)} cards; verify them one at a time")
    card: str = cards[0]
    if not _JWS.fullmatch(card.encode("ascii", "replace")):
        raise MalformedCertificate("the card in the file is not a compact JWS")
    return card


def shc_numeric_to_jws(text: str) -> str:
    """``shc:/5676…`` → the JWS: every two digits are one character, ``ord(c) - 45``."""
    digits = text.removeprefix("shc:/")
    try:
        values = [int(digits[i : i + 2]) for i in range(0, len(digits), 2)]
    except ValueError:
        raise MalformedCertificate("a shc:/ payload must be followed by pairs of digits") from None
    if any(value > ord("z") - 45 for value in values):
        raise MalformedCertificate("a shc:/ payload holds a digit pair outside the JWS alphabet")
    return "".join(chr(value + 45) for value in values)


def first_certificate_in(
    payloads: Sequence[bytes], where: str = "the image"
) -> tuple[InputKind, bytes]:
    """The first QR payload (from :func:`scan_image` or :func:`.pdf.scan_pdf`) that is a
    certificate form; ``where`` names the scanned input in the errors."""
    if not payloads:
        raise InvalidInput(
            "no QR code was found in the image", [FieldError(NO_QR_CODE, "no QR code found")]
        )
    problems = []
    for payload in payloads:
        try:
            kind, data = classify(payload)
        except InvalidInput as error:
            problems.append(error.message)
            continue
        if kind in (InputKind.IMAGE, InputKind.PDF):
            # A QR code holding an image or a PDF is no certificate: never scan recursively.
            problems.append("it holds an image or a PDF")
            continue
        return kind, data
    raise InvalidInput(f"the QR code in {where} holds no certificate ({problems[0]})")


def scan_image(data: bytes, limits: ImageLimits) -> list[bytes]:
    """The raw bytes of every QR code in a PNG, JPEG, WebP or GIF image."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(f"images are limited to {limits.max_bytes} bytes")
    try:
        with Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS) as image:
            width, height = image.size
            if width * height > limits.max_pixels:
                raise PayloadTooLarge(f"images are limited to {limits.max_pixels} pixels")
            gray = image.convert("L")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise InvalidInput("the image could not be decoded (PNG, JPEG, WebP or GIF)") from None
    if max(gray.size) > _MAX_SCAN_SIDE:
        gray.thumbnail((_MAX_SCAN_SIDE, _MAX_SCAN_SIDE))
    return read_qr_codes(gray)
