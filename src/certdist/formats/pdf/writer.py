"""Serialising a one-page PDF from prepared object bodies.

The renderer hands over finished object bodies (``<<...>>`` dictionaries and streams) in
object-number order; this module adds the ``n 0 obj`` wrappers, the cross-reference table
and the trailer. Nothing here depends on the page content, so assembly costs a few
microseconds plus one pass over the bytes.
"""

from __future__ import annotations

import hashlib
import zlib

HEADER = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"


def stream(content: bytes, *, level: int = 6, extra: bytes = b"") -> bytes:
    """A Flate-compressed stream object body."""
    packed = zlib.compress(content, level)
    return b"<<%s/Length %d/Filter/FlateDecode>>stream\n%s\nendstream" % (
        extra,
        len(packed),
        packed,
    )


def text_string(value: str) -> bytes:
    """A PDF text string: literal for printable ASCII, UTF-16BE with BOM otherwise."""
    if value.isascii() and value.isprintable():
        escaped = value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return b"(" + escaped.encode("ascii") + b")"
    return b"<FEFF" + value.encode("utf-16-be").hex().upper().encode("ascii") + b">"


def document(bodies: list[bytes], *, root: int, info: int | None, seed: bytes) -> bytes:
    """The complete file: ``bodies[i]`` becomes object ``i + 1``.

    ``seed`` makes the trailer ``/ID`` (a digest, so equal inputs give equal files).
    """
    parts = [HEADER]
    offsets = []
    position = len(HEADER)
    for number, body in enumerate(bodies, start=1):
        head = b"%d 0 obj\n" % number
        offsets.append(position)
        parts += (head, body, b"\nendobj\n")
        position += len(head) + len(body) + 8
    count = len(bodies) + 1
    xref = [b"xref\n0 %d\n0000000000 65535 f \n" % count]
    xref += [b"%010d 00000 n \n" % offset for offset in offsets]
    file_id = hashlib.md5(seed, usedforsecurity=False).hexdigest().upper().encode()
    info_ref = b"/Info %d 0 R" % info if info else b""
    trailer = b"trailer\n<</Size %d/Root %d 0 R%s/ID[<%s><%s>]>>\nstartxref\n%d\n%%%%EOF\n" % (
        count,
        root,
        info_ref,
        file_id,
        file_id,
        position,
    )
    parts += xref
    parts.append(trailer)
    return b"".join(parts)
