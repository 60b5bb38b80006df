"""The payload of a DIVOC certificate QR code (docs/architecture.md, “Wire compatibility with
DIVOC”).

A DIVOC QR holds a ZIP archive with a single DEFLATE entry ``certificate.json`` containing the
compact signed credential. DIVOC's Node service built the archive as a JavaScript string, so
what went into the QR was the UTF-8 encoding of the ZIP bytes read as Latin-1 (form
``zip-latin1-utf8``, about 1.45x larger). Raw ZIP bytes (form ``zip``) need a smaller QR.
Verifiers must accept both, plus plain JSON.

The archive is built by hand rather than with :mod:`zipfile`: every header field is fixed
(timestamp 1980-01-01 00:00, Unix attributes 0644, no extra fields, no data descriptor), so
the same certificate always yields the same bytes and therefore the same QR, PDF and ETag.
Reading goes through :mod:`zipfile` with hard limits, since a QR is untrusted input.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from typing import Literal

from certdist.errors import InvalidInput

PayloadForm = Literal["zip", "zip-latin1-utf8"]

ENTRY_NAME = "certificate.json"
#: A signed certificate is 2-4 KB; a QR holds at most 2,953 bytes. Anything that inflates
#: past this is not a certificate (and may be a zip bomb), so reading stops here.
MAX_UNCOMPRESSED = 64 * 1024
#: The UTF-8 form of the largest possible QR payload is below 6 KB; plain JSON may be
#: larger than a QR can hold (uploads), but never larger than this.
MAX_INPUT = 64 * 1024

_NAME = ENTRY_NAME.encode("ascii")
_DOS_TIME = 0  # 00:00:00
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, the earliest date a ZIP can hold
_VERSION_NEEDED = 20  # 2.0: DEFLATE
_VERSION_MADE_BY = (3 << 8) | 20  # Unix, spec 2.0
_UNIX_FILE_0644 = (0o100644 << 16) & 0xFFFFFFFF
_LOCAL_MAGIC = b"PK\x03\x04"
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_END = struct.Struct("<4sHHHHIIH")


def _deflate_raw(data: bytes) -> bytes:
    # Level 9: the payload is tiny (a few KB), so the best ratio costs only microseconds and
    # every byte saved can lower the QR version.
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    return compressor.compress(data) + compressor.flush()


def _zip_single_entry(content: bytes) -> bytes:
    crc = zlib.crc32(content)
    packed = _deflate_raw(content)
    local = _LOCAL.pack(
        _LOCAL_MAGIC,
        _VERSION_NEEDED,
        0,  # flags: no encryption, no data descriptor, ASCII name
        zipfile.ZIP_DEFLATED,
        _DOS_TIME,
        _DOS_DATE,
        crc,
        len(packed),
        len(content),
        len(_NAME),
        0,
    )
    central = _CENTRAL.pack(
        b"PK\x01\x02",
        _VERSION_MADE_BY,
        _VERSION_NEEDED,
        0,
        zipfile.ZIP_DEFLATED,
        _DOS_TIME,
        _DOS_DATE,
        crc,
        len(packed),
        len(content),
        len(_NAME),
        0,  # extra length
        0,  # comment length
        0,  # disk number
        0,  # internal attributes
        _UNIX_FILE_0644,
        0,  # offset of the local header
    )
    central_offset = len(local) + len(_NAME) + len(packed)
    central_size = len(central) + len(_NAME)
    end = _END.pack(b"PK\x05\x06", 0, 0, 1, 1, central_size, central_offset, 0)
    return b"".join((local, _NAME, packed, central, _NAME, end))


def encode_payload(certificate_json: str, *, form: PayloadForm = "zip") -> bytes:
    """The QR payload for one signed certificate (its compact JSON text, exactly as signed).

    ``zip`` gives the raw archive; ``zip-latin1-utf8`` gives what DIVOC's Node service put
    into its QR codes. Both are deterministic.
    """
    archive = _zip_single_entry(certificate_json.encode("utf-8"))
    if form == "zip":
        return archive
    if form == "zip-latin1-utf8":
        return archive.decode("latin-1").encode("utf-8")
    raise ValueError(f"unknown QR payload form {form!r}")


def decode_payload(data: bytes | bytearray | memoryview | str) -> str:
    """The certificate JSON text held by a QR payload in any form DIVOC clients produce.

    Accepts raw ZIP bytes, their UTF-8 (Latin-1-decoded) form, a ``str`` holding either (as
    QR scanners return text), or plain JSON. Raises :class:`InvalidInput` for anything else.
    """
    raw = _as_bytes(data)
    if len(raw) > MAX_INPUT:
        raise InvalidInput("QR payload is too large")
    if raw.startswith(_LOCAL_MAGIC):
        return _decode_zip_forms(raw)
    if raw.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{"):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("QR payload is not UTF-8 JSON") from None
        return _checked_json(text)
    raise InvalidInput("QR payload is neither a DIVOC ZIP archive nor JSON")


def _as_bytes(data: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    if len(data) > MAX_INPUT:
        raise InvalidInput("QR payload is too large")
    if data.removeprefix("\ufeff").lstrip().startswith("{"):
        return data.encode("utf-8")
    # A scanner hands back the QR bytes as text: Latin-1 (the QR default) maps them one to
    # one, so encoding back to Latin-1 recovers the bytes whichever form was in the QR.
    try:
        return data.encode("latin-1")
    except UnicodeEncodeError:
        raise InvalidInput("QR payload is neither a DIVOC ZIP archive nor JSON") from None


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decode_zip_forms(raw: bytes) -> str:
    try:
        return _read_archive(raw)
    except InvalidInput:
        # Not a valid archive as it stands: it may be DIVOC's UTF-8-of-Latin-1 form.
        if not _is_utf8(raw):
            raise
    try:
        archive = raw.decode("utf-8").encode("latin-1")
    except UnicodeEncodeError:
        raise InvalidInput("QR payload is not a valid DIVOC ZIP archive") from None
    return _read_archive(archive)


def _read_archive(archive: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
            entries = bundle.infolist()
            if len(entries) != 1 or entries[0].filename != ENTRY_NAME:
                raise InvalidInput(f"a DIVOC QR archive holds exactly one entry {ENTRY_NAME!r}")
            entry = entries[0]
            if entry.flag_bits & 0x1:
                raise InvalidInput("encrypted QR archives are not accepted")
            if entry.compress_type not in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED):
                raise InvalidInput("QR archive uses an unsupported compression method")
            if entry.file_size > MAX_UNCOMPRESSED:
                raise InvalidInput("QR archive entry is too large")
            with bundle.open(entry) as stream:
                # Read one byte past the cap: the declared size may lie.
                content = stream.read(MAX_UNCOMPRESSED + 1)
    except InvalidInput:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, OSError):
        raise InvalidInput("QR payload is not a valid DIVOC ZIP archive") from None
    if len(content) > MAX_UNCOMPRESSED:
        raise InvalidInput("QR archive entry is too large")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("QR archive entry is not UTF-8 text") from None
    return _checked_json(text)


def _checked_json(text: str) -> str:
    if len(text) > MAX_UNCOMPRESSED:
        raise InvalidInput("QR payload is not a JSON certificate")
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
        raise InvalidInput("QR payload is not a JSON certificate") from None
    if not isinstance(parsed, dict):
        raise InvalidInput("QR payload is not a JSON certificate")
    return text
