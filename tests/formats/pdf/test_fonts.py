"""Where the PDF fonts come from: the shipped faces by default, settings for others."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

from certdist.config import load_settings
from certdist.domain.certificate_view import CertificateView
from certdist.errors import ConfigurationError
from certdist.formats.pdf import FontPaths, PdfRenderer
from certdist.formats.pdf.fonts import BUNDLED_DIR, DEFAULT_FALLBACK_FILES, Face
from certdist.services.distribution import pdf_renderer
from tests.support.credentials import make_credential


def test_every_default_file_is_shipped_with_its_licence() -> None:
    paths = FontPaths()
    for path in (paths.regular, paths.bold, paths.second_regular, paths.second_bold):
        assert path is not None
        assert path.parent == BUNDLED_DIR
        assert path.is_file()
    assert [p.name for p in paths.fallbacks] == list(DEFAULT_FALLBACK_FILES)
    assert all(p.is_file() for p in paths.fallbacks)
    readme = (BUNDLED_DIR / "README.md").read_text(encoding="utf-8")
    for path in BUNDLED_DIR.glob("*.ttf"):
        assert path.name in readme  # each file's source and licence is named
    assert (BUNDLED_DIR / "LICENSE-OFL-1.1.txt").is_file()
    assert (BUNDLED_DIR / "LICENSE-Apache-2.0.txt").is_file()


def test_every_shipped_face_has_truetype_outlines() -> None:
    for path in sorted(BUNDLED_DIR.glob("*.ttf")):
        face = Face(path, "F1")  # refuses CFF outlines
        assert face.table(b"glyf") is not None, path.name


def test_a_font_folder_overlays_the_shipped_files_by_name(tmp_path: Path) -> None:
    shutil.copy(BUNDLED_DIR / "NotoSans-Regular.ttf", tmp_path / "NotoSans-Regular.ttf")
    paths = FontPaths.for_language("ta", tmp_path)
    assert paths.regular == tmp_path / "NotoSans-Regular.ttf"
    assert paths.bold == BUNDLED_DIR / "NotoSans-Bold.ttf"  # not in the folder
    assert paths.second_regular == BUNDLED_DIR / "NotoSansTamil-Regular.ttf"
    # No bold Tamil is shipped: the regular face sets bold Tamil labels.
    assert paths.second_bold == paths.second_regular
    assert paths.fallbacks[-1] == BUNDLED_DIR / "DroidSansFallback.ttf"


def test_single_roles_and_the_fallback_list_can_be_set() -> None:
    tamil = BUNDLED_DIR / "NotoSansTamil-Regular.ttf"
    paths = FontPaths.for_language("hi", files={"second_regular": tamil}, fallbacks=[])
    assert paths.second_regular == tamil
    assert paths.second_bold == tamil  # never Devanagari bold next to a Tamil face
    assert paths.fallbacks == ()
    with pytest.raises(ConfigurationError, match="unknown font roles"):
        FontPaths.for_language("hi", files={"italic": tamil})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("pdf_font_dir", Path("/nonexistent/fonts")),
        ("pdf_font_files", {"regular": Path("/nonexistent/Regular.ttf")}),
        ("pdf_font_fallbacks", [Path("/nonexistent/Fallback.ttf")]),
    ],
)
def test_a_missing_configured_font_names_its_setting(setting: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=setting):
        load_settings(**{setting: value})


def test_the_service_renderer_follows_the_settings(tmp_path: Path) -> None:
    shutil.copy(BUNDLED_DIR / "NotoSans-Bold.ttf", tmp_path / "NotoSans-Regular.ttf")
    settings = load_settings(
        data_dir=tmp_path / "data",
        pdf_font_dir=tmp_path,
        pdf_font_fallbacks=[BUNDLED_DIR / "DroidSansFallback.ttf"],
    )
    renderer = pdf_renderer(settings.documents)
    assert renderer.faces.regular.path == tmp_path / "NotoSans-Regular.ttf"
    assert [face.path.name for face in renderer.faces.fallbacks] == ["DroidSansFallback.ttf"]
    assert renderer.template_version != PdfRenderer().template_version  # fonts are in it


def test_an_unreadable_font_says_which_settings_choose_fonts(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as error:
        PdfRenderer(fonts=FontPaths(regular=tmp_path / "missing.ttf"))
    message = str(error.value)
    assert "missing.ttf" in message
    assert "pdf_font_dir" in message
    assert "fonts-noto-core" not in message


@pytest.mark.parametrize("name", sorted(p.name for p in BUNDLED_DIR.glob("*.ttf")))
def test_raw_tables_read_as_fonttools_reads_them(name: str) -> None:
    # Face reads cmap and metrics by glyph id itself (fontTools goes by glyph name, slowly).
    face = Face(BUNDLED_DIR / name, "F1")
    font = TTFont(BUNDLED_DIR / name)
    order = font.getGlyphOrder()
    ids = {glyph: gid for gid, glyph in enumerate(order)}
    expected = {cp: ids[glyph] for cp, glyph in font.getBestCmap().items() if ids.get(glyph)}
    assert face.cmap == expected
    assert face.advances == [font["hmtx"].metrics[glyph][0] for glyph in order]
    assert face.num_glyphs == font["maxp"].numGlyphs
    assert face.italic_angle == float(font["post"].italicAngle)


def test_a_fallback_face_is_indexed_only_when_its_script_is_drawn() -> None:
    # Building every face's character map and glyph index at start-up cost each server
    # worker ~15 MB, most of it for faces (CJK above all) that a Latin name never needs.
    renderer = PdfRenderer(second_language=None)
    cjk = next(f for f in renderer.faces.fallbacks if f.path.name == "DroidSansFallback.ttf")
    latin = renderer.render(_view("Asha Verma"))
    assert "cmap" not in vars(cjk)
    assert cjk not in renderer._sources
    chinese = renderer.render(_view("王秀英"))
    assert "cmap" in vars(cjk)
    assert cjk in renderer._sources
    assert latin.startswith(b"%PDF-")
    assert chinese.startswith(b"%PDF-")
    assert len(chinese) > len(latin)  # the CJK subset is embedded


def _view(name: str) -> CertificateView:
    return CertificateView.from_credentials(make_credential(name=name), [], qr_payload=b"QR")
