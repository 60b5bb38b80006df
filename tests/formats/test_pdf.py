"""The certificate PDF, read back the way people and machines read it.

Text comes back through poppler's ``pdftotext``, the page is rasterised by ``pdftoppm`` at
200 dpi and the QR code on it is scanned with zxing-cpp, and the file structure is checked
with pypdf. Nothing is mocked.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest

from certdist.domain.certificate_view import CertificateView
from certdist.errors import ConfigurationError
from certdist.formats.divoc_qr import PayloadForm, encode_payload
from certdist.formats.pdf import DEFAULT_TEMPLATE_DIR, FontPaths, PdfRenderer
from certdist.formats.qr_image import qr_matrix
from tests.support.credentials import make_credential, make_test_credential
from tests.support.environment import require
from tests.support.imaging import pdf_text, rasterise_pdf, scan
from tests.support.rendering import require_fonts

HINDI = json.loads((DEFAULT_TEMPLATE_DIR / "labels" / "hi.json").read_text(encoding="utf-8"))
A4 = (595.28, 841.89)


def _view(
    latest: dict[str, Any],
    history: list[dict[str, Any]] | None = None,
    *,
    form: PayloadForm = "zip",
) -> CertificateView:
    payload = encode_payload(
        json.dumps(latest, separators=(",", ":"), ensure_ascii=False), form=form
    )
    return CertificateView.from_credentials(latest, history or [], qr_payload=payload)


def _pypdf() -> Any:
    try:
        import pypdf
    except ImportError:  # pragma: no cover - depends on the environment
        require(False, "pypdf is needed to inspect PDF structure (pip install pypdf)")
        raise
    return pypdf


def _content_streams(pdf: bytes) -> list[bytes]:
    """The page's content streams, decompressed, as written (pypdf would join them)."""
    reader = _pypdf().PdfReader(io.BytesIO(pdf))
    return [ref.get_object().get_data() for ref in reader.pages[0]["/Contents"]]


def test_page_is_one_a4_page(renderer: PdfRenderer) -> None:
    pdf = renderer.render(_view(make_credential()))
    assert pdf.startswith(b"%PDF-1.7")
    reader = _pypdf().PdfReader(io.BytesIO(pdf), strict=True)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(A4, abs=0.05)


def test_name_and_labels_in_both_languages_are_text(renderer: PdfRenderer, tmp_path: Path) -> None:
    text = pdf_text(renderer.render(_view(make_credential(dose=2, total=2))), tmp_path)
    for expected in (
        "Bhaya Mitra",
        "Beneficiary Name",
        HINDI["name"],
        "Beneficiary Details",
        HINDI["beneficiary_details"],
        "Vaccination Details",
        HINDI["vaccination_details"],
        # The credential's age is the age on the day of vaccination, not today's.
        "Age at Vaccination",
        "टीकाकरण के समय आयु",
        "Aadhaar XXXXXXXX3334",
        "BEN0001",
        "COVISHIELD",
        "Serum Institute of India",
        "Sooraj Singh",
        "ABC Medical Center",
        "100000001",
        "02 May 2021",
    ):
        assert expected in text, expected
    assert "234234233334" not in text  # the identity number is never printed in full


@pytest.mark.parametrize(
    "name",
    ["श्रीमती क्षमा त्रिपाठी", "Kiran कुमार Rao", "Zoë Ångström-Øberg"],
    ids=["devanagari", "mixed", "latin-diacritics"],
)
def test_names_in_other_scripts_are_shaped_and_extractable(
    renderer: PdfRenderer, tmp_path: Path, name: str
) -> None:
    text = pdf_text(renderer.render(_view(make_credential(name=name))), tmp_path)
    assert name in text


def test_names_in_fallback_scripts(renderer: PdfRenderer, tmp_path: Path) -> None:
    assert "NotoSansTamil-Regular.ttf" in [p.name for p in FontPaths().fallbacks]
    name = "பிரியா ராமன்"
    text = pdf_text(renderer.render(_view(make_credential(name=name))), tmp_path)
    assert name in text


@pytest.mark.parametrize(
    ("dose", "total", "title", "hindi"),
    [
        (1, 2, "Provisional Certificate for COVID-19 Vaccination", "title_provisional"),
        (2, 2, "Final Certificate for COVID-19 Vaccination", "title_final"),
        (3, 2, "Booster Dose Certificate for COVID-19 Vaccination", "title_booster"),
        ("", "", "Certificate for COVID-19 Vaccination", "title_generic"),
    ],
)
def test_title_follows_the_dose(
    renderer: PdfRenderer, tmp_path: Path, dose: object, total: object, title: str, hindi: str
) -> None:
    text = pdf_text(renderer.render(_view(make_credential(dose=dose, total=total))), tmp_path)
    lines = text.splitlines()
    assert title in lines
    assert HINDI[hindi] in lines
    others = {"Provisional", "Final", "Booster Dose"} - {title.split(" Certificate")[0]}
    assert not any(line.startswith(f"{other} Certificate") for line in lines for other in others)


