"""Font files and the per-process parsed form of each face.

Fonts are parsed once per process (DESIGN §6): a :class:`Face` keeps the character map,
advance widths and raw TrueType tables it needs to measure text, shape it with HarfBuzz and
embed subsets. Defaults are the Debian ``fonts-noto-core`` files; every path can be given.
"""

from __future__ import annotations

import hashlib
import struct
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uharfbuzz as hb  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

from certdist.errors import ConfigurationError

NOTO_DIR = Path("/usr/share/fonts/truetype/noto")

#: Noto family (file stem prefix) per second-language code, for :meth:`FontPaths.for_language`.
SCRIPT_FONTS: dict[str, str] = {
    "hi": "NotoSansDevanagari",
    "mr": "NotoSansDevanagari",
    "ne": "NotoSansDevanagari",
    "sa": "NotoSansDevanagari",
    "kok": "NotoSansDevanagari",
    "mai": "NotoSansDevanagari",
    "bn": "NotoSansBengali",
    "as": "NotoSansBengali",
    "gu": "NotoSansGujarati",
    "pa": "NotoSansGurmukhi",
    "kn": "NotoSansKannada",
    "ml": "NotoSansMalayalam",
    "or": "NotoSansOriya",
    "ta": "NotoSansTamil",
    "te": "NotoSansTelugu",
    "si": "NotoSansSinhala",
    "ur": "NotoNaskhArabic",
}

#: Scripts a beneficiary's name may be written in, tried in this order after the Latin and
#: second-language faces. Missing files are skipped, so a slimmer font install still works.
DEFAULT_FALLBACK_FAMILIES = (
    "NotoSansDevanagari",
    "NotoSansBengali",
    "NotoSansGujarati",
    "NotoSansGurmukhi",
    "NotoSansKannada",
    "NotoSansMalayalam",
    "NotoSansOriya",
    "NotoSansTamil",
    "NotoSansTelugu",
    "NotoSansSinhala",
    "NotoNaskhArabic",
    "NotoSansThai",
    "NotoSansMyanmar",
    "NotoSansKhmer",
    "NotoSansHebrew",
)


@dataclass(frozen=True)
class FontPaths:
    """The TrueType files the PDF renderer uses (Debian's ``fonts-noto-core`` by default).

    ``regular``/``bold`` set English labels and Latin values; ``second_*`` the second
    language's labels; ``fallbacks`` cover other scripts in beneficiary data. Only TrueType
    outlines (``glyf``) are supported: the embedding path subsets them itself.
    """

    regular: Path = NOTO_DIR / "NotoSans-Regular.ttf"
    bold: Path = NOTO_DIR / "NotoSans-Bold.ttf"
    second_regular: Path | None = NOTO_DIR / "NotoSansDevanagari-Regular.ttf"
    second_bold: Path | None = NOTO_DIR / "NotoSansDevanagari-Bold.ttf"
    fallbacks: tuple[Path, ...] = field(
        default_factory=lambda: _existing(
            NOTO_DIR / f"{n}-Regular.ttf" for n in DEFAULT_FALLBACK_FAMILIES
        )
    )

    @classmethod
    def for_language(cls, code: str | None, directory: Path = NOTO_DIR) -> FontPaths:
        """Defaults for second language ``code`` (``None``: English only)."""
        family = SCRIPT_FONTS.get(code or "") if code else None
        if code and family is None and code != "en":
            raise ConfigurationError(f"no default font for language {code!r}; pass FontPaths")
        regular = directory / f"{family}-Regular.ttf" if family else None
        bold = directory / f"{family}-Bold.ttf" if family else None
        if bold is not None and not bold.exists():
            bold = regular
        return cls(
            regular=directory / "NotoSans-Regular.ttf",
            bold=directory / "NotoSans-Bold.ttf",
            second_regular=regular,
            second_bold=bold,
            fallbacks=_existing(directory / f"{n}-Regular.ttf" for n in DEFAULT_FALLBACK_FAMILIES),
        )


def _existing(paths: Iterable[Path]) -> tuple[Path, ...]:
    return tuple(p for p in paths if p.is_file())


def needs_shaping(char: str) -> bool:
    """Whether ``char`` may need OpenType shaping (reordering, conjuncts, marks, joining).

    Latin, Greek, Cyrillic and common symbols render one glyph per character from the
    ``cmap``; HarfBuzz is only called for text with other characters.
    """
    cp = ord(char)
    if cp < 0x0300 or 0x0370 <= cp < 0x0483 or 0x048A <= cp < 0x0530:
        return False
    if 0x1E00 <= cp < 0x2000 or 0x2100 <= cp < 0x2200 or 0x20A0 <= cp < 0x20D0:
        return False
    return not (0x2010 <= cp < 0x2070 and not 0x2028 <= cp <= 0x202E and cp != 0x2060)


