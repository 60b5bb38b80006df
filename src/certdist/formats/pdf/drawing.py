"""Shared pieces of page drawing: units, colours, font chains and the per-render context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from certdist.domain.certificate_view import CertificateView
from certdist.formats.pdf.fonts import Face
from certdist.formats.pdf.text import Chain, Run, Usage, draw_line, is_rtl_line, line_em
from certdist.formats.qr_image import QrMatrix

MM = 72 / 25.4  # points per millimetre
Color = tuple[float, float, float]


def num(value: float) -> str:
    """A number for a content stream: at most three decimals, no trailing zeros."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def fill_color(color: Color) -> str:
    return f"{num(color[0])} {num(color[1])} {num(color[2])} rg "


def stroke_color(color: Color) -> str:
    return f"{num(color[0])} {num(color[1])} {num(color[2])} RG "


def place_lines(
    lines: list[list[Run]], size: float, align: str, width: float, gap: float, x: float, y: float
) -> str:
    """Operators that draw ``lines`` (points) from baseline ``y``, aligned within ``width``."""
    ops = []
    # Wrapped right-to-left text (an Arabic or Hebrew name on two lines) keeps its block at
    # the field's left, next to the label, but its lines flush right within the block, as
    # RTL lines are: the second line starts under the first line's start.
    flush = (
        max(line_em(line) for line in lines) * size
        if align == "left" and len(lines) > 1 and all(map(is_rtl_line, lines))
        else None
    )
    for index, line in enumerate(lines):
        left = x
        if flush is not None:
            left += flush - line_em(line) * size
        elif align != "left":
            line_width = line_em(line) * size
            left += (width - line_width) / 2 if align == "center" else width - line_width
        ops.append(draw_line(line, left, y - index * gap, size))
    return "".join(ops)


@dataclass
class FaceSet:
    """The parsed faces and the fallback chains used for each kind of text."""

    regular: Face
    bold: Face
    second_regular: Face | None
    second_bold: Face | None
    fallbacks: list[Face]

    def all(self) -> list[Face]:
        faces = [self.regular, self.bold, self.second_regular, self.second_bold, *self.fallbacks]
        return _unique(faces)

    def chain(self, *, bold: bool, second: bool = False) -> Chain:
        """Faces to try in order: the weight's Latin face (or the second language's face
        first, for its labels), then the other, then the fallback scripts."""
        latin = self.bold if bold else self.regular
        other = (self.second_bold or self.second_regular) if bold else self.second_regular
        first = [other, latin] if second else [latin, other]
        return tuple(_unique([*first, *self.fallbacks]))


def _unique(faces: list[Face | None]) -> list[Face]:
    unique: list[Face] = []
    for face in faces:
        if face is not None and face not in unique:
            unique.append(face)
    return unique


@dataclass
class Context:
    """The state of one render: the view, its values, and what the drawing used."""

    view: CertificateView
    fields: dict[str, str]
    matrix: QrMatrix | None = None
    out: list[str] = field(default_factory=list)
    qr: bytes = b""
    usage: Usage = field(default_factory=Usage)
    faces: set[Face] = field(default_factory=set)


Drawable = Callable[[Context], None]


@dataclass
class Compiled:
    """One template, compiled: static operators and per-request drawables."""

    static_ops: str
    drawables: list[Drawable]
    static_faces: set[Face]
    document_title: str
    page_width: float
    page_height: float