def test_doses_table_lists_the_latest_certificate_of_each_dose_highest_first(
    renderer: PdfRenderer, tmp_path: Path
) -> None:
    first = make_credential(dose=1, issued="2021-05-02T11:00:00.000Z", certificate_id="100000001")
    corrected = make_credential(
        dose=1,
        issued="2021-06-01T11:00:00.000Z",
        date="2021-05-03T10:00:00.000Z",
        certificate_id="100000011",
    )
    second = make_credential(
        dose=2,
        issued="2021-08-28T11:00:00.000Z",
        date="2021-08-20T10:00:00.000Z",
        certificate_id="100000002",
    )
    booster = make_credential(
        dose=3,
        issued="2022-02-01T11:00:00.000Z",
        date="2022-01-20T10:00:00.000Z",
        certificate_id="100000003",
    )
    pdf = renderer.render(_view(booster, [first, second, corrected, booster]))
    text = pdf_text(pdf, tmp_path, layout=True)
    table = text[text.index("Doses Received") :]
    rows = [
        line.split() for line in table.splitlines() if re.match(r"\s+\d\s+\d\d \w{3} \d{4}", line)
    ]
    assert [(row[0], " ".join(row[1:4])) for row in rows] == [
        ("3", "20 Jan 2022"),
        ("2", "20 Aug 2021"),
        ("1", "03 May 2021"),  # the corrected dose 1, not the superseded one
    ]


@pytest.mark.parametrize("form", ["zip", "zip-latin1-utf8"])
def test_qr_scans_back_from_the_printed_page(
    renderer: PdfRenderer, tmp_path: Path, signed_certificate: dict[str, Any], form: PayloadForm
) -> None:
    view = _view(signed_certificate, form=form)
    page = rasterise_pdf(renderer.render(view), tmp_path, dpi=200)
    assert scan(page) == [view.qr_payload]


def test_qr_is_a_lossless_stencil_of_at_least_45_mm(renderer: PdfRenderer) -> None:
    view = _view(make_credential())
    pdf = renderer.render(view)
    assert b"/XObject" not in pdf
    drawn = b"".join(_content_streams(pdf))
    found = re.search(
        rb"q 0 g ([\d.]+) 0 0 ([\d.]+) [\d.]+ [\d.]+ cm BI /W (\d+) /H (\d+) /IM true /BPC 1 ID ",
        drawn,
    )
    assert found is not None
    extent_pt, width, height = float(found.group(1)), int(found.group(3)), int(found.group(4))
    # One 1-bit sample per module, no filter, no interpolation: exact at any resolution.
    assert width == height == qr_matrix(view.qr_payload).size
    assert float(found.group(2)) == extent_pt
    assert extent_pt * 25.4 / 72 >= 45


def test_fonts_are_embedded_subsets(renderer: PdfRenderer, tmp_path: Path) -> None:
    require(shutil.which("pdffonts"), "pdffonts not found (Debian package poppler-utils)")
    source = tmp_path / "fonts.pdf"
    source.write_bytes(renderer.render(_view(make_credential(name="श्रीमती क्षमा"))))
    listing = subprocess.run(
        ["pdffonts", str(source)], capture_output=True, check=True, text=True
    ).stdout
    fonts = listing.splitlines()[2:]
    assert len(fonts) >= 3
    for line in fonts:
        assert re.match(r"[A-Z]{6}\+", line), line
        assert "CID TrueType" in line
        assert re.search(r"yes\s+yes\s+yes", line), line  # embedded, subset, ToUnicode


def test_same_certificate_gives_same_bytes(renderer: PdfRenderer) -> None:
    view = _view(make_credential(name="श्रीमती क्षमा त्रिपाठी"))
    assert renderer.render(view) == renderer.render(view)
    other = PdfRenderer()
    assert other.template_version == renderer.template_version
    assert other.render(view) == renderer.render(view)


def test_concurrent_renders_do_not_mix(renderer: PdfRenderer) -> None:
    views = [
        _view(make_credential(name=f"Person {i}", certificate_id=f"9{i:08d}")) for i in range(6)
    ]
    expected = [renderer.render(v) for v in views]
    results: dict[int, bytes] = {}

    def work(index: int) -> None:
        for _ in range(5):
            results[index] = renderer.render(views[index])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(views))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[i] for i in range(len(views))] == expected


def test_templates_are_files_that_change_without_code(
    renderer: PdfRenderer, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATE_DIR, templates)
    labels = templates / "labels" / "en.json"
    data = json.loads(labels.read_text(encoding="utf-8"))
    data["name"] = "Name of the Vaccinated Person"
    labels.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    changed = PdfRenderer(templates)
    assert changed.template_version != renderer.template_version
    text = pdf_text(changed.render(_view(make_credential())), tmp_path)
    assert "Name of the Vaccinated Person" in text
    assert "Beneficiary Name" not in text


