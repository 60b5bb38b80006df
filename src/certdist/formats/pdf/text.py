"""Text runs: choosing a font per character, shaping only where needed, fitting, drawing.

Most certificate values are Latin text whose characters are all in the prebuilt subset of
the primary face: those become one plain run through ``str.translate`` (glyph codes) and a
width lookup, with no per-character Python loop. Text in other scripts is split into runs
per font and shaped with HarfBuzz (about 10 µs per value), and its glyphs are wrapped in an
``/ActualText`` span so copy-paste and ``pdftotext`` return the logical text even where
shaping reordered or merged characters (Devanagari vowel signs, conjuncts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import uharfbuzz as hb  # type: ignore[import-untyped]

from certdist.formats.pdf.fonts import Face, is_attached, is_neutral, needs_shaping

ELLIPSIS = "…"


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
        result = []
        for face, piece in pieces:
            if face is primary and not any(map(needs_shaping, piece)):
                run = self._plain(face, piece)
                if usage is not None and not face.base_chars.issuperset(piece):
                    usage.add(face, {face.cmap.get(ord(c), 0) for c in piece})
            else:
                run = self._shaped(face, piece)
                if usage is not None and run.positions:
                    usage.add(face, {p[0] for p in run.positions}, run.unicode)
            result.append(run)
        return result

    @staticmethod
    def _plain(face: Face, text: str) -> Run:
        return Run(face, text, face.plain_advance(text), hex=face.glyph_hex(text))

    @staticmethod
    def _shaped(face: Face, text: str) -> Run:
        buffer = hb.Buffer()
        buffer.add_str(text)
        buffer.guess_segment_properties()
        hb.shape(face.hb_font, buffer, {})
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
        )

    @staticmethod
    def _segment(text: str, chain: Chain) -> list[tuple[Face, str]]:
        pieces: list[tuple[Face, list[str]]] = []
        for char in text:
            current = pieces[-1][0] if pieces else None
            if (
                current is not None
                and current.has(char)
                and (is_attached(char) or is_neutral(char))
            ):
                pieces[-1][1].append(char)
                continue
            face = next((f for f in chain if f.has(char)), chain[0])
            if face is current:
                pieces[-1][1].append(char)
            else:
                pieces.append((face, [char]))
        return [(face, "".join(chars)) for face, chars in pieces]

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

        Wraps at spaces first, then shrinks the size in half-point steps down to
        ``min_size``, then cuts the last line with an ellipsis. Returns (size, lines).
        """
        floor = min_size if min_size is not None else size * 0.8
        runs = self.runs(text, chain, usage)
        if line_em(runs) * size <= width or not text:
            return size, [runs]
        words = text.split()
        current = size
        while current >= floor - 1e-9:
            if line_em(runs) * current <= width:
                return current, [runs]
            if max_lines > 1:
                lines = self._wrap(words, chain, width / current)
                if lines is not None and len(lines) <= max_lines:
                    return current, [self.runs(line, chain, usage) for line in lines]
            current -= 0.5
        return floor, self._truncated(words, chain, floor, width, max_lines, usage)

    def _wrap(self, words: list[str], chain: Chain, limit_em: float) -> list[str] | None:
        space = line_em(self.runs(" ", chain))
        lines: list[str] = []
        line: list[str] = []
        line_width = 0.0
        for word in words:
            word_width = line_em(self.runs(word, chain))
            if word_width > limit_em:
                return None
            if line and line_width + space + word_width > limit_em:
                lines.append(" ".join(line))
                line, line_width = [], 0.0
            line_width += (space if line else 0.0) + word_width
            line.append(word)
        if line:
            lines.append(" ".join(line))
        return lines

    def _truncated(
        self,
        words: list[str],
        chain: Chain,
        size: float,
        width: float,
        max_lines: int,
        usage: Usage | None,
    ) -> list[list[Run]]:
        limit = width / size
        lines: list[str] = []
        if max_lines > 1:
            remaining = list(words)
            while remaining and len(lines) < max_lines - 1:
                wrapped = self._wrap(remaining[:1], chain, limit)
                if wrapped is None:
                    break
                taken = 1
                while taken < len(remaining):
                    candidate = self._wrap(remaining[: taken + 1], chain, limit)
                    if candidate is None or len(candidate) > 1:
                        break
                    taken += 1
                lines.append(" ".join(remaining[:taken]))
                remaining = remaining[taken:]
            rest = " ".join(remaining)
        else:
            rest = " ".join(words)
        # Longest prefix of the rest that fits with an ellipsis (binary search on length).
        low, high = 0, len(rest)
        while low < high:
            middle = (low + high + 1) // 2
            if line_em(self.runs(rest[:middle].rstrip() + ELLIPSIS, chain)) <= limit:
                low = middle
            else:
                high = middle - 1
        if rest:
            lines.append(rest[:low].rstrip() + ELLIPSIS if low < len(rest) else rest)
        return [self.runs(line, chain, usage) for line in lines]


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
