"""The purpose-built subsetter on the largest shipped face (Droid Sans Fallback, ~50,000
glyphs): what it keeps is the original, what it drops is empty, the file is well formed."""

from __future__ import annotations

import io

import pytest
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

from certdist.formats.pdf.fonts import BUNDLED_DIR, Face
from certdist.formats.pdf.subset import GlyphSource, _checksum, embed, subset_program


@pytest.fixture(scope="module")
def cjk() -> Face:
    return Face(BUNDLED_DIR / "DroidSansFallback.ttf", "F1")


@pytest.fixture(scope="module")
def original() -> TTFont:
    return TTFont(BUNDLED_DIR / "DroidSansFallback.ttf")


def test_kept_glyphs_are_the_originals_and_the_rest_are_empty(cjk: Face, original: TTFont) -> None:
    source = GlyphSource(cjk)
    wanted = {cjk.cmap[ord(c)] for c in "王秀英김さ"}
    keep = source.closure(wanted)
    subset = TTFont(io.BytesIO(subset_program(source, wanted)))
    names, originals = subset.getGlyphOrder(), original.getGlyphOrder()
    assert len(names) == len(originals)  # glyph ids keep their meaning
    for gid in range(len(names)):
        glyph = subset["glyf"][names[gid]]
        if gid not in keep:
            assert glyph.numberOfContours == 0, gid
            continue
        source_glyph = original["glyf"][originals[gid]]
        assert glyph.numberOfContours == source_glyph.numberOfContours
        if glyph.numberOfContours > 0:
            assert list(glyph.coordinates) == list(source_glyph.coordinates)
        assert subset["hmtx"][names[gid]] == original["hmtx"][originals[gid]]


def test_the_file_checksum_is_right(cjk: Face) -> None:
    program = subset_program(GlyphSource(cjk), {cjk.cmap[ord("王")]})
    assert _checksum(program) == 0xB1B0AFBA  # the sfnt rule, through head's adjustment


def test_a_cjk_subset_is_small(cjk: Face) -> None:
    font = embed(GlyphSource(cjk), {cjk.cmap[ord(c)] for c in "王秀英"}, level=6)
    # Unused metrics and offsets are zeros: they compress to almost nothing.
    assert len(font.program) < 4_000
