"""Print-ready certificate PDFs (which doses they list: :mod:`certdist.domain.certificate_view`;
why they are drawn this way: docs/architecture.md, “Performance levers”)."""

from certdist.formats.pdf.fonts import FontPaths
from certdist.formats.pdf.renderer import PdfRenderer
from certdist.formats.pdf.template import DEFAULT_TEMPLATE_DIR

__all__ = ["DEFAULT_TEMPLATE_DIR", "FontPaths", "PdfRenderer"]
