"""certdist's PDF renderer in tests, with the fonts that ship in the package.

A pytest plugin (``tests/conftest.py``) for the ``renderer`` fixture: one
:class:`PdfRenderer` per test module.
"""

from __future__ import annotations

import pytest

from certdist.formats.pdf import FontPaths, PdfRenderer
from tests.support.environment import require


def require_fonts() -> None:
    """Skip (or, in strict mode, fail) the test unless the shipped fonts are in place."""
    defaults = FontPaths()
    paths = (defaults.regular, defaults.bold, defaults.second_regular)
    present = all(path is not None and path.is_file() for path in paths)
    require(present, "shipped fonts missing (src/certdist/formats/pdf/fontfiles)")


@pytest.fixture(scope="module")
def renderer() -> PdfRenderer:
    require_fonts()
    return PdfRenderer()
