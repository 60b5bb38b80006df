"""Font files and the per-process parsed form of each face.

Fonts are parsed once per process: a :class:`Face` keeps the character map,
advance widths and raw TrueType tables it needs to measure text, shape it with HarfBuzz and
embed subsets. The defaults are the faces shipped in the package (``fontfiles/``: Noto and
Droid Sans Fallback, see its README), so rendering needs no system fonts; a font folder and
per-role files can replace them (settings ``pdf_font_dir``, ``pdf_font_files``,
``pdf_font_fallbacks``).
"""

from __future__ import annotations

import functools
import hashlib
import io
import struct
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import uharfbuzz as hb  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

from certdist.errors import ConfigurationError


def _bundled_dir() -> Path:
    # An installed wheel is unpacked, so the resource is a real folder; a zipped import
    # (zipapp) would give another Traversable, which neither HarfBuzz nor the subsetter can
    # read: then the fonts must come from a folder named in the settings.
    folder = files("certdist.formats.pdf").joinpath("fontfiles")
    return folder if isinstance(folder, Path) else Path("/nonexistent/certdist-fontfiles")


#: The faces shipped with the package (resolved once, at import).
BUNDLED_DIR = _bundled_dir()

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

#: Files for the scripts a beneficiary's name may be written in, tried in this order after
#: the Latin and second-language faces. Noto Sans itself covers Latin (with Vietnamese),
#: Greek and Cyrillic. The CJK face comes last: it also has Latin and punctuation glyphs,
#: which must not be taken from it while an earlier face has them.
DEFAULT_FALLBACK_FILES = (
    "NotoSansDevanagari-Regular.ttf",
    "NotoSansBengali-Regular.ttf",
    "NotoSansGujarati-Regular.ttf",
    "NotoSansGurmukhi-Regular.ttf",
    "NotoSansKannada-Regular.ttf",
    "NotoSansMalayalam-Regular.ttf",
    "NotoSansOriya-Regular.ttf",
    "NotoSansTamil-Regular.ttf",
    "NotoSansTelugu-Regular.ttf",
    "NotoSansSinhala-Regular.ttf",
    "NotoNaskhArabic-Regular.ttf",
    "NotoSansThai-Regular.ttf",
    "NotoSansMyanmar-Regular.ttf",
    "NotoSansKhmer-Regular.ttf",
    "NotoSansHebrew-Regular.ttf",
    # Chinese (simplified and traditional), Japanese kana and kanji, Korean Hangul; the only
    # CJK face with TrueType outlines small enough to ship (Noto CJK is CFF, 16+ MB).
    "DroidSansFallback.ttf",
)

#: The roles of :class:`FontPaths` a single file can be configured for.
Role = Literal["regular", "bold", "second_regular", "second_bold"]
ROLES: tuple[Role, ...] = ("regular", "bold", "second_regular", "second_bold")


def find_font(name: str, directory: Path | None = None) -> Path:
    """``name`` in ``directory`` when it is there, else the shipped file of that name.

    A configured folder overlays the shipped one file by file, so a folder holding only
    some faces (Debian's ``/usr/share/fonts/truetype/noto`` has no CJK face) still renders
    every script.
    """
    if directory is not None:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return BUNDLED_DIR / name


