"""What the citizen's certificates page offers to download, and the file names it gives.

A phone showed a dozen equal buttons per person, and every download of one person shared a
name with the others of the same format, so one overwrote another. The page now leads with
the PDF and groups the other formats by what a person would use them for; each portal
download is named after the person and the format.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from certdist.services.portal import DownloadFormat

PRIMARY_FORMAT = "pdf"
#: Purpose groups in the order the page shows them; a format of none of them (one added
#: later) lands in the developers' group, which takes any file.
_GROUPS = ("travel", "wallet", "doctor", "developer")
#: The group of each format, in the order a group lists them (a printable PDF first).
_GROUP_OF = {
    "eu-dcc-pdf": "travel",
    "eu-dcc": "travel",
    "shc-pdf": "wallet",
    "shc": "wallet",
    "shc-file": "wallet",
    "fhir": "doctor",
    "json": "developer",
    "qr": "developer",
}
_NOT_FILE_SAFE = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class DownloadChoice:
    name: str
    label: str


@dataclass(frozen=True)
class DownloadGroup:
    heading: str
    purpose: str
    choices: tuple[DownloadChoice, ...]


@dataclass(frozen=True)
class DownloadMenu:
    primary: DownloadChoice | None
    groups: tuple[DownloadGroup, ...]


def format_label(name: str, extension: str, _: Callable[[str], str]) -> str:
    labels = {
        "pdf": _("Download certificate (PDF)"),
        "qr": _("QR code (image)"),
        "json": _("Signed credential (JSON)"),
        "shc": _("SMART Health Card QR code"),
        "shc-pdf": _("SMART Health Card (PDF)"),
        "shc-file": _("SMART Health Card file"),
        "eu-dcc": _("EU Digital COVID Certificate QR code"),
        "eu-dcc-pdf": _("EU Digital COVID Certificate (PDF)"),
        "fhir": _("FHIR document (JSON)"),
    }
    return labels.get(name) or f"{name} (.{extension})"


def download_menu(formats: Iterable[DownloadFormat], _: Callable[[str], str]) -> DownloadMenu:
    texts = {
        "travel": (
            _("For travel (EU Digital COVID Certificate)"),
            _("When a country or airline asks for an EU Digital COVID Certificate."),
        ),
        "wallet": (
            _("For a health app or wallet (SMART Health Card)"),
            _("To add the certificate to a health app or the wallet on your phone."),
        ),
        "doctor": (
            _("For a doctor's system (FHIR)"),
            _("When a doctor or hospital asks for your vaccination record as a FHIR file."),
        ),
        "developer": (
            _("For developers (signed JSON)"),
            _("The signed data itself, for software that checks or stores certificates."),
        ),
    }
    primary: DownloadChoice | None = None
    members: dict[str, list[DownloadChoice]] = {group: [] for group in _GROUPS}
    order = list(_GROUP_OF)
    for fmt in sorted(
        formats, key=lambda f: (order.index(f.name) if f.name in order else 99, f.name)
    ):
        choice = DownloadChoice(fmt.name, format_label(fmt.name, fmt.extension, _))
        if fmt.name == PRIMARY_FORMAT:
            primary = choice
        else:
            members[_GROUP_OF.get(fmt.name, "developer")].append(choice)
    groups = tuple(
        DownloadGroup(*texts[group], choices=tuple(members[group]))
        for group in _GROUPS
        if members[group]
    )
    return DownloadMenu(primary, groups)


def download_filename(person: str, format_name: str, certificate_id: str, extension: str) -> str:
    """``certificate-<person>-<format>-<certificate id>.<ext>``: the person tells the files of
    a family apart, the format those of one person, and the id two certificates of one person
    (a vaccination and a test). Names are reduced to ASCII letters and digits, since not every
    phone keeps other characters in a file name; a name with none (Devanagari, for one) is
    left out, and the id still makes the file name unique."""
    ascii_name = unicodedata.normalize("NFKD", person).encode("ascii", "ignore").decode()
    slug = _NOT_FILE_SAFE.sub("-", ascii_name.lower()).strip("-")[:40].strip("-")
    parts = ["certificate", slug, _NOT_FILE_SAFE.sub("-", format_name.lower()), certificate_id]
    return "-".join(part for part in parts if part) + f".{extension}"
