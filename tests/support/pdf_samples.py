"""PDFs for the verifier's tests: pictures saved as PDF pages by Pillow (a producer other than
certdist, holding the QR as an image) and certdist's own certificate PDFs."""

from __future__ import annotations

import io

from PIL import Image

from certdist.domain.roles import Permission, Principal
from certdist.wiring import Services

#: An A4 page at 100 dpi (Pillow's PDF writer maps one pixel to 72/resolution points).
_PAGE = (827, 1169)


def pdf_of_pages(*pages: Image.Image) -> bytes:
    """A PDF with one page per picture, 100 dpi."""
    out = io.BytesIO()
    first, *rest = [page.convert("RGB") for page in pages]
    first.save(out, "PDF", resolution=100.0, save_all=True, append_images=rest)
    return out.getvalue()


def blank_page() -> Image.Image:
    return Image.new("L", _PAGE, 255)


def page_with(png: bytes) -> Image.Image:
    """A page with the picture (a QR code) pasted near its top left corner."""
    page = blank_page()
    with Image.open(io.BytesIO(png)) as picture:
        page.paste(picture.convert("L"), (80, 80))
    return page


def certificate_pdf(services: Services, code: str, format_name: str) -> bytes:
    """certdist's own PDF (``pdf``, ``shc-pdf`` or ``eu-dcc-pdf``) of beneficiary ``code``."""
    operator = Principal(subject="test", username="test", roles=frozenset(), issuer="test")
    permission = Permission.DISTRIBUTE
    bundle = services.distribution.wallet.bundle(code, caller=operator, permission=permission)
    artifact = services.distribution.certificates.render(
        bundle, format_name, caller=operator, permission=permission
    )
    assert artifact.content.startswith(b"%PDF-")
    return artifact.content


def bare_pdf(mediabox: str, pages: int = 1) -> bytes:
    """A hand-written PDF of empty pages with this ``/MediaBox`` (odd ones included)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    page = f"<< /Type /Page /Parent 2 0 R /MediaBox [{mediabox}] >>".encode()
    objects.extend([page] * pages)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out.write(b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets))
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    out.write(trailer.encode())
    return out.getvalue()
