"""What a verifier is shown about a certificate, and the value helpers every format's view
shares (so a date or a dose reads the same whichever format it came from)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from certdist.domain.certificate_view import parse_timestamp

CertificateKind = Literal["vaccination", "test", "recovery"]

#: The fields of :meth:`VerifiedCertificate.as_json`, in their order.
_SHOWN_FIELDS = (
    "issuer",
    "name",
    "date_of_birth",
    "age",
    "vaccine",
    "dose",
    "total_doses",
    "date",
    "test",
    "result",
    "valid_until",
    "holder_binding",
)


class CertificateFormat(StrEnum):
    DIVOC = "divoc"
    EU_DCC = "eu-dcc"
    SHC = "smart-health-card"
    FHIR = "fhir"  # a WHO DDCC:VS FHIR document bundle
    SD_JWT_VC = "sd-jwt-vc"  # a presentation: only the disclosed claims are shown


@dataclass(frozen=True)
class VerifiedCertificate:
    """What a verifier is shown about a certificate whose signature holds."""

    format: CertificateFormat
    kind: CertificateKind
    issuer: str
    name: str
    date_of_birth: str | None = None
    age: str | None = None
    vaccine: str | None = None
    dose: int | None = None
    total_doses: int | None = None
    date: str | None = None  # of the vaccination, the test sample or the first positive test
    test: str | None = None
    result: str | None = None
    valid_until: str | None = None
    #: SD-JWT VC: "shown" when a key binding JWT proved the holder's key, else "not shown".
    holder_binding: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": str(self.format), "kind": self.kind}
        for name in _SHOWN_FIELDS:
            value = getattr(self, name)
            if value not in (None, ""):
                out[name] = value
        return out


def text_or_none(value: object) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) else None


def int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def iso_date(value: object) -> str | None:
    """``2021-05-02``: unambiguous in every language, as in the other formats."""
    moment = value if isinstance(value, datetime) else parse_timestamp(value)
    return moment.astimezone(UTC).date().isoformat() if moment else None


def iso_time(value: object) -> str | None:
    moment = parse_timestamp(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ") if moment else None


# Signed content is still untrusted in shape: a foreign signer may put anything anywhere, so
# the views read nested FHIR elements through these.
def as_mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def first_mapping(value: object) -> Mapping[str, Any]:
    """The first element of a list when it is an object, else an empty one."""
    items = as_list(value)
    return as_mapping(items[0] if items else None)
