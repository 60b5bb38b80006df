"""The certificates page's downloads: the PDF first, the other formats grouped by what they
are for, and file names that tell the people and formats apart."""

from __future__ import annotations

import pytest

from certdist.services.portal import DownloadFormat
from certdist.web.download_menu import download_filename, download_menu
from certdist.web.i18n import Catalogs

NAMES = ("pdf", "qr", "json", "shc", "shc-pdf", "shc-file", "eu-dcc", "eu-dcc-pdf", "fhir")


def formats(*names: str) -> list[DownloadFormat]:
    return [DownloadFormat(name, "application/octet-stream", "bin") for name in names]


def test_the_pdf_leads_and_the_rest_are_grouped_by_purpose() -> None:
    menu = download_menu(formats(*NAMES, "x-new"), lambda text: text)
    assert menu.primary is not None
    assert menu.primary.label == "Download certificate (PDF)"
    grouped = {group.heading: [c.name for c in group.choices] for group in menu.groups}
    assert grouped == {
        "For travel (EU Digital COVID Certificate)": ["eu-dcc-pdf", "eu-dcc"],
        "For a health app or wallet (SMART Health Card)": ["shc-pdf", "shc", "shc-file"],
        "For a doctor's system (FHIR)": ["fhir"],
        "For developers (signed JSON)": ["json", "qr", "x-new"],
    }
    assert all(group.purpose for group in menu.groups)


def test_groups_without_a_format_are_left_out() -> None:
    menu = download_menu(formats("pdf", "json"), lambda text: text)
    assert [group.heading for group in menu.groups] == ["For developers (signed JSON)"]
    assert download_menu(formats("json"), lambda text: text).primary is None


def test_the_menu_speaks_hindi() -> None:
    menu = download_menu(formats(*NAMES), Catalogs().translations("hi").gettext)
    assert menu.primary is not None
    assert menu.primary.label == "प्रमाणपत्र डाउनलोड करें (PDF)"
    assert menu.groups[0].heading == "यात्रा के लिए (EU डिजिटल कोविड प्रमाणपत्र)"


@pytest.mark.parametrize(
    ("person", "fmt", "expected"),
    [
        ("Asha Devi", "pdf", "certificate-asha-devi-pdf-123456789012.pdf"),
        (
            "  José  Núñez-O'Brien ",
            "eu-dcc-pdf",
            "certificate-jose-nunez-o-brien-eu-dcc-pdf-123456789012.pdf",
        ),
        ("प्रिया शर्मा", "pdf", "certificate-pdf-123456789012.pdf"),
        ('a/b\\c"d', "pdf", "certificate-a-b-c-d-pdf-123456789012.pdf"),
    ],
)
def test_file_names_are_ascii_and_name_person_and_format(
    person: str, fmt: str, expected: str
) -> None:
    assert download_filename(person, fmt, "123456789012", "pdf") == expected
