"""The DigiLocker issuer (pull) API as plain values, and the rules for matching a requester.

DigiLocker calls an issuer with a Pull URI request (find the document of the person asking)
and later Pull Doc requests (fetch a document by the URI the first call returned). Document
URIs are ``<IssuerId>-<DocType>-<DocId>``; our DocId is the certificateId.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum


class PullFormat(StrEnum):
    """What the requester wants back: the signed data as XML, the PDF, or both."""

    XML = "xml"
    PDF = "pdf"
    BOTH = "both"

    @property
    def wants_pdf(self) -> bool:
        return self is not PullFormat.XML

    @property
    def wants_xml(self) -> bool:
        return self is not PullFormat.PDF


@dataclass(frozen=True)
class PullUriRequest:
    ts: str
    txn: str
    org_id: str
    format: PullFormat
    doc_type: str
    digilocker_id: str
    tracking_id: str
    mobile: str
    dob: str
    full_name: str = ""


@dataclass(frozen=True)
class PullDocRequest:
    ts: str
    txn: str
    org_id: str
    format: PullFormat
    uri: str
    digilocker_id: str


@dataclass(frozen=True)
class IssuedPerson:
    """Whom the document was issued to (the response's ``IssuedTo/Persons/Person``)."""

    name: str
    dob: date | None
    gender: str
    phone: str


@dataclass(frozen=True)
class PullAnswer:
    """One response: ``ok`` is ``Status="1"``; a refusal carries nothing but ts and txn."""

    ts: str
    txn: str
    ok: bool = False
    doc_type: str = ""
    digilocker_id: str = ""
    uri: str = ""
    person: IssuedPerson | None = None
    pdf: bytes | None = None
    data: bytes | None = None


def document_uri(issuer_id: str, doc_type: str, certificate_id: str) -> str:
    return f"{issuer_id}-{doc_type}-{certificate_id}"


_DOB_FORMATS = ("%d-%m-%Y", "%Y-%m-%d", "%d/%m/%Y")


def parse_dob(text: str) -> date | None:
    """DigiLocker sends ``DD-MM-YYYY``; ISO ``YYYY-MM-DD`` and ``DD/MM/YYYY`` are accepted."""
    value = text.strip()
    for pattern in _DOB_FORMATS:
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    return None


def format_dob(value: date) -> str:
    """The ``DD-MM-YYYY`` form DigiLocker uses in responses."""
    return value.strftime("%d-%m-%Y")


def parse_timestamp(text: str, naive_offset_minutes: int) -> datetime | None:
    """An ISO 8601 ``ts``; one without an offset is read in ``naive_offset_minutes``."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone(timedelta(minutes=naive_offset_minutes)))
    return parsed


def within_skew(ts: datetime, now: datetime, max_skew_seconds: int) -> bool:
    return abs((now - ts).total_seconds()) <= max_skew_seconds


# --- lenient name matching -----------------------------------------------------------------

_SEPARATORS = re.compile(r"\s+")


def name_tokens(name: str) -> list[str]:
    """Words of a name, compared without case, accents on Latin letters, or punctuation.

    Combining marks are dropped only after an ASCII letter ("José" → "jose"): in Indic
    scripts the vowel signs are combining marks too, and dropping them would change the name.
    """
    kept: list[str] = []
    for char in unicodedata.normalize("NFKD", name):
        category = unicodedata.category(char)
        if category.startswith("M") and kept and kept[-1].isascii():
            continue
        kept.append(" " if category[0] in "PSZC" else char)
    text = unicodedata.normalize("NFC", "".join(kept)).casefold()
    return [token for token in _SEPARATORS.split(text) if token]


def names_match(registered: str, presented: str) -> bool:
    """Whether two spellings name the same person, leniently.

    The rule: after :func:`name_tokens`, both names have the same number of words, and the
    words pair up one to one in any order, a word matching an equal word or, when either of
    the two is a single letter, a word starting with that letter (an initial). So "Asha
    Devi", "DEVI, Asha", "A. Devi" and "devi asha" match each other; "Asha" alone, "Asha
    Devi Rao" and "Usha Devi" do not match "Asha Devi".
    """
    left, right = name_tokens(registered), name_tokens(presented)
    if not left or len(left) != len(right):
        return False
    left_count, right_count = Counter(left), Counter(right)
    common = left_count & right_count
    rest_left = sorted((left_count - common).elements(), key=len)
    rest_right = list((right_count - common).elements())
    # Initials first (shortest words first) so an initial does not take a full word that an
    # equal-length full word would need; with few words a greedy pairing suffices.
    for word in rest_left:
        partner = next((other for other in rest_right if _initial_pair(word, other)), None)
        if partner is None:
            return False
        rest_right.remove(partner)
    return not rest_right


def _initial_pair(a: str, b: str) -> bool:
    if len(a) == 1:
        return b.startswith(a)
    if len(b) == 1:
        return a.startswith(b)
    return False
