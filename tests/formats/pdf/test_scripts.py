"""Every script a beneficiary's name may be written in comes back out of the certificate PDF.

The PDF is made as the service makes it (credential -> CertificateView -> PdfRenderer with
its default, shipped fonts) and read back with poppler: ``pdftotext`` for the text (so the
ToUnicode maps, /ActualText spans and right-to-left glyph order are what a reader gets),
``pdftotext -bbox`` for where the text landed, ``pdftoppm`` for a clean rasterisation.
The glyphs are checked on the shaper's own output: glyph id 0 is .notdef (an empty box).
"""

from __future__ import annotations

import json
import re
import subprocess
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from certdist.domain.certificate_view import CertificateView
from certdist.formats.divoc_qr import encode_payload
from certdist.formats.pdf import DEFAULT_TEMPLATE_DIR, PdfRenderer
from certdist.formats.pdf.drawing import MM
from certdist.formats.pdf.fonts import BUNDLED_DIR
from certdist.formats.pdf.text import TextEngine
from tests.support.credentials import make_credential
from tests.support.environment import require
from tests.support.imaging import pdf_text

# Script -> (a name written in it, the shipped file that must draw it). Names are
# realistic; the Arabic one holds "الله" (a ligature in the font) and the Urdu one letters
# only Urdu uses (ہ, ی, آ).
NAMES: dict[str, tuple[str, str]] = {
    "vietnamese": ("Nguyễn Thị Minh Khai", "NotoSans-Bold.ttf"),
    "polish": ("Zażółć Gęślą", "NotoSans-Bold.ttf"),
    "cyrillic": ("Анна Сергеевна Ковалёва", "NotoSans-Bold.ttf"),
    "greek": ("Ελένη Παπαδοπούλου", "NotoSans-Bold.ttf"),
    "arabic": ("محمد عبد الله", "NotoNaskhArabic-Regular.ttf"),
    "urdu": ("شاہد آفریدی", "NotoNaskhArabic-Regular.ttf"),
    "hebrew": ("דוד בן־גוריון", "NotoSansHebrew-Regular.ttf"),
    "devanagari": ("श्रीमती क्षमा त्रिपाठी", "NotoSansDevanagari-Bold.ttf"),
    "bengali": ("সৌমিত্র চট্টোপাধ্যায়", "NotoSansBengali-Regular.ttf"),
    "tamil": ("பிரியா ராமன்", "NotoSansTamil-Regular.ttf"),
    "telugu": ("వెంకట లక్ష్మి", "NotoSansTelugu-Regular.ttf"),
    "sinhala": ("කුමාර සංගක්කාර", "NotoSansSinhala-Regular.ttf"),
    "thai": ("สมชาย ใจดี", "NotoSansThai-Regular.ttf"),
    "myanmar": ("အောင်ဆန်းစုကြည်", "NotoSansMyanmar-Regular.ttf"),
    "khmer": ("សុខ សំណាង", "NotoSansKhmer-Regular.ttf"),
    "chinese": ("王秀英", "DroidSansFallback.ttf"),
    "japanese": ("山田 さくら エリカ", "DroidSansFallback.ttf"),
    "korean": ("김민준", "DroidSansFallback.ttf"),
}
RTL = {"arabic", "urdu", "hebrew"}
# pdftotext marks a right-to-left run with RLE ... PDF (U+202B, U+202C) around its text.
RLE, PDF_MARK = "\u202b", "\u202c"


@pytest.fixture(scope="module")
def english() -> PdfRenderer:
    # English labels only: then the name is the only non-Latin text on the page.
    return PdfRenderer(second_language=None)


def _pdf(renderer: PdfRenderer, name: str) -> bytes:
    credential = make_credential(name=name)
    payload = encode_payload(
        json.dumps(credential, separators=(",", ":"), ensure_ascii=False), form="zip"
    )
    return renderer.render(CertificateView.from_credentials(credential, [], qr_payload=payload))


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def test_the_renderer_uses_only_the_shipped_faces(renderer: PdfRenderer) -> None:
    for face in renderer.faces.all():
        assert face.path.parent == BUNDLED_DIR, face.path
    assert not str(BUNDLED_DIR).startswith("/usr/share/fonts")


