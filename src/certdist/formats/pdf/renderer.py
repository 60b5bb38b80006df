"""The certificate PDF renderer: one A4 page per certificate in 1-1.3 ms (QR pre-encoded).

Why the page is written directly rather than with a PDF library: measured here, fpdf2
needs about 53 ms for a comparable bilingual page (it parses and subsets its fonts for
every document) and about 70 ms with the QR drawn as rectangles; even a plain fpdf2 page
costs about 3 ms. The target is 500 PDFs/s on two cores including HTTP, so the work is
split by lifetime:

* per process (constructor): fonts parsed; both templates compiled, with every label in
  both languages shaped and laid out into one compressed static content stream per kind;
  font subsets covering those labels plus the Latin repertoire embedded and compressed;
* per request (:meth:`PdfRenderer.render`): values fitted and drawn, the doses table, the
  QR as a vector path, then the file assembled from prebuilt objects.

A document needs a freshly built font subset only when a value holds glyphs outside the
prebuilt subsets (a name in another script); those subsets are cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from certdist.domain.certificate_view import CertificateView
from certdist.errors import ConfigurationError
from certdist.formats.pdf import writer
from certdist.formats.pdf.drawing import Compiled, Context, FaceSet
from certdist.formats.pdf.fonts import Face, FontPaths
from certdist.formats.pdf.layout import Compiler
from certdist.formats.pdf.subset import EmbeddedFont, GlyphSource, embed
from certdist.formats.pdf.template import (
    DEFAULT_TEMPLATE_DIR,
    PRIMARY_LANGUAGE,
    load_labels,
    load_template,
    template_version,
)
from certdist.formats.pdf.text import TextEngine, Usage
from certdist.formats.qr_image import FAST_MASK, QrMatrix, qr_matrix

KINDS = ("vaccination", "test")

#: Characters every Latin face embeds up front, so that values in Latin-script languages
#: (names, places, vaccine names) never need a per-request subset.
LATIN_REPERTOIRE = "".join(
    chr(cp)
    for first, last in (
        (0x20, 0x7E),
        (0xA0, 0x17F),  # Latin-1 Supplement, Latin Extended-A
        (0x2010, 0x2027),  # dashes, quotes, bullet, ellipsis
        (0x2030, 0x203A),
        (0x20B9, 0x20B9),  # rupee sign
    )
    for cp in range(first, last + 1)
)

# Fixed object numbers; fonts follow from 8 on.
_STATIC, _DYNAMIC, _QR = 5, 6, 7
_EXTENDED_CACHE_SIZE = 256


@dataclass(frozen=True)
class RenderedPage:
    """One drawn page: its variable content streams (uncompressed) and the fonts it uses."""

    kind: str
    width: float
    height: float
    title: str
    dynamic: bytes
    qr: bytes
    fonts: tuple[EmbeddedFont, ...]

    def page_object(self, parent: int, fonts: bytes, contents: tuple[int, ...]) -> bytes:
        """The /Page dictionary, given its font resource entries and content stream numbers."""
        return (
            b"<</Type/Page/Parent %d 0 R/MediaBox[0 0 %.2f %.2f]/Resources<</Font<<%s>>"
            b"/ProcSet[/PDF/Text]>>/Contents[%s]>>"
            % (
                parent,
                self.width,
                self.height,
                fonts,
                b" ".join(b"%d 0 R" % number for number in contents),
            )
        )


class PdfRenderer:
    """Renders :class:`CertificateView` objects to PDF. Build one per process and share it:
    construction parses fonts and compiles templates (a few hundred ms); :meth:`render`
    is thread-safe."""

    def __init__(
        self,
        template_dir: Path | None = None,
        *,
        second_language: str | None = "hi",
        fonts: FontPaths | None = None,
        qr_ec: str = "M",
        qr_mask: int | None = FAST_MASK,
    ) -> None:
        directory = template_dir or DEFAULT_TEMPLATE_DIR
        self.second_language = None if second_language == PRIMARY_LANGUAGE else second_language
        paths = fonts or FontPaths.for_language(self.second_language)
        if self.second_language and paths.second_regular is None:
            raise ConfigurationError("a second language needs FontPaths.second_regular")
        qr_matrix(b"check", ec=qr_ec, mask=qr_mask)  # refuse bad QR options now, not per request
        self.qr_ec = qr_ec
        self.qr_mask = qr_mask
        self.faces = self._load_faces(paths)
        for face in (self.faces.regular, self.faces.bold):
            face.prepare_plain(LATIN_REPERTOIRE)
        self._engine = TextEngine()

        primary = load_labels(directory, PRIMARY_LANGUAGE)
        second = load_labels(directory, self.second_language) if self.second_language else None
        files = [primary.path] + ([second.path] if second else [])
        static_usage = Usage()
        self._compiled: dict[str, Compiled] = {}
        for kind in KINDS:
            template = load_template(directory, kind)
            files.append(template.path)
            compiler = Compiler(
                template, primary, second, self.faces, self._engine, static_usage, qr_ec, qr_mask
            )
            self._compiled[kind] = compiler.compile()
        self.template_version = template_version(
            files, [f.digest for f in self.faces.all()], f"qr={qr_ec}/{qr_mask}"
        )

        # A face's glyph records are indexed when a subset of it is first embedded: most
        # fallback faces never are in a worker's life (their glyf copy and loca offsets
        # would be ~5 MB per worker).
        self._sources: dict[Face, GlyphSource] = {}
        self._base = self._embed_base_fonts(static_usage)
        self._static_streams = {
            kind: writer.stream(compiled.static_ops.encode("latin-1"), level=9)
            for kind, compiled in self._compiled.items()
        }
        self._extended: OrderedDict[
            tuple[str, frozenset[int], frozenset[tuple[int, str]]], EmbeddedFont
        ] = OrderedDict()
        self._lock = threading.Lock()

    def _embed_base_fonts(self, static_usage: Usage) -> dict[Face, EmbeddedFont]:
        """The subsets every document embeds: static label glyphs plus, for the Latin faces,
        the whole Latin repertoire (so Latin-script values never need a new subset)."""
        base: dict[Face, EmbeddedFont] = {}
        for face in self.faces.all():
            glyphs = set(static_usage.glyphs.get(face, set()))
            glyphs.update(face.cmap[ord(c)] for c in face.base_chars)
            if not glyphs:
                continue
            base[face] = embed(self._source(face), glyphs, static_usage.unicode.get(face))
            embedded = {c for c in face.unicode_of.values() if face.cmap.get(ord(c)) in glyphs}
            face.prepare_plain(face.base_chars | embedded)
        return base

    def _source(self, face: Face) -> GlyphSource:
        source = self._sources.get(face)
        if source is None:
            # Two threads may both build one; either result is the same.
            source = self._sources.setdefault(face, GlyphSource(face))
        return source

    @staticmethod
    def _load_faces(paths: FontPaths) -> FaceSet:
        counter = iter(range(1, 1000))

        def face(path: Path) -> Face:
            return Face(path, f"F{next(counter)}")

        regular = face(paths.regular)
        bold = face(paths.bold)
        second_regular = face(paths.second_regular) if paths.second_regular else None
        if paths.second_bold is None or paths.second_bold == paths.second_regular:
            second_bold = second_regular
        else:
            second_bold = face(paths.second_bold)
        known = {p for p in (paths.second_regular, paths.second_bold) if p}
        fallbacks = [face(p) for p in paths.fallbacks if p not in known]
        return FaceSet(regular, bold, second_regular, second_bold, fallbacks)

    # -- rendering -------------------------------------------------------------------------

    def page(self, view: CertificateView, *, matrix: QrMatrix | None = None) -> RenderedPage:
        """The variable part of ``view``'s page, for :meth:`render` and for batch documents
        (which write the static stream and the base fonts once for many pages)."""
        compiled = self._compiled.get(view.kind)
        if compiled is None:
            raise ValueError(f"no template for certificate kind {view.kind!r}")
        ctx = Context(view=view, fields=view.fields(), matrix=matrix)
        for drawable in compiled.drawables:
            drawable(ctx)
        faces = compiled.static_faces | ctx.faces
        return RenderedPage(
            kind=view.kind,
            width=compiled.page_width,
            height=compiled.page_height,
            title=compiled.document_title,
            dynamic="".join(ctx.out).encode("latin-1"),
            qr=ctx.qr,
            fonts=tuple(self._font_for(face, ctx.usage) for face in sorted(faces, key=_order)),
        )

    def static_stream(self, kind: str) -> bytes:
        """The compressed stream object body of a kind's static page content."""
        return self._static_streams[kind]

    def render(self, view: CertificateView, *, matrix: QrMatrix | None = None) -> bytes:
        """The PDF of ``view``. ``matrix`` may pass an already encoded QR of its payload."""
        page = self.page(view, matrix=matrix)
        bodies: list[bytes] = [
            b"<</Type/Catalog/Pages 2 0 R/Lang(en)>>",
            b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
            b"",  # the page, once font numbers are known
            b"<</Producer(certdist)/Title%s>>" % writer.text_string(page.title),
            self._static_streams[view.kind],
            writer.stream(page.dynamic, level=6),
            # The QR path is long and repetitive: level 1 gets most of the gain in a fifth of
            # the time of level 6 (measured).
            writer.stream(page.qr, level=1),
        ]
        resources = []
        for font in page.fonts:
            first = len(bodies) + 1
            resources.append(b"/%s %d 0 R" % (font.face.resource.encode(), first))
            bodies.extend(font.objects(first))
        bodies[2] = page.page_object(2, b"".join(resources), (_STATIC, _DYNAMIC, _QR))
        seed = self.template_version.encode() + page.dynamic + view.qr_payload
        return writer.document(bodies, root=1, info=4, seed=seed)

    def _font_for(self, face: Face, usage: Usage) -> EmbeddedFont:
        base = self._base.get(face)
        extra = usage.glyphs.get(face)
        if base is not None and (extra is None or extra <= base.glyphs):
            return base
        glyphs = frozenset((extra or {0}) | (base.glyphs if base else set()))
        unicode = usage.unicode.get(face, {})
        return self._extended_font(face, glyphs, unicode)

    def _extended_font(
        self, face: Face, glyphs: frozenset[int], unicode: dict[int, str]
    ) -> EmbeddedFont:
        """A subset for glyphs beyond the prebuilt one (cached; the ToUnicode extras come
        from this document only, so the bytes never depend on earlier requests)."""
        key = (face.resource, glyphs, frozenset(unicode.items()))
        with self._lock:
            cached = self._extended.get(key)
            if cached is not None:
                self._extended.move_to_end(key)
                return cached
        font = embed(self._source(face), glyphs, unicode, level=6)
        with self._lock:
            self._extended[key] = font
            while len(self._extended) > _EXTENDED_CACHE_SIZE:
                self._extended.popitem(last=False)
        return font


def _order(face: Face) -> int:
    return int(face.resource[1:])
