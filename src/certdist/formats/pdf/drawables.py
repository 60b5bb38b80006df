"""What is drawn per request: values, doses table rows, the title variant, the QR code.

Each function takes positions already converted to points and returns a closure over
them, so a request does no template parsing and no unit conversion.
"""

from __future__ import annotations

from collections.abc import Sequence

from certdist.formats.pdf.drawing import Context, Drawable, place_lines
from certdist.formats.pdf.qr_path import qr_stencil_ops
from certdist.formats.pdf.text import Chain, TextEngine
from certdist.formats.qr_image import qr_matrix


def value(
    engine: TextEngine,
    name: str,
    chain: Chain,
    *,
    size: float,
    min_size: float,
    max_lines: int,
    color: str,
    align: str,
    box: tuple[float, float, float, float],
    empty: str,
) -> Drawable:
    """One field value at ``box`` = (x, baseline y, width, line gap) in points."""
    x, y, width, gap = box

    def draw(ctx: Context) -> None:
        text = ctx.fields.get(name) or empty
        fitted, lines = engine.fit(
            text, chain, size, width, max_lines=max_lines, min_size=min_size, usage=ctx.usage
        )
        for line in lines:
            ctx.faces.update(run.face for run in line)
        ctx.out.append(color + place_lines(lines, fitted, align, width, gap, x, y))

    return draw


Cell = tuple[str, float, float, str, Chain]  # field, x, width, align, chain


def doses_table(
    engine: TextEngine,
    cells: Sequence[Cell],
    *,
    size: float,
    color: str,
    backgrounds: Sequence[str],
    baselines: Sequence[float],
) -> Drawable:
    """The rows of the doses table, one per :class:`DoseRow`, at most ``len(baselines)``."""

    def draw(ctx: Context) -> None:
        ops = []
        for index, row in enumerate(ctx.view.doses[: len(baselines)]):
            ops.append(backgrounds[index])
            values = row.fields()
            for name, x, width, align, chain in cells:
                fitted, lines = engine.fit(
                    values.get(name) or "-",
                    chain,
                    size,
                    width,
                    min_size=size * 0.75,
                    usage=ctx.usage,
                )
                ctx.faces.update(run.face for run in lines[0])
                ops.append(
                    color + place_lines(lines[:1], fitted, align, width, 0, x, baselines[index])
                )
        ctx.out.append("".join(ops))

    return draw


def choice(attribute: str, options: dict[str, str]) -> Drawable:
    """Prebuilt operators picked by an attribute of the view (the title per dose kind)."""
    default = options.get("default", "")

    def draw(ctx: Context) -> None:
        selected = getattr(ctx.view, attribute)
        ctx.out.append(options.get(selected or "default", default))

    return draw


def qr(
    left: float, top: float, side: float, quiet_zone: int, ec: str, mask: int | None
) -> Drawable:
    """The view's QR payload, module for module, in the square at (left, top), in points."""

    def draw(ctx: Context) -> None:
        matrix = ctx.matrix or qr_matrix(ctx.view.qr_payload, ec=ec, mask=mask)
        ctx.qr = qr_stencil_ops(matrix, left, top, side, quiet_zone)

    return draw
