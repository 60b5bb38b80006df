"""The DIVOC QR payload: a deterministic one-entry ZIP, in raw and DIVOC's UTF-8 form."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from typing import Any, cast

import pytest

from certdist.errors import InvalidInput
from certdist.formats.divoc_qr import (
    ENTRY_NAME,
    MAX_UNCOMPRESSED,
    PayloadForm,
    decode_payload,
    encode_payload,
)
from tests.support.credentials import make_credential

CERT = json.dumps(
    make_credential(name="श्रीमती क्षमा त्रिपाठी"), separators=(",", ":"), ensure_ascii=False
)


def _zip(entries: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as bundle:
        for name, content in entries.items():
            bundle.writestr(name, content)
    return buffer.getvalue()


def test_raw_form_is_a_single_deflated_entry_with_fixed_attributes() -> None:
    payload = encode_payload(CERT)
    with zipfile.ZipFile(io.BytesIO(payload)) as bundle:
        (entry,) = bundle.infolist()
        assert entry.filename == ENTRY_NAME
        assert entry.compress_type == zipfile.ZIP_DEFLATED
        assert entry.date_time == (1980, 1, 1, 0, 0, 0)
        assert entry.external_attr >> 16 == 0o100644
        assert entry.extra == b""
        assert bundle.read(entry) == CERT.encode()
        assert bundle.testzip() is None


def test_latin1_utf8_form_is_divocs_javascript_string_encoding() -> None:
    raw = encode_payload(CERT, form="zip")
    divoc = encode_payload(CERT, form="zip-latin1-utf8")
    assert divoc == raw.decode("latin-1").encode("utf-8")
    assert len(divoc) > len(raw)


@pytest.mark.parametrize("form", ["zip", "zip-latin1-utf8"])
def test_same_certificate_gives_same_bytes(form: PayloadForm) -> None:
    assert encode_payload(CERT, form=form) == encode_payload(CERT, form=form)


def test_bytes_do_not_depend_on_the_process() -> None:
    # A second interpreter, with another hash seed and another clock, gives the same archive.
    script = (
        "import sys; from certdist.formats.divoc_qr import encode_payload; "
        "sys.stdout.buffer.write(encode_payload(sys.stdin.read()))"
    )
    other = subprocess.run(
        [sys.executable, "-c", script],
        input=CERT.encode(),
        capture_output=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PYTHONIOENCODING": "utf-8", "PATH": ""},
    ).stdout
    assert other == encode_payload(CERT)


def test_different_certificates_give_different_payloads() -> None:
    other = CERT.replace("Sooraj Singh", "Sooraj Singh Jr")
    assert encode_payload(other) != encode_payload(CERT)


def test_unknown_form_is_refused() -> None:
    with pytest.raises(ValueError, match="form"):
        encode_payload(CERT, form=cast(Any, "base64"))


@pytest.mark.parametrize(
    "as_scanned",
    [
        pytest.param(lambda raw, divoc: raw, id="raw bytes"),
        pytest.param(lambda raw, divoc: raw.decode("latin-1"), id="raw bytes read as Latin-1 text"),
        pytest.param(lambda raw, divoc: divoc, id="divoc utf-8 bytes"),
        pytest.param(lambda raw, divoc: divoc.decode("utf-8"), id="divoc form read as UTF-8 text"),
        pytest.param(
            lambda raw, divoc: divoc.decode("latin-1"), id="divoc form read as Latin-1 text"
        ),
        pytest.param(lambda raw, divoc: bytearray(raw), id="bytearray"),
    ],
)
def test_every_form_decodes_to_the_certificate(
    as_scanned: Callable[[bytes, bytes], bytes | bytearray | str],
) -> None:
    raw = encode_payload(CERT)
    divoc = encode_payload(CERT, form="zip-latin1-utf8")
    scanned = as_scanned(raw, divoc)
    assert decode_payload(scanned) == CERT


def test_real_signed_certificate_round_trips(signed_compact: str) -> None:
    for form in ("zip", "zip-latin1-utf8"):
        payload = encode_payload(signed_compact, form=form)
        assert decode_payload(payload) == signed_compact
        assert json.loads(decode_payload(payload))["proof"]["type"] == "RsaSignature2018"


@pytest.mark.parametrize(
    "text",
    [CERT, "  " + CERT + "\n", "\ufeff" + CERT],
    ids=["compact", "whitespace", "byte order mark"],
)
def test_plain_json_is_accepted_as_text_and_bytes(text: str) -> None:
    assert json.loads(decode_payload(text)) == json.loads(CERT)
    assert json.loads(decode_payload(text.encode("utf-8"))) == json.loads(CERT)


def test_archives_written_by_other_zip_tools_are_read() -> None:
    assert decode_payload(_zip({ENTRY_NAME: CERT.encode()})) == CERT
    assert decode_payload(_zip({ENTRY_NAME: CERT.encode()}, method=zipfile.ZIP_STORED)) == CERT


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"hello",
        "hello",
        b"PK\x03\x04 not really a zip",
        b"\x00\x01\x02\xff" * 100,
        "{not json",
        b"{not json",
        "[1, 2, 3]",
        '"a string"',
        "\u4e2d\u6587",
        b"\xff{}",
    ],
)
def test_junk_is_invalid_input(junk: bytes | str) -> None:
    with pytest.raises(InvalidInput):
        decode_payload(junk)


def test_archive_with_an_extra_entry_is_refused() -> None:
    archive = _zip({ENTRY_NAME: CERT.encode(), "evil.json": b"{}"})
    with pytest.raises(InvalidInput, match="exactly one entry"):
        decode_payload(archive)


def test_archive_with_another_entry_name_is_refused() -> None:
    with pytest.raises(InvalidInput, match="exactly one entry"):
        decode_payload(_zip({"other.json": CERT.encode()}))


def test_archive_whose_entry_is_not_json_is_refused() -> None:
    with pytest.raises(InvalidInput):
        decode_payload(_zip({ENTRY_NAME: b"\xff\xfe not text"}))
    with pytest.raises(InvalidInput):
        decode_payload(_zip({ENTRY_NAME: b"[]"}))


def test_zip_bomb_is_refused() -> None:
    bomb = _zip({ENTRY_NAME: b"{" + b" " * (8 * 1024 * 1024) + b"}"})
    assert len(bomb) < 16 * 1024  # small enough to arrive in a request
    with pytest.raises(InvalidInput, match="too large"):
        decode_payload(bomb)


def test_zip_bomb_that_lies_about_its_size_is_refused() -> None:
    # Declare 2 bytes in both headers while the data inflates to 1 MB: reading must stop
    # at the cap instead of trusting the header.
    content = b"{" + b" " * (1024 * 1024) + b"}"
    archive = bytearray(encode_payload(content.decode()))
    struct.pack_into("<I", archive, 22, 2)  # local header: uncompressed size
    central = archive.index(b"PK\x01\x02")
    struct.pack_into("<I", archive, central + 24, 2)  # central directory: uncompressed size
    with pytest.raises(InvalidInput):
        decode_payload(bytes(archive))


def test_entry_at_the_cap_is_still_accepted() -> None:
    filler = " " * (MAX_UNCOMPRESSED - len(CERT.encode()))
    text = "{" + filler + CERT[1:]
    assert len(text.encode()) == MAX_UNCOMPRESSED
    assert decode_payload(encode_payload(text)) == text


def test_encrypted_entries_are_refused() -> None:
    archive = bytearray(encode_payload(CERT))
    struct.pack_into("<H", archive, 6, 1)  # local header: encrypted
    central = archive.index(b"PK\x01\x02")
    struct.pack_into("<H", archive, central + 8, 1)
    with pytest.raises(InvalidInput):
        decode_payload(bytes(archive))


def test_corrupted_archive_is_refused() -> None:
    archive = bytearray(encode_payload(CERT))
    archive[40] ^= 0xFF  # inside the DEFLATE data: CRC or inflate fails
    with pytest.raises(InvalidInput):
        decode_payload(bytes(archive))


def test_oversized_input_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidInput, match="too large"):
        decode_payload(b"PK\x03\x04" + b"\x00" * (128 * 1024))
    with pytest.raises(InvalidInput, match="too large"):
        decode_payload("{" + " " * (128 * 1024) + "}")


def test_deflate_stream_is_raw_and_readable_by_zlib() -> None:
    payload = encode_payload(CERT)
    (name_length,) = struct.unpack_from("<H", payload, 26)
    (packed_size,) = struct.unpack_from("<I", payload, 18)
    start = 30 + name_length
    data = payload[start : start + packed_size]
    assert zlib.decompress(data, -15) == CERT.encode()
