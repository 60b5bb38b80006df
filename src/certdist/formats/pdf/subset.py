"""TrueType subsetting and the PDF objects of an embedded font.

Subsets keep every glyph id (unused glyphs become empty), so content streams can name
glyphs by their id in the full font (Identity-H, CID = GID) whatever subset is embedded:
the static page and the per-request text are written once against the full font.

A small purpose-built subsetter is used instead of ``fontTools.subset``: it only copies
glyph records and rewrites ``loca``, which takes 1-2 ms for a few hundred glyphs where
fontTools takes 60-200 ms per face (measured). That matters when a beneficiary's name
needs glyphs outside the prebuilt subset (rare scripts, conjuncts): the request builds an
extended subset then.
Hinting instructions are stripped: they only serve low-resolution screens, and the
certificate is a print document.
"""

from __future__ import annotations

import hashlib
import struct
import sys
import zlib
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

from certdist.formats.pdf.fonts import Face

# Composite glyph flags (OpenType 'glyf' table).
_ARG_WORDS = 0x0001
_HAVE_SCALE = 0x0008
_MORE_COMPONENTS = 0x0020
_HAVE_XY_SCALE = 0x0040
_HAVE_2X2 = 0x0080
_HAVE_INSTRUCTIONS = 0x0100

# Tables a PDF viewer needs from an embedded TrueType program (ISO 32000-1 §9.9), plus
# OS/2 and gasp. With Identity CID-to-GID mapping no character map is used, so the subset
# carries an empty one (some rasterisers refuse a font without any) and no name table.
_COPIED = (b"OS/2", b"hhea", b"maxp", b"gasp")
_EMPTY_CMAP = (
    struct.pack(">HHHHI", 0, 1, 3, 1, 12)  # version 0, one subtable: Windows BMP, at 12
    + struct.pack(">HHHHHHH", 4, 24, 0, 2, 2, 0, 0)  # format 4, 24 bytes, one segment
    + struct.pack(">HHHhH", 0xFFFF, 0, 0xFFFF, 1, 0)  # the mandatory last segment only
)


def _loca(face: Face) -> list[int]:
    head = face.table(b"head") or b""
    (long_format,) = struct.unpack_from(">h", head, 50)
    raw = face.table(b"loca") or b""
    count = face.num_glyphs + 1
    if long_format:
        return list(struct.unpack_from(f">{count}I", raw))
    return [2 * v for v in struct.unpack_from(f">{count}H", raw)]


class GlyphSource:
    """Random access to one face's glyph records (parsed once per face and process)."""

    def __init__(self, face: Face) -> None:
        self.face = face
        self.offsets = _loca(face)
        self.glyf = face.table(b"glyf") or b""
        self._unhinted: dict[int, bytes] = {}

    def record(self, gid: int) -> bytes:
        if not 0 <= gid < self.face.num_glyphs:
            return b""
        return self.glyf[self.offsets[gid] : self.offsets[gid + 1]]

    def unhinted(self, gid: int) -> bytes:
        """The record without instructions or padding (cached: subsets reuse it)."""
        cached = self._unhinted.get(gid)
        if cached is None:
            cached = self._unhinted[gid] = _strip_instructions(self.record(gid))
        return cached

    def closure(self, gids: Iterable[int]) -> set[int]:
        """``gids`` plus every glyph their composite glyphs are built from, plus .notdef."""
        todo = [0, *gids]
        done: set[int] = set()
        while todo:
            gid = todo.pop()
            if gid in done or not 0 <= gid < self.face.num_glyphs:
                continue
            done.add(gid)
            data = self.record(gid)
            if len(data) >= 10 and struct.unpack_from(">h", data, 0)[0] < 0:
                todo.extend(component for component, _ in _components(data))
        return done


def _components(data: bytes) -> list[tuple[int, int]]:
    """(glyph id, offset of the flags word) of each component of a composite glyph."""
    found = []
    pos = 10
    while pos + 4 <= len(data):
        flags, gid = struct.unpack_from(">HH", data, pos)
        found.append((gid, pos))
        pos += 4 + (4 if flags & _ARG_WORDS else 2)
        if flags & _HAVE_SCALE:
            pos += 2
        elif flags & _HAVE_XY_SCALE:
            pos += 4
        elif flags & _HAVE_2X2:
            pos += 8
        if not flags & _MORE_COMPONENTS:
            break
    return found


