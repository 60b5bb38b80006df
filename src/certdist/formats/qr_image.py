"""QR codes from payload bytes, with the C-backed encoder of the ``zxing-cpp`` wheel.

Pure-Python encoders take 60-100 ms for a certificate-sized (v27-v35) symbol; zxing-cpp
takes about 3 ms with automatic mask selection and about 0.5 ms with a fixed mask
(measured by ``bench/bench_render.py``). Mask selection only chooses among eight XOR
patterns to avoid large single-colour areas; every decoder reads the mask from the
symbol's format information. The payload here is DEFLATE output, which is already close
to random, so the eight penalty scores differ by only a few percent (measured over sample
certificates), and a fixed mask costs no scan reliability. :data:`FAST_MASK` is therefore
the default; pass ``mask=None`` to let the encoder pick by the ISO 18004 penalty rules.

Payloads are passed to the encoder as ``bytes``, so they are encoded byte for byte (no
character-set conversion, no ECI header): a scanner's raw bytes equal the payload.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any, Literal, cast

import zxingcpp

from certdist.errors import InvalidInput

ErrorCorrection = Literal["L", "M", "Q", "H"]

#: The mask used unless a caller asks for automatic selection (see the module docstring).
FAST_MASK = 3

# zxing-cpp renders dark modules as 0 and light ones as 255; we keep 1 = dark.
_TO_BITS = bytes.maketrans(b"\x00\xff", b"\x01\x00")
_DARK_RUN = re.compile(b"\x01+")
# PNG 1-bit gray: a set bit is white, so a dark module (1) becomes the digit 0.
_PNG_DIGITS = bytes.maketrans(b"\x00\x01", b"10")


@dataclass(frozen=True, slots=True)
class QrMatrix:
    """The modules of one QR symbol, without quiet zone.

    ``modules`` holds ``size * size`` bytes in row-major order, 1 for a dark module and 0
    for a light one: a compact form that the PDF and PNG writers can slice without
    building Python objects per module.
    """

    version: int
    size: int
    ec: str
    modules: bytes

    def is_dark(self, x: int, y: int) -> bool:
        return self.modules[y * self.size + x] == 1

    def row(self, y: int) -> bytes:
        return self.modules[y * self.size : (y + 1) * self.size]

    @property
    def grid(self) -> tuple[tuple[bool, ...], ...]:
        """The modules as booleans (True = dark), one tuple per row."""
        return tuple(tuple(v == 1 for v in self.row(y)) for y in range(self.size))

    def dark_runs(self) -> list[tuple[int, int, int]]:
        """Horizontal runs of dark modules as ``(x, y, length)``, row by row."""
        runs: list[tuple[int, int, int]] = []
        for y in range(self.size):
            for match in _DARK_RUN.finditer(self.row(y)):
                start, end = match.span()
                runs.append((start, y, end - start))
        return runs


def qr_matrix(payload: bytes, *, ec: str = "M", mask: int | None = FAST_MASK) -> QrMatrix:
    """Encode ``payload`` (bytes, byte for byte) as the smallest QR symbol at level ``ec``."""
    if ec not in ("L", "M", "Q", "H"):
        raise ValueError(f"unknown QR error correction level {ec!r}")
    if mask is not None and not 0 <= mask <= 7:
        raise ValueError("a QR mask is 0-7, or None for automatic selection")
    options: dict[str, object] = {"ec_level": ec}
    if mask is not None:
        options["data_mask"] = mask
    try:
        symbol = zxingcpp.create_barcode(bytes(payload), zxingcpp.BarcodeFormat.QRCode, **options)
    except ValueError as exc:  # zxing-cpp reports "input too long" this way
        raise InvalidInput(f"payload does not fit in a QR code at level {ec}") from exc
    # zxing-cpp's Image supports the buffer protocol, but its stub does not declare it.
    image = memoryview(cast(Any, symbol.to_image(scale=1, add_quiet_zones=False)))
    shape = image.shape or ()
    if len(shape) != 2 or shape[0] != shape[1] or shape[0] < 21:
        raise RuntimeError("QR encoder returned an unexpected image")
    size = shape[0]
    return QrMatrix(
        version=(size - 17) // 4,
        size=size,
        ec=ec,
        modules=image.tobytes().translate(_TO_BITS),
    )


def matrix_png(matrix: QrMatrix, *, module_px: int = 4, quiet_zone: int = 4) -> bytes:
    """A 1-bit grayscale PNG of ``matrix``: lossless, and the smallest raster form.

    Modules are widened with ``module_px`` strided slice assignments over the whole matrix
    and turned into ``0``/``1`` digits with ``bytes.translate``; each row is then packed with
    ``int(..., 2)``. All of that runs in C: there is no per-module Python work.
    """
    if module_px < 1 or quiet_zone < 0:
        raise ValueError("module_px must be >= 1 and quiet_zone >= 0")
    width = (matrix.size + 2 * quiet_zone) * module_px
    pad = b"0" * (-width % 8)
    row_bytes = (width + len(pad)) // 8
    margin = b"1" * (quiet_zone * module_px)
    wide = bytearray(len(matrix.modules) * module_px)
    for offset in range(module_px):
        wide[offset::module_px] = matrix.modules
    digits = wide.translate(_PNG_DIGITS)
    line_len = matrix.size * module_px

    # Each module row becomes module_px identical pixel rows. The first is written with PNG
    # filter 0 (None); the repeats use filter 2 (Up), which turns them into zero bytes that
    # DEFLATE squeezes to almost nothing, at a fraction of the time of compressing copies.
    repeat = (b"\x02" + bytes(row_bytes)) * (module_px - 1)

    def pixel_rows(bits: bytes) -> bytes:
        return b"\x00" + int(bits, 2).to_bytes(row_bytes, "big") + repeat

    rows = []
    if quiet_zone:
        blank = pixel_rows(b"1" * width + pad)
        blank += (b"\x02" + bytes(row_bytes)) * (module_px * (quiet_zone - 1))
        rows.append(blank)
    for start in range(0, len(digits), line_len):
        rows.append(pixel_rows(margin + digits[start : start + line_len] + margin + pad))
    if quiet_zone:
        rows.append(blank)
    # Z_RLE suits filtered rows that are mostly zero bytes: it is both smaller and ~10x
    # faster here than the default strategy at level 6 (measured: 0.06 ms vs 0.6 ms).
    packer = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    idat = packer.compress(b"".join(rows)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, width, 1, 0, 0, 0, 0)
    return b"".join(
        (b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header), _chunk(b"IDAT", idat), _chunk(b"IEND", b""))
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def qr_png(
    payload: bytes,
    *,
    ec: str = "M",
    module_px: int = 4,
    quiet_zone: int = 4,
    mask: int | None = FAST_MASK,
) -> bytes:
    """The QR code of ``payload`` as a 1-bit PNG with a ``quiet_zone``-module white border."""
    return matrix_png(
        qr_matrix(payload, ec=ec, mask=mask), module_px=module_px, quiet_zone=quiet_zone
    )


def matrix_svg(matrix: QrMatrix, *, module_px: int = 4, quiet_zone: int = 4) -> str:
    """An SVG of ``matrix``: one path of dark runs in module units, scaled by the viewBox."""
    side = matrix.size + 2 * quiet_zone
    path = "".join(
        f"M{x + quiet_zone} {y + quiet_zone}h{n}v1h-{n}z" for x, y, n in matrix.dark_runs()
    )
    px = side * module_px
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{px}" height="{px}" '
        f'viewBox="0 0 {side} {side}" shape-rendering="crispEdges">'
        f'<rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path fill="#000" d="{path}"/></svg>'
    )


def qr_svg(
    payload: bytes,
    *,
    ec: str = "M",
    module_px: int = 4,
    quiet_zone: int = 4,
    mask: int | None = FAST_MASK,
) -> str:
    """The QR code of ``payload`` as an SVG document."""
    return matrix_svg(
        qr_matrix(payload, ec=ec, mask=mask), module_px=module_px, quiet_zone=quiet_zone
    )