def is_attached(char: str) -> bool:
    """Marks and joiners stay in the run of the character before them."""
    return unicodedata.category(char) in ("Mn", "Mc", "Me", "Cf")


def is_neutral(char: str) -> bool:
    """Spaces, punctuation and digits stay in the current run when its font has them."""
    return unicodedata.category(char)[0] in "ZPNS"


class Face:
    """One parsed font file: metrics, character map, raw tables, HarfBuzz font.

    ``resource`` is the PDF font resource name (``F1``...). Widths are kept in font units;
    ``scale`` converts them to PDF glyph space (1/1000 em).
    """

    def __init__(self, path: Path, resource: str) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"font file {path} cannot be read: {exc.strerror}; on Debian or Ubuntu install"
                " the Noto fonts with `scripts/install-system-deps --runtime`"
                " (package fonts-noto-core)"
            ) from None
        if data[:4] not in (b"\x00\x01\x00\x00", b"true"):
            raise ConfigurationError(f"font {path} is not a TrueType (glyf) font")
        self.path = path
        self.resource = resource
        self.data = data
        self.digest = hashlib.sha256(data).hexdigest()
        self.tables = _table_directory(data)
        font = TTFont(path, lazy=True)
        head: Any = font["head"]
        hhea: Any = font["hhea"]
        self.upem: int = head.unitsPerEm
        self.scale = 1000 / self.upem
        self.bbox = (head.xMin, head.yMin, head.xMax, head.yMax)
        self.ascent: int = hhea.ascent
        self.descent: int = hhea.descent
        os2: Any = font.get("OS/2")
        self.cap_height: int = getattr(os2, "sCapHeight", 0) or round(self.ascent * 0.7)
        self.bold = bool(os2 is not None and os2.usWeightClass >= 600)
        post: Any = font["post"]
        self.italic_angle = float(post.italicAngle)
        self.ps_name = _ps_name(font, path)
        self.num_glyphs: int = font["maxp"].numGlyphs
        glyph_ids = {name: i for i, name in enumerate(font.getGlyphOrder())}
        self.cmap: dict[int, int] = {
            cp: glyph_ids[name] for cp, name in font.getBestCmap().items() if name in glyph_ids
        }
        hmtx: Any = font["hmtx"]
        order = font.getGlyphOrder()
        self.advances: list[int] = [hmtx.metrics[name][0] for name in order]
        font.close()
        # Lowest code point per glyph: what text extraction maps a plain glyph back to.
        self.unicode_of: dict[int, str] = {}
        for cp in sorted(self.cmap, reverse=True):
            self.unicode_of[self.cmap[cp]] = chr(cp)
        self._hb_font: hb.Font | None = None
        # Filled by the renderer once the base subset is known: characters that can be
        # drawn straight from the cmap with glyphs already in the embedded subset.
        self.base_chars: frozenset[str] = frozenset()
        self.plain_hex: dict[int, str] = {}
        self.plain_width: dict[str, int] = {}

    @property
    def hb_font(self) -> hb.Font:
        if self._hb_font is None:
            self._hb_font = hb.Font(hb.Face(self.data))
        return self._hb_font

    def has(self, char: str) -> bool:
        return ord(char) in self.cmap

    def table(self, tag: bytes) -> bytes | None:
        entry = self.tables.get(tag)
        return None if entry is None else self.data[entry[0] : entry[0] + entry[1]]

    def prepare_plain(self, chars: Iterable[str]) -> None:
        """Precompute glyph hex codes and widths for characters drawn without shaping."""
        usable = [c for c in chars if ord(c) in self.cmap and not needs_shaping(c)]
        self.base_chars = frozenset(usable)
        self.plain_hex = {ord(c): f"{self.cmap[ord(c)]:04X}" for c in usable}
        self.plain_width = {c: self.advances[self.cmap[ord(c)]] for c in usable}

    def glyph_hex(self, text: str) -> str:
        """Hex glyph codes (Identity-H) for plain ``text`` whose characters the face has."""
        if self.base_chars.issuperset(text):
            return text.translate(self.plain_hex)
        return "".join(f"{self.cmap.get(ord(c), 0):04X}" for c in text)

    def plain_advance(self, text: str) -> int:
        if self.base_chars.issuperset(text):
            return sum(map(self.plain_width.__getitem__, text))
        return sum(self.advances[self.cmap.get(ord(c), 0)] for c in text)


def _table_directory(data: bytes) -> dict[bytes, tuple[int, int]]:
    (count,) = struct.unpack_from(">H", data, 4)
    tables: dict[bytes, tuple[int, int]] = {}
    for i in range(count):
        tag, _checksum, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * i)
        tables[tag] = (offset, length)
    return tables


def _ps_name(font: TTFont, path: Path) -> str:
    name = font["name"].getDebugName(6) if "name" in font else None
    raw = name or path.stem
    # PDF names: keep it to safe ASCII.
    return "".join(c for c in raw if c.isascii() and (c.isalnum() or c in "-_")) or "Font"
