"""Many certificates in one file, written as they come: a multi-page PDF or a ZIP of PDFs.

A batch PDF shares what every page has in common: the static content stream of each
template kind and the base font subsets are written once, when the first page needs them,
and every page refers to them. Each page then costs three small objects (the page
dictionary, its variable text and its QR stencil), written to the output immediately.
Only the byte offset of every object is kept (8 bytes each, in an ``array``) to build the
cross-reference table at the end, so memory stays flat however many pages are written.

Pages hang off intermediate ``/Pages`` nodes of at most :data:`PAGES_PER_NODE` kids, so
viewers do not have to load one array of ten thousand references to open page 1.
"""

from __future__ import annotations

import hashlib
import zipfile
from array import array
from collections import OrderedDict
from datetime import datetime
from typing import BinaryIO, Protocol

from certdist.domain.certificate_view import CertificateView
from certdist.formats.divoc_qr import PayloadForm, encode_payload
from certdist.formats.pdf import writer
from certdist.formats.pdf.qr_pool import PreparedQr
from certdist.formats.pdf.renderer import PdfRenderer, RenderedPage
from certdist.formats.pdf.subset import EmbeddedFont
from certdist.formats.qr_image import QrMatrix
from certdist.formats.registry import CertificateBundle

PAGES_PER_NODE = 64
#: Extended font subsets (names in scripts outside the base subsets) already written to the
#: file, by identity; bounded so a batch of many rare names cannot grow without limit (an
#: evicted subset is simply written again when a later page needs it).
_WRITTEN_FONTS = 512


def certificate_view(
    bundle: CertificateBundle, form: PayloadForm, payload: bytes | None = None
) -> CertificateView:
    """The printable view of a bundle, with its QR payload in ``form`` (or ``payload``, when
    already built)."""
    return CertificateView.from_credentials(
        bundle.credential,
        bundle.dose_credentials,
        qr_payload=payload or encode_payload(bundle.latest.certificate, form=form),
    )


class BatchWriter(Protocol):
    """Receives certificates one by one; :meth:`finish` completes the file."""

    media_type: str
    extension: str

    def add(self, bundle: CertificateBundle, qr: PreparedQr | None = None) -> None:
        """Add one certificate; ``qr`` is its payload and symbol when encoded already."""

    def finish(self) -> None: ...

    def discard(self) -> None:
        """Stop without completing the file (the caller deletes it)."""