def _strip_instructions(data: bytes) -> bytes:
    """The glyph record without hinting instructions and without trailing padding."""
    if len(data) < 10:
        return b""
    (contours,) = struct.unpack_from(">h", data, 0)
    if contours >= 0:
        at = 10 + 2 * contours
        points = struct.unpack_from(">H", data, at - 2)[0] + 1 if contours else 0
        (length,) = struct.unpack_from(">H", data, at)
        body = data[at + 2 + length :]
        return data[:at] + b"\x00\x00" + body[: _outline_length(body, points)]
    components = _components(data)
    if not components:
        return data
    _, last = components[-1]
    (flags,) = struct.unpack_from(">H", data, last)
    end = last + 4 + (4 if flags & _ARG_WORDS else 2)
    end += (
        2 if flags & _HAVE_SCALE else 4 if flags & _HAVE_XY_SCALE else 8 if flags & _HAVE_2X2 else 0
    )
    patched = bytearray(data[:end])
    struct.pack_into(">H", patched, last, flags & ~_HAVE_INSTRUCTIONS)
    return bytes(patched)


def _outline_length(body: bytes, points: int) -> int:
    """Bytes used by the flags and coordinates of a simple glyph with ``points`` points."""
    pos = 0
    seen = 0
    x_bytes = y_bytes = 0
    while seen < points and pos < len(body):
        flag = body[pos]
        pos += 1
        repeat = 1
        if flag & 0x08:  # REPEAT_FLAG
            repeat += body[pos]
            pos += 1
        seen += repeat
        x_bytes += repeat * (1 if flag & 0x02 else 0 if flag & 0x10 else 2)
        y_bytes += repeat * (1 if flag & 0x04 else 0 if flag & 0x20 else 2)
    return pos + x_bytes + y_bytes


def _checksum(table: bytes) -> int:
    # array + sum rather than struct.unpack: several times faster on the CJK face's
    # 200 KB loca and hmtx (measured).
    words = array("I", table + b"\x00" * (-len(table) % 4))
    if sys.byteorder == "little":
        words.byteswap()
    return sum(words) & 0xFFFFFFFF


