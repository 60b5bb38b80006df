"""Batch documents: one streamed multi-page PDF, or a ZIP of single PDFs.

Read back as people and machines read them: structure with pypdf (strict), text per page
with pdftotext, and every page's QR code rasterised by pdftoppm and scanned with zxing-cpp.
That memory stays flat over 10,000 pages is shown by ``bench/bench_print.py``, not here.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from certdist.domain.certificate_view import CertificateView
from certdist.domain.models import VACCINATION, CertificateRecord
from certdist.formats.divoc_qr import encode_payload
from certdist.formats.pdf import PdfRenderer
from certdist.formats.pdf.batch import PAGES_PER_NODE, BatchPdfWriter, BatchZipWriter
from certdist.formats.pdf.qr_pool import PreparedQr, QrPool
from certdist.formats.registry import CertificateBundle
from tests.support.credentials import make_credential, make_test_credential
from tests.support.environment import require
from tests.support.imaging import open_image, pdf_text, scan

NAMES = ["Asha Rao", "भया मित्र", "Zoë Åberg-Łukasik", "அருண் குமார்", "Bhaya Mitra"]


def _pypdf() -> Any:
    try:
        import pypdf
    except ImportError:  # pragma: no cover - depends on the environment
        require(False, "pypdf is needed to inspect PDF structure (pip install pypdf)")
        raise
    return pypdf


def _credential(index: int) -> dict[str, Any]:
    return make_credential(
        name=NAMES[index % len(NAMES)],
        certificate_id=str(200_000_000 + index),
        ref_id=f"BEN{index:04d}",
        dose=1 + index % 3,
    )


def _view(credential: dict[str, Any]) -> CertificateView:
    compact = json.dumps(credential, separators=(",", ":"), ensure_ascii=False)
    return CertificateView.from_credentials(
        credential, [credential], qr_payload=encode_payload(compact)
    )


def _bundle(credential: dict[str, Any]) -> CertificateBundle:
    now = datetime(2021, 5, 2, tzinfo=UTC)
    subject = credential["credentialSubject"]
    record = CertificateRecord(
        id=str(uuid.uuid4()),
        certificate_id=credential["evidence"][0]["certificateId"],
        pre_enrollment_code=subject["refId"],
        entity_type=VACCINATION,
        program_id="C19",
        dose=credential["evidence"][0]["dose"],
        total_doses=2,
        name=subject["name"],
        dob=None,
        gender="Female",
        mobile=None,
        contacts=(),
        certificate=json.dumps(credential, separators=(",", ":"), ensure_ascii=False),
        key_id="k",
        created_at=now,
        updated_at=now,
    )
    return CertificateBundle(latest=record, doses=(record,))


def _batch(renderer: PdfRenderer, views: list[CertificateView]) -> bytes:
    out = io.BytesIO()
    writer = BatchPdfWriter(renderer, out, title="Facility batch")
    for view in views:
        writer.add_view(view)
    writer.finish()
    return out.getvalue()


def _rasterise_all(pdf: bytes, directory: Path, dpi: int) -> list[Any]:
    require(shutil.which("pdftoppm"), "pdftoppm not found (Debian package poppler-utils)")
    source = directory / "batch.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", str(source), str(directory / "page")],
        check=True,
        capture_output=True,
    )
    pages = sorted(directory.glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    return [open_image(page.read_bytes()) for page in pages]


def test_one_page_per_certificate_in_a_valid_page_tree(renderer: PdfRenderer) -> None:
    views = [_view(_credential(i)) for i in range(PAGES_PER_NODE + 6)]
    reader = _pypdf().PdfReader(io.BytesIO(_batch(renderer, views)), strict=True)
    assert len(reader.pages) == len(views)
    assert reader.metadata.title == "Facility batch"
    root = reader.trailer["/Root"]["/Pages"]
    # Two intermediate nodes under the root: full, then the rest.
    assert [kid.get_object()["/Count"] for kid in root["/Kids"]] == [PAGES_PER_NODE, 6]
    for page in reader.pages:
        assert [round(float(v), 2) for v in page.mediabox] == [0, 0, 595.28, 841.89]


@pytest.mark.parametrize("dpi", [150, 300])
def test_every_page_prints_its_own_qr_and_text(
    renderer: PdfRenderer, tmp_path: Path, dpi: int
) -> None:
    views = [_view(_credential(i)) for i in range(len(NAMES))]
    pdf = _batch(renderer, views)
    images = _rasterise_all(pdf, tmp_path, dpi)
    assert [scan(image) for image in images] == [[view.qr_payload] for view in views]
    pages = pdf_text(pdf, tmp_path).split("\f")
    for index, view in enumerate(views):
        assert view.beneficiary.name in pages[index]
        assert view.certificate_id in pages[index]
        others = [v.certificate_id for v in views if v is not view]
        assert not any(other in pages[index] for other in others)


def test_static_content_and_fonts_are_written_once(renderer: PdfRenderer) -> None:
    latin = [
        _view(make_credential(name=f"Person {i}", certificate_id=f"3{i:08d}")) for i in range(30)
    ]
    one, many = _batch(renderer, latin[:1]), _batch(renderer, latin)
    assert many.count(b"/FontFile2") == one.count(b"/FontFile2") > 0
    reader = _pypdf().PdfReader(io.BytesIO(many))
    static = {page["/Contents"][0].idnum for page in reader.pages}
    assert len(static) == 1
    # Each further page adds its own text and QR only: a small fraction of a single PDF.
    assert (len(many) - len(one)) / 29 < len(one) / 4


def test_mixed_kinds_and_scripts_share_one_document(renderer: PdfRenderer, tmp_path: Path) -> None:
    lab = make_test_credential()
    views = [_view(_credential(1)), _view(lab), _view(_credential(3))]
    pdf = _batch(renderer, views)
    pages = pdf_text(pdf, tmp_path).split("\f")
    assert "भया मित्र" in pages[0]
    assert lab["evidence"][0]["certificateId"] in pages[1]
    assert "அருண் குமார்" in pages[2]
    assert len(_pypdf().PdfReader(io.BytesIO(pdf), strict=True).pages) == 3


def test_pages_reach_the_output_as_they_are_added(renderer: PdfRenderer) -> None:
    out = io.BytesIO()
    writer = BatchPdfWriter(renderer, out)
    sizes = []
    for i in range(5):
        writer.add_view(_view(_credential(i)))
        sizes.append(out.tell())
    assert sizes == sorted(sizes)
    assert len(set(sizes)) == 5
    assert b"xref" not in out.getvalue()
    writer.finish()
    assert out.getvalue().endswith(b"%%EOF\n")


def test_xref_offsets_point_at_their_objects(renderer: PdfRenderer) -> None:
    pdf = _batch(renderer, [_view(_credential(i)) for i in range(3)])
    start = int(re.findall(rb"startxref\n(\d+)", pdf)[-1])
    table = pdf[start:].split(b"trailer")[0].splitlines()[3:]
    for number, line in enumerate(table, start=1):
        offset = int(line[:10])
        assert pdf[offset:].startswith(b"%d 0 obj\n" % number)


def test_same_certificates_give_the_same_bytes(renderer: PdfRenderer) -> None:
    views = [_view(_credential(i)) for i in range(4)]
    assert _batch(renderer, views) == _batch(renderer, views)


def test_an_empty_batch_is_refused(renderer: PdfRenderer) -> None:
    writer = BatchPdfWriter(renderer, io.BytesIO())
    with pytest.raises(ValueError, match="at least one page"):
        writer.finish()


def test_zip_holds_one_single_pdf_per_certificate(renderer: PdfRenderer) -> None:
    bundles = [_bundle(_credential(i)) for i in range(3)]
    out = io.BytesIO()
    writer = BatchZipWriter(renderer, out, timestamp=datetime(2021, 5, 2, 18, 30, tzinfo=UTC))
    for bundle in [*bundles, bundles[0]]:
        writer.add(bundle)
    writer.finish()
    archive = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    assert archive.testzip() is None
    names = [f"certificate-{b.latest.certificate_id}.pdf" for b in bundles]
    assert archive.namelist() == names  # the repeated certificate is stored once
    assert writer.pages == 3
    for name, bundle in zip(names, bundles, strict=True):
        info = archive.getinfo(name)
        assert info.date_time == (2021, 5, 2, 18, 30, 0)
        assert info.compress_type == zipfile.ZIP_STORED
        document = archive.read(name)
        assert len(_pypdf().PdfReader(io.BytesIO(document), strict=True).pages) == 1
        assert bundle.latest.certificate_id.encode() in b"".join(
            page.extract_text().encode() for page in _pypdf().PdfReader(io.BytesIO(document)).pages
        )


def test_qr_codes_encoded_in_a_helper_process_give_the_same_pages(
    renderer: PdfRenderer,
) -> None:
    bundles = [_bundle(_credential(i)) for i in range(4)]
    texts = [bundle.latest.certificate for bundle in bundles]
    with QrPool(1, form="zip", ec=renderer.qr_ec, mask=renderer.qr_mask) as pool:
        helper = pool.submit(texts).result()
    with QrPool(0, form="zip", ec=renderer.qr_ec, mask=renderer.qr_mask) as inline:
        assert inline.submit(texts).result() == helper

    def batch(prepared: list[PreparedQr] | None) -> bytes:
        out = io.BytesIO()
        writer = BatchPdfWriter(renderer, out)
        for index, bundle in enumerate(bundles):
            writer.add(bundle, prepared[index] if prepared else None)
        writer.finish()
        return out.getvalue()

    assert batch(helper) == batch(None)