class BatchPdfWriter:
    """One PDF page per certificate, streamed to ``out`` (a binary file opened for writing)."""

    media_type = "application/pdf"
    extension = "pdf"

    def __init__(
        self,
        renderer: PdfRenderer,
        out: BinaryIO,
        *,
        form: PayloadForm = "zip",
        title: str = "Certificates",
    ) -> None:
        self._renderer = renderer
        self._out = out
        self._form = form
        self._title = title
        self._position = 0
        # _offsets[n - 1] is the offset of object n; 0 while it is reserved but unwritten.
        self._offsets = array("Q")
        self._catalog = self._reserve()
        self._root = self._reserve()
        self._nodes: list[int] = []  # intermediate /Pages nodes, in page order
        self._node_kids: list[int] = []  # pages of the node being filled
        self._static: dict[str, int] = {}
        self._fonts: OrderedDict[int, tuple[EmbeddedFont, int]] = OrderedDict()
        self._digest = hashlib.md5(usedforsecurity=False)
        self._finished = False
        self.pages = 0
        self._emit(writer.HEADER)

    # -- objects ----------------------------------------------------------------------------

    def _emit(self, data: bytes) -> None:
        self._out.write(data)
        self._position += len(data)

    def _reserve(self) -> int:
        self._offsets.append(0)
        return len(self._offsets)

    def _write_object(self, number: int, body: bytes) -> None:
        self._offsets[number - 1] = self._position
        self._emit(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def _new_object(self, body: bytes) -> int:
        number = self._reserve()
        self._write_object(number, body)
        return number

    def _font_object(self, font: EmbeddedFont) -> int:
        """The number of ``font``'s Type0 dictionary, writing its five objects on first use."""
        key = id(font)
        known = self._fonts.get(key)
        if known is not None:
            self._fonts.move_to_end(key)
            return known[1]
        first = len(self._offsets) + 1
        for body in font.objects(first):
            self._new_object(body)
        # The font itself is kept with its number so its id cannot be reused by another.
        self._fonts[key] = (font, first)
        while len(self._fonts) > _WRITTEN_FONTS:
            self._fonts.popitem(last=False)
        return first

    def _static_object(self, kind: str) -> int:
        number = self._static.get(kind)
        if number is None:
            number = self._static[kind] = self._new_object(self._renderer.static_stream(kind))
        return number

    # -- pages ------------------------------------------------------------------------------

    def add(self, bundle: CertificateBundle, qr: PreparedQr | None = None) -> None:
        view = certificate_view(bundle, self._form, qr.payload if qr else None)
        self.add_view(view, qr.matrix if qr else None)

    def add_view(self, view: CertificateView, matrix: QrMatrix | None = None) -> None:
        self.add_page(self._renderer.page(view, matrix=matrix))

    def add_page(self, page: RenderedPage) -> None:
        """Write one drawn page (from :meth:`PdfRenderer.page`) to the file."""
        if self._finished:
            raise ValueError("the batch is finished")
        if not self._node_kids:
            self._nodes.append(self._reserve())
        static = self._static_object(page.kind)
        fonts = b"".join(
            b"/%s %d 0 R" % (font.face.resource.encode(), self._font_object(font))
            for font in page.fonts
        )
        number = self._reserve()
        contents = (static, number + 1, number + 2)
        self._write_object(number, page.page_object(self._nodes[-1], fonts, contents))
        self._new_object(writer.stream(page.dynamic, level=6))
        # Level 1 for the QR stencil, as in the single-page renderer: most of the gain for a
        # fraction of the time.
        self._new_object(writer.stream(page.qr, level=1))
        self._digest.update(page.dynamic)
        self._node_kids.append(number)
        self.pages += 1
        if len(self._node_kids) == PAGES_PER_NODE:
            self._close_node()

    def _close_node(self) -> None:
        kids = b" ".join(b"%d 0 R" % kid for kid in self._node_kids)
        body = b"<</Type/Pages/Parent %d 0 R/Kids[%s]/Count %d>>" % (
            self._root,
            kids,
            len(self._node_kids),
        )
        self._write_object(self._nodes[-1], body)
        self._node_kids = []

    # -- the end ----------------------------------------------------------------------------

    def finish(self) -> None:
        """Write the page tree, catalogue, cross-reference table and trailer."""
        if self._finished:
            return
        if self.pages == 0:
            raise ValueError("a PDF needs at least one page")
        if self._node_kids:
            self._close_node()
        self._finished = True
        self._write_object(
            self._root,
            b"<</Type/Pages/Kids[%s]/Count %d>>"
            % (b" ".join(b"%d 0 R" % node for node in self._nodes), self.pages),
        )
        self._write_object(self._catalog, b"<</Type/Catalog/Pages %d 0 R/Lang(en)>>" % self._root)
        info = self._new_object(
            b"<</Producer(certdist)/Title%s>>" % writer.text_string(self._title)
        )
        self._write_xref(info)

    def discard(self) -> None:
        self._finished = True

    def _write_xref(self, info: int) -> None:
        start = self._position
        count = len(self._offsets) + 1
        self._emit(b"xref\n0 %d\n0000000000 65535 f \n" % count)
        step = 4096
        for first in range(0, len(self._offsets), step):
            chunk = self._offsets[first : first + step]
            if 0 in chunk:
                raise RuntimeError("an object was reserved but never written")
            self._emit(b"".join(b"%010d 00000 n \n" % offset for offset in chunk))
        file_id = self._digest.hexdigest().upper().encode()
        self._emit(
            b"trailer\n<</Size %d/Root %d 0 R/Info %d 0 R/ID[<%s><%s>]>>\nstartxref\n%d\n%%%%EOF\n"
            % (count, self._catalog, info, file_id, file_id, start)
        )


class BatchZipWriter:
    """A ZIP archive of one single-page PDF per certificate, streamed to ``out``.

    Entries are stored, not deflated: the PDFs are compressed already. Every entry carries
    ``timestamp`` (the batch's time) so the archive does not depend on the wall clock.
    """

    media_type = "application/zip"
    extension = "zip"

    def __init__(
        self,
        renderer: PdfRenderer,
        out: BinaryIO,
        *,
        timestamp: datetime,
        form: PayloadForm = "zip",
    ) -> None:
        self._renderer = renderer
        self._form = form
        self._zip = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True)
        self._date_time = (
            max(timestamp.year, 1980),
            timestamp.month,
            timestamp.day,
            timestamp.hour,
            timestamp.minute,
            timestamp.second,
        )
        self._names: set[str] = set()
        self.pages = 0

    def add(self, bundle: CertificateBundle, qr: PreparedQr | None = None) -> None:
        name = f"certificate-{bundle.latest.certificate_id}.pdf"
        if name in self._names:
            return  # the same certificate twice in a batch is printed once
        view = certificate_view(bundle, self._form, qr.payload if qr else None)
        entry = zipfile.ZipInfo(name, date_time=self._date_time)
        entry.external_attr = 0o644 << 16
        self._zip.writestr(entry, self._renderer.render(view, matrix=qr.matrix if qr else None))
        self._names.add(name)
        self.pages += 1

    def finish(self) -> None:
        self._zip.close()

    def discard(self) -> None:
        # Closing writes the central directory into the file the caller is about to delete;
        # left open, the archive would try to at garbage collection, into a closed file.
        self._zip.close()
