"""PDFs: the QR code is found on the first pages, whoever made the file; damaged, encrypted,
oversized and QR-less files are refused with a reason, never a crash."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter

from certdist.errors import FieldError, InvalidInput, PayloadTooLarge
from certdist.formats.divoc_qr import encode_payload
from certdist.services.verification import NO_QR_CODE_IN_PDF, PdfLimits, Status, scan_pdf
from certdist.services.verification.detect import first_certificate_in
from certdist.services.verification.pdf import render_scale
from certdist.wiring import Services
from tests.support.issuing import issue_signed
from tests.support.pdf_samples import bare_pdf, blank_page, certificate_pdf, page_with, pdf_of_pages
from tests.support.verifier_samples import png_of


@pytest.fixture
def qr_page_pdf(services: Services) -> bytes:
    """A PDF made by Pillow, the QR as an image on the first page."""
    return pdf_of_pages(page_with(png_of(encode_payload(issue_signed(services)))))


def test_a_pdf_made_by_another_program_verifies(services: Services, qr_page_pdf: bytes) -> None:
    outcome = services.verifier.check(qr_page_pdf)
    assert outcome.status is Status.VALID
    assert outcome.certificate is not None
    assert outcome.certificate.name == "Bhaya Mitra"


@pytest.mark.parametrize("format_name", ["pdf", "shc-pdf", "eu-dcc-pdf"])
def test_our_own_pdfs_verify(services: Services, format_name: str) -> None:
    issue_signed(services, "PDF0001")
    outcome = services.verifier.check(certificate_pdf(services, "PDF0001", format_name))
    assert outcome.status is Status.VALID, outcome.reason


def test_the_qr_code_on_a_later_page_is_found(services: Services) -> None:
    qr = page_with(png_of(encode_payload(issue_signed(services))))
    assert services.verifier.check(pdf_of_pages(blank_page(), blank_page(), qr)).status == "valid"


def test_only_the_first_pages_are_looked_at(services: Services) -> None:
    qr = page_with(png_of(encode_payload(issue_signed(services))))
    late = pdf_of_pages(*[blank_page()] * 3, qr)
    with pytest.raises(InvalidInput) as caught:
        services.verifier.check(late)
    assert caught.value.message.startswith("no QR code found in the PDF")
    assert scan_pdf(late, PdfLimits(max_pages=4))  # the code is there, on page 4


def test_a_pdf_without_a_qr_code_says_so(services: Services) -> None:
    with pytest.raises(InvalidInput) as caught:
        services.verifier.check(pdf_of_pages(blank_page()))
    assert caught.value.errors == [FieldError(NO_QR_CODE_IN_PDF, "no QR code found")]


def test_a_qr_code_that_is_no_certificate(services: Services) -> None:
    with pytest.raises(InvalidInput, match="the QR code in the PDF holds no certificate"):
        services.verifier.check(pdf_of_pages(page_with(png_of(b"https://example.org/"))))


@pytest.mark.parametrize("keep", [9, 400, 0.5])
def test_truncated_pdfs_are_refused_or_read(
    services: Services, qr_page_pdf: bytes, keep: float
) -> None:
    """A cut file is "not a PDF we can read" or, when PDFium repairs it, read as far as it
    goes: never an exception other than InvalidInput."""
    cut = qr_page_pdf[: int(len(qr_page_pdf) * keep) if keep < 1 else int(keep)]
    with pytest.raises(InvalidInput):
        services.verifier.check(cut)


def test_garbage_after_the_header(services: Services) -> None:
    with pytest.raises(InvalidInput, match="not a PDF we can read"):
        services.verifier.check(b"%PDF-1.7\n" + bytes(range(256)) * 8)


def test_an_encrypted_pdf_is_not_readable(services: Services, qr_page_pdf: bytes) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(qr_page_pdf)))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(InvalidInput, match="not a PDF we can read"):
        services.verifier.check(out.getvalue())


def test_a_file_declared_a_pdf_must_be_one(services: Services) -> None:
    with pytest.raises(InvalidInput, match="not a PDF we can read"):
        services.verifier.check(png_of(b"anything"), expect_pdf=True)
    with pytest.raises(InvalidInput, match="not a PDF we can read"):
        services.verifier.check(issue_signed(services), expect_pdf=True)


def test_the_byte_limit(qr_page_pdf: bytes) -> None:
    with pytest.raises(PayloadTooLarge):
        scan_pdf(qr_page_pdf, PdfLimits(max_bytes=len(qr_page_pdf) - 1))


@pytest.mark.parametrize(
    "mediabox", ["0 0 0 0", "0 0 -100 -100", "0 0 1 1", "0 0 14400 14400", "0 0 200000 5", "a b"]
)
def test_odd_page_sizes_are_rendered_within_bounds(services: Services, mediabox: str) -> None:
    with pytest.raises(InvalidInput, match="no QR code found in the PDF"):
        services.verifier.check(bare_pdf(mediabox))


def test_a_pdf_of_many_pages_costs_three(services: Services) -> None:
    with pytest.raises(InvalidInput, match=r"first 3 pages"):
        services.verifier.check(bare_pdf("0 0 595 842", pages=5000))


def test_render_scale_keeps_a_page_within_the_pixel_limit() -> None:
    a4 = (595.0, 842.0)
    assert render_scale(*a4, 8_000_000) == pytest.approx(250 / 72)
    huge = (14_400.0, 14_400.0)  # the largest page PDF allows, 200 inches square
    scale = render_scale(*huge, 8_000_000)
    assert (huge[0] * scale) * (huge[1] * scale) == pytest.approx(8_000_000)
    assert render_scale(0.0, 0.0, 8_000_000) == pytest.approx(250 / 72)
    long_strip = render_scale(200_000.0, 5.0, 8_000_000)
    assert 200_000 * long_strip == pytest.approx(10_000)  # no side over 10,000 pixels


def test_a_qr_code_holding_an_image_or_pdf_is_no_certificate() -> None:
    """Never scanned again (no recursion), and a clear error rather than a crash."""
    for inner in (b"%PDF-1.4 ...", b"\x89PNG\r\n\x1a\n..."):
        with pytest.raises(InvalidInput, match="holds no certificate"):
            first_certificate_in([inner], where="the PDF")
