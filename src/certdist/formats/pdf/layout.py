"""Compiling a template into a static content stream and a list of per-request drawables.

Everything that does not depend on the certificate (frame, bands, every label in both
languages, table headers, the title variants) is laid out and shaped here, once per
renderer. What remains per request is a short list of drawables that place values, table
rows and the QR code at positions fixed by the template.

Template element types: ``rect``, ``line``, ``label`` (static bilingual text), ``section``
(heading band), ``value`` (one field), ``fields`` (rows of label + value), ``choice``
(variants picked by ``title_kind`` or ``kind``), ``table`` (the doses) and ``qr``.
"""

from __future__ import annotations

from collections.abc import Callable

from certdist.errors import ConfigurationError
from certdist.formats.pdf import drawables
from certdist.formats.pdf.drawing import (
    MM,
    Compiled,
    Drawable,
    FaceSet,
    fill_color,
    num,
    place_lines,
    stroke_color,
)
from certdist.formats.pdf.fonts import Face
from certdist.formats.pdf.template import Labels, Spec, Template
from certdist.formats.pdf.text import Chain, Run, TextEngine, Usage

#: The smallest QR side (mm) that scans reliably from a printed A4 page at v35.
MIN_QR_MM = 45


class Compiler:
    """Turns one template into a :class:`Compiled` (used once per renderer and kind)."""

    def __init__(
        self,
        template: Template,
        primary: Labels,
        second: Labels | None,
        faces: FaceSet,
        engine: TextEngine,
        used: Usage,
        qr_ec: str,
        qr_mask: int | None,
    ) -> None:
        self.t = template
        self.primary = primary
        self.second = second
        self.faces = faces
        self.engine = engine
        self.used = used
        self.qr_ec = qr_ec
        self.qr_mask = qr_mask
        self.page_h = template.page_height * MM
        self.drawables: list[Drawable] = []
        self.static_faces: set[Face] = set()

    def compile(self) -> Compiled:
        static: list[str] = []
        for element in self.t.spec.children("elements"):
            self.element(element, static)
        title_key = self.t.spec.text("document_title", "document_title")
        return Compiled(
            static_ops="".join(static),
            drawables=self.drawables,
            static_faces=self.static_faces,
            document_title=self.primary.get(title_key, self.t.path.name),
            page_width=self.t.page_width * MM,
            page_height=self.page_h,
        )

    def element(self, spec: Spec, out: list[str]) -> None:
        handlers: dict[str, Callable[[Spec, list[str]], None]] = {
            "rect": self.rect,
            "line": self.line,
            "label": self.label,
            "section": self.section,
            "value": self.value,
            "fields": self.fields,
            "choice": self.choice,
            "table": self.table,
            "qr": self.qr,
        }
        kind = spec.text("type")
        handler = handlers.get(kind)
        if handler is None:
            raise ConfigurationError(f"{spec.where}: unknown element type {kind!r}")
        handler(spec, out)

    # -- coordinates and colours -----------------------------------------------------------

    def x(self, mm: float) -> float:
        return mm * MM

    def y(self, mm: float) -> float:
        """Template y (mm from the top) to PDF y (points from the bottom)."""
        return self.page_h - mm * MM

    def color(self, spec: Spec, key: str, default: str) -> tuple[float, float, float]:
        return self.t.color(spec.text(key, default), spec.where)

    # -- static text -------------------------------------------------------------------------

    def runs(self, text: str, chain: Chain) -> list[Run]:
        runs = self.engine.runs(text, chain, self.used)
        self.static_faces.update(run.face for run in runs)
        return runs

    def fitted(
        self, text: str, chain: Chain, size: float, spec: Spec
    ) -> tuple[float, list[list[Run]]]:
        """Static text laid out once: wrapped and shrunk to ``w`` when a width is given."""
        if not spec.has("w") or not text:
            return size, [self.runs(text, chain)]
        fitted, lines = self.engine.fit(
            text,
            chain,
            size,
            spec.number("w") * MM,
            max_lines=spec.integer("max_lines", 1),
            min_size=spec.number("min_size", size * 0.8),
            usage=self.used,
        )
        for line in lines:
            self.static_faces.update(run.face for run in line)
        return fitted, lines

    def place(self, lines: list[list[Run]], size: float, spec: Spec, x: float, y: float) -> str:
        return place_lines(
            lines,
            size,
            spec.text("align", "left"),
            spec.number("w", 0.0) * MM,
            spec.number("line_gap", size / MM * 1.25) * MM,
            self.x(x),
            self.y(y),
        )

    def label(self, spec: Spec, out: list[str]) -> None:
        """A label in the primary language and, if configured, the second language: below
        it (``second.dy``) or on the same line after a separator (``second.inline``)."""
        where = spec.where
        key = spec.text("key")
        size = spec.number("size", 9)
        bold = spec.flag("bold")
        x, y = spec.number("x"), spec.number("y")
        text = self.primary.get(key, where)
        chain = self.faces.chain(bold=bold)
        second = spec.child("second") if spec.has("second") else None
        other = self.second.get(key, where) if second and self.second else None
        if second is not None and other is not None and second.flag("inline"):
            second_chain = self.faces.chain(bold=second.flag("bold", bold), second=True)
            runs = self.runs(text + second.text("separator", "  /  "), chain)
            lines = [runs + self.runs(other, second_chain)]
            fitted, other = size, None
        else:
            fitted, lines = self.fitted(text, chain, size, spec)
        out.append(
            fill_color(self.color(spec, "color", "ink")) + self.place(lines, fitted, spec, x, y)
        )
        if second is None or other is None:
            return
        below = Spec(
            {**spec.data, "max_lines": second.integer("max_lines", spec.integer("max_lines", 1))},
            where,
        )
        chain2 = self.faces.chain(bold=second.flag("bold", bold), second=True)
        fitted2, lines2 = self.fitted(other, chain2, second.number("size", size * 0.9), below)
        gap = spec.number("line_gap", size / MM * 1.25)
        dy = second.number("dy", 4.0) + (len(lines) - 1) * gap
        color2 = self.t.color(second.text("color", spec.text("color", "ink")), where)
        out.append(
            fill_color(color2)
            + self.place(lines2, fitted2, below, x + second.number("dx", 0), y + dy)
        )

    # -- static shapes ---------------------------------------------------------------------

    def rect(self, spec: Spec, out: list[str]) -> None:
        x, y, w, h = (spec.number(k) for k in ("x", "y", "w", "h"))
        box = f"{num(self.x(x))} {num(self.y(y + h))} {num(w * MM)} {num(h * MM)} re "
        if spec.has("fill"):
            out.append(fill_color(self.color(spec, "fill", "band")) + box + "f\n")
        if spec.has("stroke"):
            width = num(spec.number("line_width", 0.5))
            out.append(f"{stroke_color(self.color(spec, 'stroke', 'rule'))}{width} w {box}S\n")

    def line(self, spec: Spec, out: list[str]) -> None:
        x1, y1, x2, y2 = (spec.number(k) for k in ("x1", "y1", "x2", "y2"))
        color = stroke_color(self.color(spec, "color", "rule"))
        pen = f"{color}{num(spec.number('line_width', 0.5))} w"
        out.append(
            f"{pen} {num(self.x(x1))} {num(self.y(y1))} m {num(self.x(x2))} {num(self.y(y2))} l S\n"
        )

    def section(self, spec: Spec, out: list[str]) -> None:
        """A heading band: a filled bar, an accent edge, the bilingual heading on one line."""
        x, y, w, h = (spec.number(k) for k in ("x", "y", "w", "h"))
        band = {"x": x, "y": y, "w": w, "h": h, "fill": spec.text("fill", "band")}
        self.rect(Spec(band, spec.where), out)
        if spec.has("accent"):
            edge = {"x": x, "y": y, "w": 1.2, "h": h, "fill": spec.text("accent")}
            self.rect(Spec(edge, spec.where), out)
        heading = {
            "key": spec.text("key"),
            "x": x + spec.number("padding", 3.0),
            "y": y + h - spec.number("baseline", 2.2),
            "size": spec.number("size", 10.5),
            "bold": True,
            "color": spec.text("color", "accent"),
            "second": {"inline": True},
        }
        self.label(Spec(heading, spec.where), out)

    # -- per-request elements --------------------------------------------------------------

    def value(self, spec: Spec, out: list[str]) -> None:
        del out  # nothing static: drawn per request
        size = spec.number("size", 10)
        self.drawables.append(
            drawables.value(
                self.engine,
                spec.text("field"),
                self.faces.chain(bold=spec.flag("bold")),
                size=size,
                min_size=spec.number("min_size", size * 0.75),
                max_lines=spec.integer("max_lines", 1),
                color=fill_color(self.color(spec, "color", "ink")),
                align=spec.text("align", "left"),
                box=(
                    self.x(spec.number("x")),
                    self.y(spec.number("y")),
                    spec.number("w") * MM,
                    spec.number("line_gap", size / MM * 1.25) * MM,
                ),
                empty=spec.text("empty", "-"),
            )
        )

    def fields(self, spec: Spec, out: list[str]) -> None:
        """Rows of bilingual label + value, the body of a certificate."""
        x, y = spec.number("x"), spec.number("y")
        label_w = spec.number("label_w")
        pitch = spec.number("pitch", 10.0)
        for row in spec.children("rows"):
            label = {
                "key": row.text("label"),
                "x": x,
                "y": y,
                "w": label_w,
                "size": spec.number("label_size", 8.5),
                "color": spec.text("label_color", "muted"),
                "second": {
                    "dy": spec.number("second_dy", 3.8),
                    "size": spec.number("second_size", 7.5),
                },
            }
            self.label(Spec(label, row.where), out)
            value = {
                "field": row.text("field"),
                "x": x + label_w,
                "y": y + spec.number("value_dy", 0.0),
                "w": spec.number("value_w"),
                "size": row.number("size", spec.number("value_size", 10.5)),
                "bold": row.flag("bold", spec.flag("value_bold")),
                "max_lines": row.integer("lines", 1),
                # A row may shrink further than the default quarter (a long name in a script
                # without spaces cannot wrap at words and must stay whole).
                **({"min_size": row.number("min_size")} if row.has("min_size") else {}),
                "line_gap": spec.number("value_line_gap", 4.4),
                "color": spec.text("value_color", "ink"),
            }
            self.value(Spec(value, row.where), out)
            y += row.number("pitch", pitch)

    def choice(self, spec: Spec, out: list[str]) -> None:
        """Static variants, laid out now and picked per request (the title per dose kind)."""
        del out
        attribute = spec.text("field")
        if attribute not in ("title_kind", "kind"):
            raise ConfigurationError(f"{spec.where}.field: only title_kind or kind can choose")
        options: dict[str, str] = {}
        for name, elements in spec.child("options").data.items():
            if not isinstance(elements, list):
                raise ConfigurationError(f"{spec.where}.options.{name}: expected a list")
            ops: list[str] = []
            for i, element in enumerate(elements):
                self.element(Spec(element, f"{spec.where}.options.{name}[{i}]"), ops)
            options[name] = "".join(ops)
        self.drawables.append(drawables.choice(attribute, options))

    def table(self, spec: Spec, out: list[str]) -> None:
        """The doses table: header band and bilingual headings static, rows per request."""
        if spec.text("rows", "doses") != "doses":
            raise ConfigurationError(f"{spec.where}.rows: only 'doses' rows exist")
        x, y = spec.number("x"), spec.number("y")
        header_h = spec.number("header_h", 9.0)
        row_h = spec.number("row_h", 7.0)
        size = spec.number("size", 9.0)
        padding = spec.number("padding", 2.0)
        columns = spec.children("columns")
        total_w = sum(c.number("w") for c in columns)
        header = {
            "x": x,
            "y": y,
            "w": total_w,
            "h": header_h,
            "fill": spec.text("header_fill", "band"),
        }
        self.rect(Spec(header, spec.where), out)
        first_bold = spec.flag("first_column_bold", True)
        cells: list[drawables.Cell] = []
        left = x
        for index, column in enumerate(columns):
            width = column.number("w")
            heading = {
                "key": column.text("label"),
                "x": left + padding,
                "y": y + spec.number("header_baseline", 4.0),
                "w": width - 2 * padding,
                "size": spec.number("header_size", 8.5),
                "bold": True,
                "color": spec.text("header_color", "accent"),
                "align": column.text("align", "left"),
                "second": {
                    "dy": spec.number("second_dy", 3.6),
                    "size": spec.number("second_size", 7.5),
                },
            }
            self.label(Spec(heading, column.where), out)
            cells.append(
                (
                    column.text("field"),
                    self.x(left + padding),
                    (width - 2 * padding) * MM,
                    column.text("align", "left"),
                    self.faces.chain(bold=first_bold and index == 0),
                )
            )
            left += width
        rule = stroke_color(self.color(spec, "rule", "rule"))
        stripe = (
            fill_color(self.color(spec, "stripe_fill", "band")) if spec.has("stripe_fill") else ""
        )
        # Everything but the cell text is fixed per row index: prepare it now.
        backgrounds, baselines = [], []
        for index in range(spec.integer("max_rows", 5)):
            top = y + header_h + index * row_h
            bottom = self.y(top + row_h)
            left_pt, right_pt, bottom_pt = num(self.x(x)), num(self.x(x + total_w)), num(bottom)
            ops = ""
            if stripe and index % 2 == 1:
                ops += f"{stripe}{left_pt} {bottom_pt} {num(total_w * MM)} {num(row_h * MM)} re f\n"
            ops += f"{rule}0.4 w {left_pt} {bottom_pt} m {right_pt} {bottom_pt} l S\n"
            backgrounds.append(ops)
            baselines.append(self.y(top + row_h / 2 + size / MM * 0.35))
        self.drawables.append(
            drawables.doses_table(
                self.engine,
                cells,
                size=size,
                color=fill_color(self.color(spec, "color", "ink")),
                backgrounds=backgrounds,
                baselines=baselines,
            )
        )

    def qr(self, spec: Spec, out: list[str]) -> None:
        x, y, side = spec.number("x"), spec.number("y"), spec.number("size")
        if side < MIN_QR_MM:
            raise ConfigurationError(
                f"{spec.where}.size: a QR printed below {MIN_QR_MM} mm may not scan"
            )
        if spec.has("border"):
            frame = {
                "x": x,
                "y": y,
                "w": side,
                "h": side,
                "stroke": spec.text("border"),
                "line_width": 0.6,
            }
            self.rect(Spec(frame, spec.where), out)
        self.drawables.append(
            drawables.qr(
                self.x(x),
                self.y(y),
                side * MM,
                spec.integer("quiet_zone", 4),
                self.qr_ec,
                self.qr_mask,
            )
        )