@dataclass(frozen=True)
class FontPaths:
    """The TrueType files the PDF renderer uses (the shipped faces by default).

    ``regular``/``bold`` set English labels and Latin values; ``second_*`` the second
    language's labels; ``fallbacks`` cover other scripts in beneficiary data. Only TrueType
    outlines (``glyf``) are supported: the embedding path subsets them itself.
    """

    regular: Path = BUNDLED_DIR / "NotoSans-Regular.ttf"
    bold: Path = BUNDLED_DIR / "NotoSans-Bold.ttf"
    second_regular: Path | None = BUNDLED_DIR / "NotoSansDevanagari-Regular.ttf"
    second_bold: Path | None = BUNDLED_DIR / "NotoSansDevanagari-Bold.ttf"
    fallbacks: tuple[Path, ...] = field(
        default_factory=lambda: tuple(BUNDLED_DIR / n for n in DEFAULT_FALLBACK_FILES)
    )

    @classmethod
    def for_language(
        cls,
        code: str | None,
        directory: Path | None = None,
        *,
        files: Mapping[Role, Path] | None = None,
        fallbacks: Sequence[Path] | None = None,
    ) -> FontPaths:
        """Defaults for second language ``code`` (``None``: English only).

        ``directory`` overlays the shipped faces file by file (same file names);
        ``files`` sets single roles (:data:`ROLES`) and ``fallbacks`` replaces the list
        of fallback files. Only the shipped bold weights are Noto Sans and Noto Sans
        Devanagari (the default second language); another script's bold labels use its
        regular face unless a bold file is found or configured.
        """
        family = SCRIPT_FONTS.get(code or "") if code else None
        if code and family is None and code != "en":
            raise ConfigurationError(f"no default font for language {code!r}; pass FontPaths")
        regular = find_font(f"{family}-Regular.ttf", directory) if family else None
        bold = find_font(f"{family}-Bold.ttf", directory) if family else None
        if bold is not None and not bold.is_file():
            bold = regular
        paths = cls(
            regular=find_font("NotoSans-Regular.ttf", directory),
            bold=find_font("NotoSans-Bold.ttf", directory),
            second_regular=regular,
            second_bold=bold,
            fallbacks=(
                tuple(fallbacks)
                if fallbacks is not None
                else tuple(find_font(n, directory) for n in DEFAULT_FALLBACK_FILES)
            ),
        )
        unknown = sorted(set(files or {}) - set(ROLES))
        if unknown:
            raise ConfigurationError(f"unknown font roles {unknown}; known: {list(ROLES)}")
        chosen: dict[Role, Path] = dict(files or {})
        if "second_regular" in chosen and "second_bold" not in chosen:
            # A second-language face of another script must not be paired with the
            # default second language's bold.
            chosen["second_bold"] = chosen["second_regular"]
        return replace(
            paths,
            regular=chosen.get("regular", paths.regular),
            bold=chosen.get("bold", paths.bold),
            second_regular=chosen.get("second_regular", paths.second_regular),
            second_bold=chosen.get("second_bold", paths.second_bold),
        )


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
                f"font file {path} cannot be read: {exc.strerror}; the PDF fonts are the"
                " files shipped in certdist/formats/pdf/fontfiles unless the settings"
                " pdf_font_dir, pdf_font_files or pdf_font_fallbacks name others"
            ) from None
        if data[:4] not in (b"\x00\x01\x00\x00", b"true"):
            raise ConfigurationError(f"font {path} is not a TrueType (glyf) font")
        self.path = path
        self.resource = resource
        self.data = data
        self.digest = hashlib.sha256(data).hexdigest()
        self.tables = _table_directory(data)
        font = TTFont(io.BytesIO(data), lazy=True)
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
        self.ps_name = _ps_name(font, path)
        font.close()
        # The post table, the character map and the metrics are read from the raw tables by
        # glyph id: through fontTools they go by glyph name, which for the CJK face (50,000
        # glyphs) took over half a second and 27 MB per process (measured).
        post = self.table(b"post") or bytes(8)
        self.italic_angle = struct.unpack_from(">i", post, 4)[0] / 65536
        self.num_glyphs: int = struct.unpack_from(">H", self.table(b"maxp") or bytes(6), 4)[0]
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

    # The character map, the advances and the reverse map are built on first use: a
    # fallback face (the CJK one has 33,000 mapped characters) is only consulted for text
    # its predecessors lack, and building all three for every face cost each worker ~15 MB
    # at start-up (measured with /proc/self/status, all faces against the Latin ones).
    @functools.cached_property
    def cmap(self) -> dict[int, int]:
        return {
            cp: gid
            for cp, gid in _read_cmap(self.table(b"cmap") or b"").items()
            if 0 < gid < self.num_glyphs
        }

    @functools.cached_property
    def advances(self) -> list[int]:
        return _read_advances(
            self.table(b"hmtx") or b"", self.table(b"hhea") or b"", self.num_glyphs
        )

    @functools.cached_property
    def unicode_of(self) -> dict[int, str]:
        """Lowest code point per glyph: what text extraction maps a plain glyph back to.

        Presentation forms (Arabic joined forms, Hebrew points) are left out: a shaped
        initial or medial form must read back as its letter, which the shaping cluster
        supplies (text._cluster_text), not as a compatibility character."""
        found: dict[int, str] = {}
        cmap = self.cmap
        for cp in sorted(cmap, reverse=True):
            if not _is_presentation_form(cp):
                found[cmap[cp]] = chr(cp)
        return found

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


