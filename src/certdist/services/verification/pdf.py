"""Finding the QR code in a PDF: the certificate a person was e-mailed.

The pages are rendered with PDFium (``pypdfium2``) and the bitmaps read with zxing-cpp, like
a photo. Rendering, rather than pulling the embedded images out of the file, is what works for
PDFs made by anyone: certdist's own PDFs draw the QR as vector paths (there is no image to
extract), and other issuers' QR images may be stored in any PDF image codec (Flate, DCT,
JPX, JBIG2, CCITT), with masks, decode arrays, clipping and transforms that only a full
renderer applies. PDFium is Chromium's PDF engine, fuzzed continuously and maintained, and
``pypdfium2`` ships it as wheels for every platform we run on.

Untrusted input is bounded: the byte size (the verifier's upload limit), the pages looked at
(the first :attr:`PdfLimits.max_pages`), and the pixels of each rendered page (the scale is
lowered so a huge page size cannot make a huge bitmap). Password-protected and damaged files
are refused as "not a PDF we can read".
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from certdist.errors import FieldError, InvalidInput, PayloadTooLarge
from certdist.services.verification.qr_reader import read_qr_codes

if TYPE_CHECKING:
    import pypdfium2

#: The FieldError location of "the PDF holds no QR code" (the page says so in its words).
NO_QR_CODE_IN_PDF: Final = "pdf"
_PDF_MAGIC: Final = b"%PDF-"
#: A QR printed 3 cm wide with 130 modules (a DIVOC credential) has 3 px per module at 250 dpi.
_SCAN_DPI: Final = 250
_POINTS_PER_INCH: Final = 72
#: No side longer than this (zxing-cpp takes at most 65,535): a page 200,000 points wide and 5
#: high is within the pixel limit at 250 dpi but not a bitmap anything can read.
_MAX_SIDE: Final = 10_000
#: PDFium is not thread-safe; the web verifier runs checks in a thread pool. One lock per
#: process serialises every use of it (and bounds the CPU that PDF uploads can take).
_PDFIUM_LOCK: Final = threading.Lock()


@dataclass(frozen=True)
class PdfLimits:
    max_bytes: int = 10 * 1024 * 1024
    max_pages: int = 3
    #: An A4 page at 250 dpi is about 6 megapixels.
    max_page_pixels: int = 8_000_000


def looks_like_pdf(data: bytes) -> bool:
    """Whether ``data`` starts like a PDF file.

    Only a file that starts with ``%PDF-`` is taken for a PDF (some readers look for it
    anywhere in the first KB): the text forms may hold those characters (``%``, ``-`` and
    capitals are base45), so a looser test could take a certificate's text for a PDF.
    """
    return data.startswith(_PDF_MAGIC)


def not_a_pdf() -> InvalidInput:
    """The error for a file named or sent as a PDF that is none."""
    return InvalidInput("not a PDF we can read: the file does not start with %PDF-")


def scan_pdf(data: bytes, limits: PdfLimits) -> list[bytes]:
    """The raw bytes of every QR code on the first pages of a PDF.

    Raises :class:`PayloadTooLarge` past the byte limit and :class:`InvalidInput` for a file
    PDFium cannot open or for a PDF without any QR code.
    """
    import pypdfium2

    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(f"PDF files are limited to {limits.max_bytes} bytes")
    if not looks_like_pdf(data):
        raise not_a_pdf()
    payloads: list[bytes] = []
    with _PDFIUM_LOCK:
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as error:
            # e.g. "Failed to load document (PDFium: Incorrect password error)."
            raise InvalidInput(f"not a PDF we can read ({error})") from None
        try:
            for index in range(min(len(document), limits.max_pages)):
                payloads.extend(_scan_page(document, index, limits.max_page_pixels))
        except pypdfium2.PdfiumError as error:
            raise InvalidInput(f"not a PDF we can read ({error})") from None
        finally:
            document.close()
    if not payloads:
        raise InvalidInput(
            f"no QR code found in the PDF (first {limits.max_pages} pages looked at)",
            [FieldError(NO_QR_CODE_IN_PDF, "no QR code found")],
        )
    return payloads


def _scan_page(document: pypdfium2.PdfDocument, index: int, max_pixels: int) -> list[bytes]:
    page = document[index]
    try:
        width, height = page.get_size()
        scale = render_scale(width, height, max_pixels)
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            image = bitmap.to_pil()
            return read_qr_codes(image)
        finally:
            bitmap.close()
    finally:
        page.close()


def render_scale(width: float, height: float, max_pixels: int) -> float:
    """Pixels per point for a page of ``width`` by ``height`` points: :data:`_SCAN_DPI`, or
    less when that would make more than ``max_pixels`` pixels or a side over :data:`_MAX_SIDE`.
    """
    width, height = max(width, 1.0), max(height, 1.0)
    scale = _SCAN_DPI / _POINTS_PER_INCH
    if width * height * scale * scale > max_pixels:
        scale = math.sqrt(max_pixels / (width * height))
    return min(scale, _MAX_SIDE / max(width, height))
