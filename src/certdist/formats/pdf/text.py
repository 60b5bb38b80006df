"""Text runs: choosing a font per character, shaping only where needed, fitting, drawing.

Most certificate values are Latin text whose characters are all in the prebuilt subset of
the primary face: those become one plain run through ``str.translate`` (glyph codes) and a
width lookup, with no per-character Python loop. Text in other scripts is split into runs
per font and shaped with HarfBuzz (about 10 µs per value), and its glyphs are wrapped in an
``/ActualText`` span so copy-paste and ``pdftotext`` return the logical text even where
shaping reordered or merged characters (Devanagari vowel signs, conjuncts).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate

import uharfbuzz as hb  # type: ignore[import-untyped]

from certdist.formats.pdf.fonts import Face, is_attached, is_neutral, needs_shaping

ELLIPSIS = "…"

#: Right-to-left runs are shaped without optional ligatures ("الله" as one glyph): their
#: text is read back from the per-glyph ToUnicode map in visual order (see draw_line), and
#: poppler lays a glyph's several characters out left to right, which reverses them in an
#: RTL line. Required forms (joining, lam-alef) are kept.
_RTL_FEATURES = {"liga": False, "dlig": False}

#: Bidirectional classes of strong right-to-left characters.
_RTL_CLASSES = frozenset(("R", "AL"))


@dataclass(frozen=True, slots=True)
class Run:
    """Glyphs of one font. ``positions`` is set for shaped runs: per glyph
    ``(glyph id, advance, x offset, y offset)`` in font units."""

    face: Face
    text: str
    width: int  # font units
    hex: str = ""
    positions: tuple[tuple[int, int, int, int], ...] | None = None
    #: For shaped runs: the text each glyph stands for (first glyph of each cluster), so
    #: extractors that ignore /ActualText still get readable text from the ToUnicode map.
    unicode: tuple[tuple[int, str], ...] = ()
    #: Right-to-left (Arabic, Hebrew): HarfBuzz returned the glyphs in visual order.
    rtl: bool = False

    @property
    def em(self) -> float:
        return self.width / self.face.upem


Chain = tuple[Face, ...]


@dataclass
class Usage:
    """Glyphs drawn outside a face's prebuilt subset, and what shaped glyphs stand for.

    Filled while laying out text; the renderer embeds extended subsets from it.
    """

    glyphs: dict[Face, set[int]] = field(default_factory=dict)
    unicode: dict[Face, dict[int, str]] = field(default_factory=dict)

    def add(self, face: Face, glyphs: set[int], unicode: Sequence[tuple[int, str]] = ()) -> None:
        self.glyphs.setdefault(face, set()).update(glyphs)
        if unicode:
            mapping = self.unicode.setdefault(face, {})
            for gid, text in unicode:
                mapping.setdefault(gid, text)


def line_em(runs: Sequence[Run]) -> float:
    return sum(run.em for run in runs)


def is_rtl_line(runs: Sequence[Run]) -> bool:
    """A line of right-to-left text only (no left-to-right letter in it)."""
    return any(run.rtl for run in runs) and not any(
        unicodedata.bidirectional(char) == "L" for run in runs for char in run.text
    )


class TextEngine:
    """Turns strings into runs for a chain of faces (primary first, then fallbacks).

    Glyphs outside a face's embedded base subset are collected in ``usage`` so the renderer
    can embed an extended subset for that document.
    """

    def runs(self, text: str, chain: Chain, usage: Usage | None = None) -> list[Run]:
        primary = chain[0]
        if primary.base_chars.issuperset(text):
            return [self._plain(primary, text)]
        pieces = self._segment(text, chain)
        result: list[Run] = []
        for face, piece, _ in pieces:
            if face is primary and not any(map(needs_shaping, piece)):
                run = self._plain(face, piece)
                if usage is not None and not face.base_chars.issuperset(piece):
                    usage.add(face, {face.cmap.get(ord(c), 0) for c in piece})
            else:
                run = self._shaped(face, piece)
                if usage is not None and run.positions:
                    usage.add(face, {p[0] for p in run.positions}, run.unicode)
            result.append(run)
        if len(result) > 1 and _rtl_paragraph(text):
            # Runs are drawn left to right: in a right-to-left name the first run (logically)
            # is the rightmost. A simplified bidi: each run keeps its own direction, and the
            # runs of one number (digits in two fonts: "12" and "/3") keep their order.
            groups: list[tuple[list[Run], bool]] = []
            for run, (_, _, number) in zip(result, pieces, strict=True):
                if number and groups and groups[-1][1]:
                    groups[-1][0].append(run)
                else:
                    groups.append(([run], number))
            result = [run for group, _ in reversed(groups) for run in group]
        return result

    @staticmethod
    def _plain(face: Face, text: str) -> Run:
        return Run(face, text, face.plain_advance(text), hex=face.glyph_hex(text))

    @staticmethod
    def _shaped(face: Face, text: str) -> Run:
        buffer = hb.Buffer()
        buffer.add_str(text)
        buffer.guess_segment_properties()
        if buffer.direction == "rtl" and not any(
            unicodedata.bidirectional(c) in _RTL_CLASSES for c in text
        ):
            # Arabic-Indic digits belong to the Arabic script, but a number reads left to
            # right.
            buffer.direction = "ltr"
        rtl = buffer.direction == "rtl"
        hb.shape(face.hb_font, buffer, _RTL_FEATURES if rtl else {})
        infos = buffer.glyph_infos
        positions = tuple(
            (info.codepoint, pos.x_advance, pos.x_offset, pos.y_offset)
            for info, pos in zip(infos, buffer.glyph_positions, strict=True)
        )
        return Run(
            face,
            text,
            sum(p[1] for p in positions),
            positions=positions,
            unicode=_cluster_text(face, text, [(i.codepoint, i.cluster) for i in infos]),
            rtl=rtl,
        )

    @staticmethod
    def _segment(text: str, chain: Chain) -> list[tuple[Face, str, bool]]:
        """Pieces of ``text`` per font, and whether each is a number set in RTL text."""
        numbers = _numbers_in_rtl(text)
        pieces: list[tuple[Face, list[str], bool]] = []
        for index, char in enumerate(text):
            number = index in numbers
            current = pieces[-1][0] if pieces else None
            if current is not None and pieces[-1][2] != number:
                # A number inside right-to-left text is a run of its own, shaped left to
                # right: in one RTL run HarfBuzz would reverse its digits ("23" as "32").
                face = current if current.has(char) else _pick(char, chain)
                pieces.append((face, [char], number))
                continue
            if (
                current is not None
                and current.has(char)
                and (is_attached(char) or is_neutral(char))
            ):
                pieces[-1][1].append(char)
                continue
            face = _pick(char, chain)
            if face is current:
                pieces[-1][1].append(char)
            else:
                pieces.append((face, [char], number))
        return [(face, "".join(chars), number) for face, chars, number in pieces]

    def fit(
        self,
        text: str,
        chain: Chain,
        size: float,
        width: float,
        *,
        max_lines: int = 1,
        min_size: float | None = None,
        usage: Usage | None = None,
    ) -> tuple[float, list[list[Run]]]:
        """Lay ``text`` out in at most ``max_lines`` lines of ``width`` points.

        Wraps at spaces first (inside a word too long for a line, between characters:
        Chinese and Japanese names have no spaces), then shrinks the size in half-point
        steps down to ``min_size``, then cuts the last line with an ellipsis. Every line
        returned is at most ``width`` wide. Returns (size, lines).
        """
        floor = min_size if min_size is not None else size * 0.8
        runs = self.runs(text, chain, usage)
        if line_em(runs) * size <= width or not text:
            return size, [runs]
        widths: dict[str, float] = {}  # em width per word or cluster, for every size tried
        current = size
        while current >= floor - 1e-9:
            if line_em(runs) * current <= width:
                return current, [runs]
            if max_lines > 1:
                lines = self._wrap(text, chain, width / current, widths)
                if len(lines) <= max_lines:
                    laid = [self.runs(_joined(line), chain) for line in lines]
                    # Widths were summed per word; shaping whole lines (kerning, joining
                    # across a split) may differ slightly, so the drawn lines are checked.
                    if all(line_em(line) * current <= width for line in laid):
                        return current, [self.runs(_joined(line), chain, usage) for line in lines]
            current -= 0.5
        return floor, self._truncated(text, chain, floor, width, max_lines, widths, usage)

    def _em(self, text: str, chain: Chain, widths: dict[str, float]) -> float:
        cached = widths.get(text)
        if cached is None:
            cached = widths[text] = line_em(self.runs(text, chain))
        return cached

    def _wrap(
        self, text: str, chain: Chain, limit_em: float, widths: dict[str, float]
    ) -> list[list[Unit]]:
        """Greedy lines of at most ``limit_em``: words, and pieces of words that are wider
        than a line on their own (broken between clusters, see :func:`_clusters`)."""
        units: list[Unit] = []
        for word in text.split():
            glue = " " if units else ""
            if self._em(word, chain, widths) <= limit_em:
                units.append((glue, word))
                continue
            piece = ""
            for cluster in _clusters(word):
                if piece and self._em(piece + cluster, chain, widths) > limit_em:
                    units.append((glue, piece))
                    glue, piece = "", ""
                piece += cluster
            units.append((glue, piece))
        space = self._em(" ", chain, widths)
        lines: list[list[Unit]] = []
        line: list[Unit] = []
        line_width = 0.0
        for glue, unit in units:
            unit_width = self._em(unit, chain, widths)
            gap = space if glue else 0.0
            if line and line_width + gap + unit_width > limit_em:
                lines.append(line)
                line, line_width, gap = [], 0.0, 0.0
            line.append((glue, unit))
            line_width += gap + unit_width
        if line:
            lines.append(line)
        return lines

    def _truncated(
        self,
        text: str,
        chain: Chain,
        size: float,
        width: float,
        max_lines: int,
        widths: dict[str, float],
        usage: Usage | None,
    ) -> list[list[Run]]:
        limit = width / size
        lines = self._wrap(text, chain, limit, widths) if max_lines > 1 else [[("", text)]]
        kept = [_joined(line) for line in lines[: max_lines - 1]]
        rest = _joined([unit for line in lines[max_lines - 1 :] for unit in line])
        # Longest prefix of the rest, cut between clusters, that fits with an ellipsis.
        cuts = list(accumulate(len(c) for c in _clusters(rest)))
        low, high = 0, len(cuts)
        while low < high:
            middle = (low + high + 1) // 2
            candidate = rest[: cuts[middle - 1]].rstrip() + ELLIPSIS
            if line_em(self.runs(candidate, chain)) <= limit:
                low = middle
            else:
                high = middle - 1
        if rest:
            kept.append(rest[: cuts[low - 1]].rstrip() + ELLIPSIS if low else ELLIPSIS)
        return [self.runs(line, chain, usage) for line in kept]


#: One piece of a wrapped line: (what joins it to the piece before on the same line, text).
Unit = tuple[str, str]


def _joined(line: Sequence[Unit]) -> str:
    return "".join(glue + text if i else text for i, (glue, text) in enumerate(line))


def _clusters(word: str) -> list[str]:
    """``word`` cut where a line may break inside it as a last resort: never before a mark
    or joiner, nor after a virama or joiner (that would split a conjunct or a ZWJ form)."""
    clusters: list[str] = []
    for char in word:
        if clusters and (
            is_attached(char)
            or unicodedata.combining(clusters[-1][-1]) == _VIRAMA
            or clusters[-1][-1] == "\u200d"
        ):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


_VIRAMA = 9  # canonical combining class of viramas (Devanagari ्, Tamil ், ...)


def _pick(char: str, chain: Chain) -> Face:
    return next((f for f in chain if f.has(char)), chain[0])


def _numbers_in_rtl(text: str) -> set[int]:
    """Indices of the digits (with separators between them) that follow a right-to-left
    letter, as the Unicode bidi algorithm's rules W2-W4 treat them."""
    found: set[int] = set()
    rtl = False
    for index, char in enumerate(text):
        kind = unicodedata.bidirectional(char)
        if kind in _RTL_CLASSES:
            rtl = True
        elif kind == "L":
            rtl = False
        elif rtl and kind in ("EN", "AN"):
            found.add(index)
        elif (
            rtl
            and kind in ("ES", "CS", "ET")
            and index - 1 in found
            and index + 1 < len(text)
            and unicodedata.bidirectional(text[index + 1]) in ("EN", "AN")
        ):
            found.add(index)  # 12/3, 1,000, 2.5
    return found