def _is_presentation_form(cp: int) -> bool:
    # Hebrew and Arabic Presentation Forms-A, Arabic Presentation Forms-B.
    return 0xFB1D <= cp <= 0xFDFF or 0xFE70 <= cp <= 0xFEFF


def _read_cmap(table: bytes) -> dict[int, int]:
    """Code point -> glyph id from the best Unicode subtable: format 12 (full Unicode) when
    there is one, else format 4 (BMP), as fontTools' ``getBestCmap`` would choose."""
    if len(table) < 4:
        return {}
    (count,) = struct.unpack_from(">H", table, 2)
    subtables: dict[tuple[int, int, int], int] = {}
    for i in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", table, 4 + 8 * i)
        (fmt,) = struct.unpack_from(">H", table, offset)
        subtables.setdefault((platform, encoding, fmt), offset)
    for key in ((3, 10, 12), (0, 6, 12), (0, 4, 12), (3, 1, 4), (0, 3, 4), (0, 2, 4)):
        offset = subtables.get(key)
        if offset is not None:
            return _cmap_12(table, offset) if key[2] == 12 else _cmap_4(table, offset)
    return {}


def _cmap_12(table: bytes, at: int) -> dict[int, int]:
    (groups,) = struct.unpack_from(">I", table, at + 12)
    found: dict[int, int] = {}
    for i in range(groups):
        first, last, glyph = struct.unpack_from(">III", table, at + 16 + 12 * i)
        found.update(
            zip(range(first, last + 1), range(glyph, glyph + last - first + 1), strict=True)
        )
    return found


def _cmap_4(table: bytes, at: int) -> dict[int, int]:
    segments = struct.unpack_from(">H", table, at + 6)[0] // 2
    ends = struct.unpack_from(f">{segments}H", table, at + 14)
    starts_at = at + 16 + 2 * segments
    starts = struct.unpack_from(f">{segments}H", table, starts_at)
    deltas = struct.unpack_from(f">{segments}h", table, starts_at + 2 * segments)
    ranges_at = starts_at + 4 * segments
    ranges = struct.unpack_from(f">{segments}H", table, ranges_at)
    found: dict[int, int] = {}
    for i in range(segments):
        first, last, delta, range_offset = starts[i], ends[i], deltas[i], ranges[i]
        if first == 0xFFFF:
            continue
        for cp in range(first, last + 1):
            if range_offset == 0:
                glyph = (cp + delta) & 0xFFFF
            else:
                # idRangeOffset is relative to its own position in the table.
                where = ranges_at + 2 * i + range_offset + 2 * (cp - first)
                (glyph,) = struct.unpack_from(">H", table, where)
                if glyph:
                    glyph = (glyph + delta) & 0xFFFF
            if glyph:
                found[cp] = glyph
    return found


def _read_advances(hmtx: bytes, hhea: bytes, count: int) -> list[int]:
    """Advance width per glyph id; glyphs past the long metrics repeat the last advance."""
    (long_metrics,) = struct.unpack_from(">H", hhea, 34)
    advances = list(struct.unpack_from(f">{long_metrics * 2}H", hmtx)[::2])
    return advances + [advances[-1]] * (count - long_metrics)


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
