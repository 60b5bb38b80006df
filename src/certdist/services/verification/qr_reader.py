"""Reading QR codes out of an image with zxing-cpp (photos in :mod:`.detect`, rendered PDF
pages in :mod:`.pdf`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Pillow is imported only when an image is actually read
    from PIL.Image import Image


def read_qr_codes(image: Image) -> list[bytes]:
    """The raw bytes of every QR code zxing-cpp reads in a (grayscale) image."""
    import zxingcpp

    found = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    return [bytes(barcode.bytes) for barcode in found if barcode.valid]