@pytest.mark.parametrize("script", sorted(NAMES))
def test_name_comes_back_as_its_own_text(
    renderer: PdfRenderer, tmp_path: Path, script: str
) -> None:
    name, _ = NAMES[script]
    text = _nfc(pdf_text(_pdf(renderer, name), tmp_path))
    if script in RTL:
        # The glyphs are drawn in visual order with one letter each in the ToUnicode map;
        # poppler orders a right-to-left line by position and yields the logical text.
        assert f"{RLE}{_nfc(name)}{PDF_MARK}" in text
    else:
        assert _nfc(name) in text.splitlines()


@pytest.mark.parametrize("script", sorted(NAMES))
def test_name_is_drawn_with_real_glyphs_of_its_script(renderer: PdfRenderer, script: str) -> None:
    name, expected = NAMES[script]
    # The chain the template's bold name field uses, through the renderer's own text engine.
    runs = TextEngine().runs(name, renderer.faces.chain(bold=True))
    for run in runs:
        gids = [p[0] for p in run.positions] if run.positions is not None else _hex_ids(run.hex)
        assert 0 not in gids, f"{run.text!r}: .notdef in {run.face.path.name}"
        if run.text.strip():
            assert run.face.path.name == expected, run.text
    if script in RTL:
        (run,) = runs
        assert run.rtl
    if script in ("arabic", "urdu"):
        (run,) = runs
        assert run.positions is not None
        isolated = {run.face.cmap[ord(c)] for c in name}
        # Joined (initial, medial, final) forms replace most isolated letters.
        assert len({p[0] for p in run.positions} - isolated) >= 3


def _hex_ids(hex_codes: str) -> list[int]:
    return [int(hex_codes[i : i + 4], 16) for i in range(0, len(hex_codes), 4)]


@pytest.mark.parametrize(
    ("word", "visual"),
    [("دوم", "مود"), ("שלום", "םולש")],
    ids=["arabic", "hebrew"],
)
def test_rtl_glyphs_are_drawn_right_to_left(renderer: PdfRenderer, word: str, visual: str) -> None:
    # Letters that take no joined form here (dal and waw never join to the left, the last
    # letter stands alone), so each glyph is the letter's own: the leftmost glyph drawn
    # is the last letter.
    (run,) = TextEngine().runs(word, renderer.faces.chain(bold=True))
    assert run.rtl
    assert run.positions is not None
    assert "".join(run.face.unicode_of[p[0]] for p in run.positions) == visual


def test_every_script_rasterises_cleanly(renderer: PdfRenderer, tmp_path: Path) -> None:
    names = " ".join(name for name, _ in NAMES.values())
    source = tmp_path / "all.pdf"
    # One page with every name (as an address: two lines, wrapped) and one name field.
    credential = make_credential(name="Nguyễn 王秀英 محمد")
    credential["credentialSubject"]["address"]["streetAddress"] = names[:120]
    payload = encode_payload(json.dumps(credential, ensure_ascii=False), form="zip")
    source.write_bytes(
        renderer.render(CertificateView.from_credentials(credential, [], qr_payload=payload))
    )
    result = subprocess.run(
        ["pdftoppm", "-r", "72", "-png", "-singlefile", str(source), str(tmp_path / "page")],
        capture_output=True,
        check=False,
    )
    require(result.returncode != 127, "pdftoppm not found (Debian package poppler-utils)")
    assert result.returncode == 0
    assert result.stderr == b""  # poppler reports broken fonts and glyph programs here


# -- a long name fits its box -----------------------------------------------------------------

LONG_NAMES = {
    "latin": "Venkata Lakshmi Narasimha Subrahmanya Ramachandra Kotikalapu",
    # Sixty family names in a row: no space to wrap at.
    "chinese": "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁"
    "邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜",
    "devanagari": "वेंकट लक्ष्मी नरसिंह सुब्रह्मण्य रामचंद्र मूर्ति कोटिकलपुडीम",
    "arabic": "محمد عبد الرحمن بن عبد العزيز بن فيصل بن تركي آل سعود الكبير",
}
WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>'
)


def _name_box() -> tuple[float, float, float]:
    """(left, right, baseline of the next row's label) of the name value, in points from
    the page's top left, read from the template the renderer uses."""
    layout = json.loads((DEFAULT_TEMPLATE_DIR / "vaccination.json").read_text(encoding="utf-8"))
    fields = next(e for e in layout["elements"] if e["type"] == "fields")
    rows = fields["rows"]
    index = next(i for i, row in enumerate(rows) if row["field"] == "name")
    left = (fields["x"] + fields["label_w"]) * MM
    next_row = fields["y"] + rows[index].get("pitch", fields["pitch"])
    return left, left + fields["value_w"] * MM, next_row * MM


