"""Text layout and font embedding under the PDF renderer: runs, fitting, subsetting."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

from certdist.errors import ConfigurationError
from certdist.formats.pdf.fonts import Face, FontPaths, needs_shaping
from certdist.formats.pdf.subset import GlyphSource, embed, subset_program
from certdist.formats.pdf.text import ELLIPSIS, TextEngine, Usage, draw_line, line_em
from tests.support.environment import require

DEFAULTS = FontPaths()


@pytest.fixture(scope="module")
def latin() -> Face:
    require(DEFAULTS.regular.is_file(), "shipped fonts missing (fontfiles)")
    face = Face(DEFAULTS.regular, "F1")
    face.prepare_plain(chr(c) for c in range(0x20, 0x17F))
    return face


@pytest.fixture(scope="module")
def devanagari() -> Face:
    path = DEFAULTS.second_regular
    require(path is not None and path.is_file(), "shipped fonts missing (fontfiles)")
    assert path is not None
    return Face(path, "F2")


def test_plain_latin_is_one_run_without_shaping(latin: Face, devanagari: Face) -> None:
    usage = Usage()
    (run,) = TextEngine().runs("Bhaya Mitra", (latin, devanagari), usage)
    assert run.positions is None
    assert run.face is latin
    assert run.hex == "".join(f"{latin.cmap[ord(c)]:04X}" for c in "Bhaya Mitra")
    assert usage.glyphs == {}  # nothing outside the prebuilt subset


def test_scripts_get_their_own_fonts_and_shaping(latin: Face, devanagari: Face) -> None:
    usage = Usage()
    runs = TextEngine().runs("Kiran कुमार (2)", (latin, devanagari), usage)
    assert [(run.face, run.text) for run in runs] == [(latin, "Kiran "), (devanagari, "कुमार (2)")]
    assert runs[0].positions is None
    assert runs[1].positions is not None
    assert devanagari in usage.glyphs


def test_conjuncts_are_shaped_into_fewer_glyphs(devanagari: Face) -> None:
    (run,) = TextEngine().runs("क्ष", (devanagari,))
    assert run.positions is not None
    assert len(run.positions) == 1  # ka + virama + ssa -> one conjunct glyph
    assert run.unicode == ((run.positions[0][0], "क्ष"),)


def test_shaped_runs_carry_their_text_for_extraction(latin: Face, devanagari: Face) -> None:
    (run,) = TextEngine().runs("नाम", (devanagari, latin))
    drawn = draw_line([run], 10, 20, 9)
    assert "/ActualText<FEFF" + "नाम".encode("utf-16-be").hex().upper() + ">" in drawn
    assert drawn.count("BDC") == drawn.count("EMC") == 1


@pytest.mark.parametrize(
    ("char", "shaped"),
    [
        ("A", False),
        ("é", False),
        ("Ж", False),
        ("–", False),
        ("₹", False),
        ("क", True),
        ("\u0301", True),
    ],
)
def test_which_characters_need_shaping(char: str, shaped: bool) -> None:
    assert needs_shaping(char) is shaped


def test_short_text_keeps_its_size(latin: Face) -> None:
    size, lines = TextEngine().fit("Male", (latin,), 10, 100)
    assert size == 10
    assert len(lines) == 1


def test_long_text_wraps_within_the_width(latin: Face) -> None:
    text = "123, Koramangala, Bengaluru South, Bengaluru, Karnataka, 560034, IN"
    size, lines = TextEngine().fit(text, (latin,), 10, 150, max_lines=2)
    assert len(lines) == 2
    assert all(line_em(line) * size <= 150 for line in lines)
    assert " ".join("".join(run.text for run in line) for line in lines) == text


def test_text_shrinks_before_it_is_cut(latin: Face) -> None:
    text = "Subrahmanya Venkata"
    full = line_em(TextEngine().runs(text, (latin,))) * 10
    size, lines = TextEngine().fit(text, (latin,), 10, full * 0.9, min_size=8)
    assert 8 <= size < 10
    assert "".join(run.text for run in lines[0]) == text


def test_text_too_long_even_at_the_minimum_size_gets_an_ellipsis(latin: Face) -> None:
    text = "Venkata Lakshmi Narasimha Subrahmanya Ramachandra Murthy " * 3
    size, lines = TextEngine().fit(text, (latin,), 10, 120, max_lines=2, min_size=8)
    assert size == 8
    assert len(lines) == 2
    last = "".join(run.text for run in lines[-1])
    assert last.endswith(ELLIPSIS)
    assert all(line_em(line) * size <= 120 for line in lines)


def test_subset_keeps_glyph_ids_and_outlines(latin: Face) -> None:
    source = GlyphSource(latin)
    wanted = {latin.cmap[ord(c)] for c in "Aé€"}
    program = subset_program(source, wanted)
    subset = TTFont(io.BytesIO(program))
    original = TTFont(latin.path)
    assert subset["maxp"].numGlyphs == original["maxp"].numGlyphs
    new_glyf, old_glyf = subset["glyf"], original["glyf"]
    new_order, old_order = subset.getGlyphOrder(), original.getGlyphOrder()
    for gid in range(len(old_order)):
        new, old = new_glyf[new_order[gid]], old_glyf[old_order[gid]]
        if gid in source.closure(wanted):
            if old.numberOfContours:
                assert list(new.getCoordinates(new_glyf)[0]) == list(
                    old.getCoordinates(old_glyf)[0]
                )
        else:
            assert new.numberOfContours == 0
    assert len(program) < len(latin.data) / 10


def test_composite_glyphs_bring_their_components(latin: Face) -> None:
    source = GlyphSource(latin)
    e_acute = latin.cmap[ord("é")]
    assert {latin.cmap[ord("e")], e_acute} <= source.closure({e_acute})


def test_embedded_font_objects_are_numbered_and_reused(latin: Face) -> None:
    font = embed(GlyphSource(latin), {latin.cmap[ord(c)] for c in "Hello"})
    objects = font.objects(8)
    assert len(objects) == 5
    assert b"/DescendantFonts[9 0 R]/ToUnicode 12 0 R" in objects[0]
    assert objects[3].startswith(b"<</Length ")
    assert font.objects(8) is objects
    assert font.base_font.endswith("+NotoSans-Regular")


def test_font_paths_for_languages() -> None:
    tamil = FontPaths.for_language("ta")
    assert tamil.second_regular is not None
    assert tamil.second_regular.name == "NotoSansTamil-Regular.ttf"
    assert FontPaths.for_language(None).second_regular is None
    with pytest.raises(ConfigurationError, match="xx"):
        FontPaths.for_language("xx")


def test_non_truetype_fonts_are_refused(tmp_path: Path) -> None:
    fake = tmp_path / "font.otf"
    fake.write_bytes(b"OTTO" + bytes(100))
    with pytest.raises(ConfigurationError, match="TrueType"):
        Face(fake, "F1")
