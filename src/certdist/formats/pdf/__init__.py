"""Print-ready certificate PDFs (DESIGN §2 "Latest certificate", §6 performance levers)."""

from certdist.formats.pdf.fonts import FontPaths
from certdist.formats.pdf.renderer import PdfRenderer
from certdist.formats.pdf.template import DEFAULT_TEMPLATE_DIR

__all__ = ["DEFAULT_TEMPLATE_DIR", "FontPaths", "PdfRenderer"]