def _words(pdf: bytes, tmp_path: Path) -> list[tuple[float, float, float, float, str]]:
    source = tmp_path / "box.pdf"
    source.write_bytes(pdf)
    result = subprocess.run(
        ["pdftotext", "-bbox", "-enc", "UTF-8", str(source), "-"],
        capture_output=True,
        check=False,
    )
    require(result.returncode != 127, "pdftotext not found (Debian package poppler-utils)")
    found: list[tuple[float, float, float, float, str]] = []
    for match in WORD.finditer(result.stdout.decode("utf-8")):
        x0, y0, x1, y1 = (float(v) for v in match.groups()[:4])
        found.append((x0, y0, x1, y1, match.group(5)))
    return found


@pytest.mark.parametrize("script", sorted(LONG_NAMES))
def test_a_sixty_character_name_fits_its_box(
    english: PdfRenderer, tmp_path: Path, script: str
) -> None:
    name = LONG_NAMES[script]
    assert len(name) == 60
    words = _words(_pdf(english, name), tmp_path)
    left, right, next_baseline = _name_box()
    # The name's words: with -bbox, poppler gives right-to-left words in visual order, and
    # a shaped run's /ActualText (spaces included) as one word.
    # Other values share the column: only words above the next row's label are candidates
    # (what lies below is checked separately: nothing of the name may be there).
    label = next(w for w in words if w[4] == "Age")
    placed = [
        w
        for w in words
        if w[4].strip() and (w[4] in name or w[4][::-1] in name) and w[0] > 150 and w[1] < label[1]
    ]
    assert placed, "the name is not on the page"
    # All of it, nothing cut off with an ellipsis.
    assert Counter("".join(w[4] for w in placed).replace(" ", "")) == Counter(name.replace(" ", ""))
    assert not any("…" in w[4] for w in words)
    tolerance = 0.5  # points: poppler's rounding of glyph boxes
    assert min(w[0] for w in placed) >= left - tolerance
    assert max(w[2] for w in placed) <= right + tolerance
    # Wrapped: at most two lines, both above the next row's label ("Age").
    lines = sorted({round(w[3]) for w in placed})
    assert len(lines) <= 2
    assert label[3] == pytest.approx(next_baseline, abs=4)  # found the right label
    assert max(w[3] for w in placed) < label[1]
    if script == "arabic":
        # Two right-to-left lines, flush right within the name's block.
        assert len(lines) == 2
        ends = [max(w[2] for w in placed if round(w[3]) == line) for line in lines]
        assert ends[0] == pytest.approx(ends[1], abs=0.5)


def test_long_name_layout_keeps_the_largest_size_that_fits(english: PdfRenderer) -> None:
    # A 60-character Latin name wraps to two lines, a point below the template's 11.5 pt,
    # rather than shrinking to one line or the floor.
    engine = TextEngine()
    left, right, _ = _name_box()
    size, lines = engine.fit(
        LONG_NAMES["latin"],
        english.faces.chain(bold=True),
        11.5,
        right - left,
        max_lines=2,
        min_size=6.5,
    )
    assert 10 <= size < 11.5
    assert len(lines) == 2


@pytest.mark.parametrize(
    ("text", "drawn"),
    [
        # Left to right as drawn: the number stands left of the name it follows.
        ("محمد 23", ["23", "محمد "]),
        ("محمد ٢٣", ["٢٣", "محمد "]),
        ("مکان نمبر 12/3 لاہور", ["لاہور", " ", "12", "/3", "مکان نمبر "]),
    ],
    ids=["digits", "arabic-indic digits", "house number"],
)
def test_numbers_in_rtl_text_read_left_to_right(
    renderer: PdfRenderer, text: str, drawn: list[str]
) -> None:
    runs = TextEngine().runs(text, renderer.faces.chain(bold=True))
    assert [run.text for run in runs] == drawn
    for run in runs:
        if run.text[0].isdigit() and run.positions is not None:
            assert not run.rtl
            # Glyphs left to right in reading order: "23" is drawn 2 then 3, not 3 then 2.
            glyphs = [p[0] for p in run.positions]
            assert glyphs == [run.face.cmap[ord(c)] for c in run.text]
