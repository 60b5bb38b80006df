"""Reading QR codes back from images, as a phone would: Pillow decodes, zxing-cpp scans."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import zxingcpp

from tests.support.environment import require


def open_image(data: bytes) -> Any:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - depends on the environment
        require(False, "Pillow is needed to decode PNG images (pip install pillow)")
        raise
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def read_qr_codes(image: Any) -> list[Any]:
    """Every QR code zxing-cpp finds in ``image``, each once: some zxing-cpp releases (the
    lowest this project allows among them) now and then report one large symbol twice, at
    the same place; a second symbol elsewhere in the image is kept."""
    found = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    kept: list[Any] = []
    for barcode in found:
        centre = _centre(barcode)
        if not any(
            other.bytes == barcode.bytes and _distance(_centre(other), centre) < 10
            for other in kept
        ):
            kept.append(barcode)
    return kept


def _centre(barcode: Any) -> tuple[float, float]:
    corners = [barcode.position.top_left, barcode.position.bottom_right]
    return (sum(c.x for c in corners) / 2, sum(c.y for c in corners) / 2)


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) ** 0.5)


def scan(image: Any) -> list[bytes]:
    """The raw bytes of every QR code zxing-cpp finds in ``image`` (:func:`read_qr_codes`)."""
    return [barcode.bytes for barcode in read_qr_codes(image)]


def rasterise_pdf(pdf: bytes, directory: Path, dpi: int = 200) -> Any:
    """Page 1 of ``pdf`` as an image, rendered by poppler's pdftoppm at ``dpi``."""
    require(shutil.which("pdftoppm"), "pdftoppm not found (Debian package poppler-utils)")
    source = directory / "page.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", "-singlefile", str(source), str(directory / "page")],
        check=True,
        capture_output=True,
    )
    return open_image((directory / "page.png").read_bytes())


def pdf_text(pdf: bytes, directory: Path, *, layout: bool = False) -> str:
    """The text poppler's pdftotext extracts from ``pdf``."""
    require(shutil.which("pdftotext"), "pdftotext not found (Debian package poppler-utils)")
    source = directory / "text.pdf"
    source.write_bytes(pdf)
    options = ["-layout"] if layout else []
    result = subprocess.run(
        ["pdftotext", *options, "-enc", "UTF-8", str(source), "-"],
        check=True,
        capture_output=True,
    )
    return result.stdout.decode("utf-8")