def subset_program(source: GlyphSource, gids: Iterable[int]) -> bytes:
    """A TrueType program with only ``gids`` (and their components) drawn, ids unchanged."""
    face = source.face
    keep = source.closure(gids)
    count = face.num_glyphs
    records = [(gid, _padded(source.unhinted(gid))) for gid in sorted(keep)]
    # The short loca form (offsets / 2) halves the table whenever the kept outlines fit in
    # 128 KB, as a name's always do; records are 4-byte aligned, so every offset is even.
    short = sum(len(record) for _, record in records) < 0x20000
    unit = 2 if short else 1
    # loca is filled per kept glyph, not per glyph: the CJK face has ~50,000 glyphs and a
    # name uses a few (a Python loop over all of them took 8 ms per subset, measured).
    loca = array("H" if short else "I", bytes((2 if short else 4) * (count + 1)))
    glyf = bytearray()
    last = 0  # loca[0 .. last] are final
    for gid, record in records:
        # The glyphs between the previous kept one and this one are empty: they start and
        # end where this one starts.
        loca[last + 1 : gid + 1] = array(loca.typecode, [len(glyf) // unit]) * (gid - last)
        glyf += record
        last = gid
    loca[last + 1 :] = array(loca.typecode, [len(glyf) // unit]) * (count - last)
    if sys.byteorder == "little":
        loca.byteswap()
    head = bytearray(face.table(b"head") or b"")
    struct.pack_into(">I", head, 8, 0)  # checkSumAdjustment, set below
    struct.pack_into(">h", head, 50, 0 if short else 1)  # indexToLocFormat
    post = face.table(b"post") or b""
    tables: dict[bytes, bytes] = {
        b"glyf": bytes(glyf),
        b"head": bytes(head),
        b"loca": loca.tobytes(),
        b"hmtx": _kept_metrics(face, keep),
        # post format 3: no glyph names (only the fixed header is kept).
        b"post": b"\x00\x03\x00\x00" + post[4:32],
        b"cmap": _EMPTY_CMAP,
    }
    for tag in _COPIED:
        table = face.table(tag)
        if table is not None:
            tables[tag] = table
    program, checksum = _sfnt(tables)
    adjustment = (0xB1B0AFBA - checksum) & 0xFFFFFFFF
    head_at = _table_offset(program, b"head")
    return program[: head_at + 8] + struct.pack(">I", adjustment) + program[head_at + 12 :]


def _padded(record: bytes) -> bytes:
    return record + b"\x00" * (-len(record) % 4)


def _kept_metrics(face: Face, keep: set[int]) -> bytes:
    """``hmtx`` with the entries of glyphs left out zeroed (same layout, so glyph ids keep
    their meaning). Copied whole, the CJK face's metrics added 31 KB to every PDF with a
    CJK name even compressed (measured); zeros compress to almost nothing. PDF viewers take
    advances from /W; the kept entries still serve the rasteriser's side bearings."""
    table = face.table(b"hmtx") or b""
    hhea = face.table(b"hhea") or b""
    (long_metrics,) = struct.unpack_from(">H", hhea, 34)
    out = bytearray(len(table))
    # Glyphs past the long metrics take the last long entry's advance: keep it.
    for gid in keep | {long_metrics - 1}:
        if gid < long_metrics:
            at, size = 4 * gid, 4
        else:
            at, size = 4 * long_metrics + 2 * (gid - long_metrics), 2
        out[at : at + size] = table[at : at + size]
    return bytes(out)


def _sfnt(tables: dict[bytes, bytes]) -> tuple[bytes, int]:
    """The font file of ``tables`` and its whole-file checksum.

    Tables start 4-byte aligned and padded with zeros, so the file's checksum is the sum
    of the header's and the tables' own: the large tables are summed once, not twice.
    """
    tags = sorted(tables)
    count = len(tags)
    power = 1 << (count.bit_length() - 1)
    header = struct.pack(
        ">IHHHH", 0x00010000, count, power * 16, power.bit_length() - 1, (count - power) * 16
    )
    offset = 12 + 16 * count
    directory = bytearray()
    body = bytearray()
    total = 0
    for tag in tags:
        table = tables[tag]
        checksum = _checksum(table)
        total += checksum
        directory += struct.pack(">4sIII", tag, checksum, offset + len(body), len(table))
        body += table + b"\x00" * (-len(table) % 4)
    start = header + bytes(directory)
    return start + bytes(body), (total + _checksum(start)) & 0xFFFFFFFF


def _table_offset(program: bytes, tag: bytes) -> int:
    (count,) = struct.unpack_from(">H", program, 4)
    for i in range(count):
        entry_tag, _c, offset, _l = struct.unpack_from(">4sIII", program, 12 + 16 * i)
        if entry_tag == tag:
            return int(offset)
    raise KeyError(tag)


@dataclass(frozen=True)
class EmbeddedFont:
    """The five PDF objects of one Type0 font, serialised without their object numbers.

    ``objects(first)`` numbers them ``first`` .. ``first + 4``; only the small dictionaries
    are formatted per call, the compressed font program and ToUnicode map are reused.
    """

    face: Face
    glyphs: frozenset[int]
    base_font: str
    widths: bytes
    program: bytes
    program_length: int
    to_unicode: bytes
    _numbered: dict[int, list[bytes]] = field(default_factory=dict, compare=False, repr=False)

    def objects(self, first: int) -> list[bytes]:
        cached = self._numbered.get(first)
        if cached is None:
            cached = self._numbered[first] = self._objects(first)
        return cached

    def _objects(self, first: int) -> list[bytes]:
        face = self.face
        name = self.base_font.encode()
        bbox = " ".join(str(round(v * face.scale)) for v in face.bbox).encode()
        flags = 4 | (1 << 18 if face.bold else 0)  # symbolic (+ force bold)
        return [
            b"<</Type/Font/Subtype/Type0/BaseFont/%s/Encoding/Identity-H"
            b"/DescendantFonts[%d 0 R]/ToUnicode %d 0 R>>" % (name, first + 1, first + 4),
            b"<</Type/Font/Subtype/CIDFontType2/BaseFont/%s"
            b"/CIDSystemInfo<</Registry(Adobe)/Ordering(Identity)/Supplement 0>>"
            b"/FontDescriptor %d 0 R/CIDToGIDMap/Identity/DW 0/W %s>>"
            % (name, first + 2, self.widths),
            b"<</Type/FontDescriptor/FontName/%s/Flags %d/FontBBox[%s]/ItalicAngle %s"
            b"/Ascent %d/Descent %d/CapHeight %d/StemV %d/FontFile2 %d 0 R>>"
            % (
                name,
                flags,
                bbox,
                _num(face.italic_angle),
                round(face.ascent * face.scale),
                round(face.descent * face.scale),
                round(face.cap_height * face.scale),
                120 if face.bold else 80,
                first + 3,
            ),
            b"<</Length %d/Length1 %d/Filter/FlateDecode>>stream\n%s\nendstream"
            % (len(self.program), self.program_length, self.program),
            b"<</Length %d/Filter/FlateDecode>>stream\n%s\nendstream"
            % (len(self.to_unicode), self.to_unicode),
        ]


def _num(value: float) -> bytes:
    return (b"%.3f" % value).rstrip(b"0").rstrip(b".") or b"0"


def embed(
    source: GlyphSource,
    gids: Iterable[int],
    extra_unicode: dict[int, str] | None = None,
    *,
    level: int = 9,
) -> EmbeddedFont:
    """Build the embedded form of ``source``'s face restricted to ``gids``.

    ``level`` is the zlib level: 9 for the subsets built once per process, lower for the
    occasional per-document subset where build time matters more than a few bytes.
    """
    face = source.face
    keep = frozenset(source.closure(gids))
    program = subset_program(source, keep)
    tag = _subset_tag(face, keep)
    # Only the kept glyphs are looked up: copying the CJK face's 33,000-entry map per
    # subset cost more than the subset itself.
    extra = extra_unicode or {}
    unicode_of: dict[int, str] = {}
    for gid in keep:
        text = face.unicode_of.get(gid) or extra.get(gid)
        if text:
            unicode_of[gid] = text
    return EmbeddedFont(
        face=face,
        glyphs=keep,
        base_font=f"{tag}+{face.ps_name}",
        widths=_widths(face, keep),
        program=zlib.compress(program, level),
        program_length=len(program),
        to_unicode=zlib.compress(_to_unicode(unicode_of), level),
    )


def _subset_tag(face: Face, gids: frozenset[int]) -> str:
    # Six capital letters, derived from the content so the same subset always has one name.
    digest = hashlib.sha256(
        face.digest.encode() + b"".join(g.to_bytes(2, "big") for g in sorted(gids))
    ).digest()
    return "".join(chr(ord("A") + b % 26) for b in digest[:6])


def _widths(face: Face, gids: frozenset[int]) -> bytes:
    """The /W array: runs of consecutive glyph ids with their widths in 1/1000 em."""
    parts: list[str] = []
    run: list[int] = []
    for gid in sorted(gids):
        if run and gid != run[-1] + 1:
            parts.append(_width_run(face, run))
            run = []
        run.append(gid)
    if run:
        parts.append(_width_run(face, run))
    return ("[" + "".join(parts) + "]").encode()


def _width_run(face: Face, run: list[int]) -> str:
    widths = " ".join(_num(face.advances[g] * face.scale).decode() for g in run)
    return f"{run[0]}[{widths}]"


def _to_unicode(mapping: dict[int, str]) -> bytes:
    lines = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo <</Registry (Adobe) /Ordering (UCS) /Supplement 0>> def",
        "/CMapName /Adobe-Identity-UCS def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        "<0000> <FFFF>",
        "endcodespacerange",
    ]
    items = sorted(mapping.items())
    for start in range(0, len(items), 100):  # at most 100 entries per block
        block = items[start : start + 100]
        lines.append(f"{len(block)} beginbfchar")
        lines.extend(
            f"<{gid:04X}> <{text.encode('utf-16-be').hex().upper()}>" for gid, text in block
        )
        lines.append("endbfchar")
    lines += [
        "endcmap",
        "CMapName currentdict /CMap defineresource pop",
        "end",
        "end",
    ]
    return "\n".join(lines).encode("ascii")
