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


def scan(image: Any) -> list[bytes]:
    """The raw bytes of every QR code zxing-cpp finds in ``image``."""
    found = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    return [barcode.bytes for barcode in found]


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