def test_english_only_certificate(tmp_path: Path) -> None:
    require_fonts()
    english = PdfRenderer(second_language=None)
    text = pdf_text(english.render(_view(make_credential(dose=2, total=2))), tmp_path)
    assert "Final Certificate for COVID-19 Vaccination" in text
    assert HINDI["name"] not in text
    assert HINDI["title_final"] not in text


def test_lab_test_certificate(renderer: PdfRenderer, tmp_path: Path) -> None:
    view = _view(make_test_credential())
    assert view.kind == "test"
    text = pdf_text(renderer.render(view), tmp_path)
    for expected in (
        "Certificate for COVID-19 Test",
        HINDI["title_test"],
        "Test Details",
        HINDI["test_details"],
        "Age at Test",  # on the day the sample was taken
        "जाँच के समय आयु",
        "Rahul Verma",
        "Real Time PCR",
        "RT-PCR",
        "Negative",
        "01 Sep 2021, 05:30 UTC",
        "City Diagnostics Lab",
    ):
        assert expected in text, expected
    assert "Doses Received" not in text
    assert "Age at Vaccination" not in text


def test_long_values_are_fitted_not_spilled(renderer: PdfRenderer, tmp_path: Path) -> None:
    name = "Venkata Lakshmi Narasimha Subrahmanya Ramachandra Murthy Kotikalapudi"
    text = pdf_text(renderer.render(_view(make_credential(name=name))), tmp_path, layout=True)
    # Two lines in the name box; nothing reaches into the QR column on the right.
    assert "Venkata Lakshmi Narasimha" in text
    assert "Kotikalapudi" in text


def test_streams_are_compressed(renderer: PdfRenderer) -> None:
    pdf = renderer.render(_view(make_credential()))
    for stream in re.findall(rb"<<([^>]*)>>stream\n", pdf):
        assert b"/FlateDecode" in stream
    assert len(pdf) < 150_000


def _broken_template(tmp_path: Path, change: Any) -> Path:
    templates = tmp_path / "broken"
    shutil.copytree(DEFAULT_TEMPLATE_DIR, templates)
    layout = templates / "vaccination.json"
    data = json.loads(layout.read_text(encoding="utf-8"))
    change(data)
    layout.write_text(json.dumps(data), encoding="utf-8")
    return templates


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["elements"].append({"type": "sparkles"}), "unknown element type"),
        (lambda d: d["elements"].append({"type": "label", "key": "nope", "x": 1, "y": 1}), "nope"),
        (lambda d: d["elements"].append({"type": "qr", "x": 1, "y": 1, "size": 30}), "45 mm"),
        (
            lambda d: d["elements"].append({"type": "rect", "x": "1", "y": 1, "w": 1, "h": 1}),
            "number",
        ),
    ],
    ids=["unknown element", "missing label", "small qr", "bad number"],
)
def test_broken_templates_fail_at_startup(tmp_path: Path, change: Any, message: str) -> None:
    require_fonts()
    with pytest.raises(ConfigurationError, match=message):
        PdfRenderer(_broken_template(tmp_path, change))


def test_missing_font_is_a_configuration_error(tmp_path: Path) -> None:
    fonts = FontPaths(regular=tmp_path / "missing.ttf")
    with pytest.raises(ConfigurationError, match=r"missing\.ttf"):
        PdfRenderer(fonts=fonts)


def test_content_streams_decompress(renderer: PdfRenderer) -> None:
    pdf = renderer.render(_view(make_credential()))
    for match in re.finditer(rb"/Length (\d+)/Filter/FlateDecode>>stream\n", pdf):
        start = match.end()
        zlib.decompress(pdf[start : start + int(match.group(1))])


def test_bytes_do_not_depend_on_the_process(renderer: PdfRenderer, tmp_path: Path) -> None:
    # Another interpreter with another hash seed renders the same file (ETags stay stable
    # across workers), also when a name needs a per-document font subset.
    credential = make_credential(name="श्रीमती क्षमा त्रिपाठी")
    source = tmp_path / "credential.json"
    source.write_text(json.dumps(credential, ensure_ascii=False), encoding="utf-8")
    script = (
        "import json, sys\n"
        "from tests.formats.test_pdf import _view\n"
        "from certdist.formats.pdf import PdfRenderer\n"
        "credential = json.loads(open(sys.argv[1], encoding='utf-8').read())\n"
        "sys.stdout.buffer.write(PdfRenderer().render(_view(credential)))\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", script, str(source)],
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONHASHSEED": "4242"},
    ).stdout
    assert other == renderer.render(_view(credential))