def _rtl_paragraph(text: str) -> bool:
    """Whether the first strong character of ``text`` is right-to-left (Unicode bidi P2)."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind == "L":
            return False
        if kind in _RTL_CLASSES:
            return True
    return False


def _cluster_text(
    face: Face, text: str, glyphs: list[tuple[int, int]]
) -> tuple[tuple[int, str], ...]:
    """Text for shaped glyphs the cmap cannot name (conjuncts, vowel-sign variants, reph).

    Within each cluster, the characters of glyphs that the cmap does name are taken out;
    what is left belongs to the first unnamed glyph. Cluster values are code point indices.
    """
    starts = sorted({cluster for _, cluster in glyphs})
    ends = dict(zip(starts, [*starts[1:], len(text)], strict=True))
    members: dict[int, list[int]] = {}
    for gid, cluster in glyphs:
        members.setdefault(cluster, []).append(gid)
    found: list[tuple[int, str]] = []
    for cluster, gids in members.items():
        rest = text[cluster : ends[cluster]]
        unnamed = []
        for gid in gids:
            char = face.unicode_of.get(gid)
            if char is None:
                unnamed.append(gid)
            else:
                rest = rest.replace(char, "", 1)
        if unnamed and rest:
            found.append((unnamed[0], rest))
    return tuple(found)


def _n(value: float) -> str:
    text = f"{value:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def draw_line(runs: Sequence[Run], x: float, y: float, size: float) -> str:
    """Content-stream operators that show ``runs`` from (x, y) on the baseline, in points."""
    ops = []
    for run in runs:
        face = run.face
        head = f"BT /{face.resource} {_n(size)} Tf {_n(x)} {_n(y)} Td "
        if run.positions is None:
            ops.append(f"{head}<{run.hex}> Tj ET\n")
        elif run.rtl:
            # No /ActualText for right-to-left runs: poppler spreads a span's text left to
            # right over its glyphs, so a logical-order replacement reads back reversed.
            # The glyphs, in visual order, map one by one to their letters (ToUnicode) and
            # extractors restore the logical order from their positions.
            ops.append(f"{head}{_shaped_ops(run, size)}ET\n")
        else:
            actual = run.text.encode("utf-16-be").hex().upper()
            ops.append(
                f"/Span<</ActualText<FEFF{actual}>>>BDC {head}{_shaped_ops(run, size)}ET EMC\n"
            )
        x += run.em * size
    return "".join(ops)


def _shaped_ops(run: Run, size: float) -> str:
    """TJ arrays for a shaped run: HarfBuzz advances and offsets applied to PDF widths.

    After each glyph a PDF viewer advances by the glyph's /W width (the font's own advance);
    a TJ number ``n`` then moves the pen by ``-n/1000`` em. Vertical offsets (stacked marks)
    need a text rise (``Ts``), which cannot change inside one TJ array.
    """
    face = run.face
    scale = face.scale
    positions = run.positions or ()
    out: list[str] = []
    items: list[str] = []
    pending = 0.0  # pen correction in 1/1000 em, positive = right
    rise = 0
    hexes: list[str] = []

    def flush_hex() -> None:
        if hexes:
            items.append("<" + "".join(hexes) + ">")
            hexes.clear()

    def flush_array() -> None:
        flush_hex()
        if items:
            out.append("[" + " ".join(items) + "] TJ ")
            items.clear()

    for gid, advance, x_offset, y_offset in positions:
        pending += x_offset * scale
        if y_offset != rise:
            flush_array()
            rise = y_offset
            out.append(f"{_n(rise * size / face.upem)} Ts ")
        if abs(pending) > 0.01:
            flush_hex()
            items.append(_n(-pending))
            pending = 0.0
        hexes.append(f"{gid:04X}")
        pending += (advance - face.advances[gid] - x_offset) * scale
    flush_array()
    if rise:
        out.append("0 Ts ")
    return "".join(out)
