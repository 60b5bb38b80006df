"""QR encoding with zxing-cpp: exact bytes back from a scan, versions, PNG and SVG output."""

from __future__ import annotations

import base64
import json
import os
import random
import xml.etree.ElementTree as ET

import pytest

from certdist.errors import InvalidInput
from certdist.formats.divoc_qr import PayloadForm, encode_payload
from certdist.formats.qr_image import matrix_png, qr_matrix, qr_png, qr_svg
from tests.support.credentials import make_credential
from tests.support.imaging import open_image, read_qr_codes, scan

BINARY = bytes(range(256)) * 3  # every byte value, not valid UTF-8


def test_binary_payload_scans_back_byte_for_byte() -> None:
    image = open_image(qr_png(BINARY))
    assert scan(image) == [BINARY]


@pytest.mark.parametrize("form", ["zip", "zip-latin1-utf8"])
def test_divoc_payload_scans_back_byte_for_byte(signed_compact: str, form: PayloadForm) -> None:
    payload = encode_payload(signed_compact, form=form)
    assert scan(open_image(qr_png(payload))) == [payload]


@pytest.mark.parametrize(
    ("form", "versions"),
    [
        # Measured with DIVOC's signed test certificate (1,714 bytes of compact JSON): raw
        # ZIP 1,088 bytes -> version 27, the UTF-8 form 1,576 bytes -> version 33, at level
        # M. One version of slack allows for another zlib build compressing a little worse.
        ("zip", (27, 28)),
        ("zip-latin1-utf8", (33, 34)),
    ],
)
def test_qr_version_of_the_signed_divoc_certificate(
    signed_compact: str, form: PayloadForm, versions: tuple[int, int]
) -> None:
    matrix = qr_matrix(encode_payload(signed_compact, form=form))
    assert versions[0] <= matrix.version <= versions[1]
    assert matrix.size == 17 + 4 * matrix.version
    assert matrix.ec == "M"


def test_qr_version_of_a_full_cowin_style_certificate() -> None:
    # Real certificates carry certificate-id URLs, full addresses and an RSA proof: DESIGN §2
    # puts them at about 1.2 KB zipped (v28-29) and 1.7 KB in DIVOC's form (v34-35).
    credential = make_credential(dose=2, total=2)
    credential["proof"] = {
        "type": "RsaSignature2018",
        "created": "2021-08-28T11:35:43Z",
        "verificationMethod": "did:india",
        "proofPurpose": "assertionMethod",
        # An RSA-2048 signature: 256 random-looking bytes, base64url.
        "jws": "eyJhbGciOiJQUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19.."
        + base64.urlsafe_b64encode(random.Random(7).randbytes(256)).decode().rstrip("="),
    }
    text = json.dumps(credential, separators=(",", ":"))
    raw = qr_matrix(encode_payload(text))
    divoc = qr_matrix(encode_payload(text, form="zip-latin1-utf8"))
    # Measured: 28 and 34.
    assert 28 <= raw.version <= 29
    assert 34 <= divoc.version <= 35


@pytest.mark.parametrize("ec", ["L", "M", "Q", "H"])
def test_error_correction_level_is_applied(ec: str) -> None:
    payload = b"certdist" * 20
    image = open_image(qr_png(payload, ec=ec))
    (found,) = read_qr_codes(image)
    assert found.bytes == payload
    assert found.ec_level == ec


def test_default_level_is_m() -> None:
    (found,) = read_qr_codes(open_image(qr_png(b"hello")))
    assert found.ec_level == "M"


@pytest.mark.parametrize("mask", [None, 0, 3, 7])
def test_fixed_and_automatic_masks_both_scan(mask: int | None) -> None:
    payload = os.urandom(900)
    assert scan(open_image(qr_png(payload, mask=mask))) == [payload]


def test_matrix_is_deterministic() -> None:
    payload = os.urandom(500)
    assert qr_matrix(payload) == qr_matrix(payload)
    assert qr_png(payload) == qr_png(payload)


@pytest.mark.parametrize(("module_px", "quiet_zone"), [(1, 4), (3, 2), (4, 4), (6, 0)])
def test_png_geometry_and_pixels(module_px: int, quiet_zone: int) -> None:
    matrix = qr_matrix(b"geometry check" * 5)
    image = open_image(matrix_png(matrix, module_px=module_px, quiet_zone=quiet_zone))
    side = (matrix.size + 2 * quiet_zone) * module_px
    assert image.size == (side, side)
    assert image.mode == "1"  # 1-bit grayscale: lossless and smallest
    gray = image.convert("L")
    for y in range(matrix.size):
        for x in range(matrix.size):
            # Sample the far corner of each module so scaling errors would show.
            px = (
                (x + quiet_zone) * module_px + module_px - 1,
                (y + quiet_zone) * module_px + module_px - 1,
            )
            assert (gray.getpixel(px) == 0) == matrix.is_dark(x, y)
    if quiet_zone:
        assert gray.getpixel((0, 0)) == 255


def test_grid_matches_modules() -> None:
    matrix = qr_matrix(b"grid")
    grid = matrix.grid
    assert len(grid) == matrix.size
    assert all(len(row) == matrix.size for row in grid)
    assert grid[0][0] is True  # finder pattern corner
    assert grid[7][7] is False  # separator
    assert sum(map(sum, grid)) == matrix.modules.count(1)


def test_svg_is_well_formed_and_draws_every_dark_module() -> None:
    matrix = qr_matrix(b"svg output")
    svg = qr_svg(b"svg output")
    root = ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted input
    path = root.find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    drawn = sum(int(part.split("h")[1].split("v")[0]) for part in path.attrib["d"].split("M")[1:])
    assert drawn == matrix.modules.count(1)


def test_payload_too_large_for_any_qr_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="does not fit"):
        qr_matrix(b"x" * 3000)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="error correction"):
        qr_matrix(b"x", ec="Z")
    with pytest.raises(ValueError, match="mask"):
        qr_matrix(b"x", mask=8)
    with pytest.raises(ValueError, match="module_px"):
        matrix_png(qr_matrix(b"x"), module_px=0)
