"""What our SD-JWT VC types are called and what their claims mean, in English and Hindi: one
description (:data:`TYPES`) from which both the SD-JWT VC Type Metadata served at each
``vct`` URL (draft-ietf-oauth-sd-jwt-vc, "SD-JWT VC Type Metadata") and the OpenID4VCI
``credential_metadata`` (``display``, ``claims``) are made, so a wallet shows the same labels
whichever it reads.

Type Metadata: ``vct``, ``name`` and ``description`` (for developers), ``display`` (one object
per ``locale``: ``name``, ``description``) and ``claims``: one object per claim path of the
credential (``path``, ``display`` with ``locale`` and ``label``, ``sd``). Every personal claim
we issue is its own disclosure (``formats/sd_jwt_vc``: the doses array, each dose, each field
of a dose or of the test), so every path is ``sd: "always"``; none is ``mandatory`` (a claim
whose value the certificate lacks is left out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from certdist.domain.models import TEST, VACCINATION

LOCALES: Final = ("en", "hi")
#: The draft's ``sd`` value: the issuer MUST make the claim selectively disclosable.
SD_ALWAYS: Final = "always"

ClaimPath = tuple[str | int | None, ...]


@dataclass(frozen=True)
class Claim:
    """One claim path and its label in each of :data:`LOCALES`."""

    path: ClaimPath
    en: str
    hi: str
    sd: str = SD_ALWAYS

    def labels(self) -> dict[str, str]:
        return {"en": self.en, "hi": self.hi}


@dataclass(frozen=True)
class CredentialType:
    """A credential type: names and descriptions in each of :data:`LOCALES`, and its claims."""

    name: dict[str, str]
    description: dict[str, str]
    claims: tuple[Claim, ...]


_PERSON: Final = (
    Claim(("name",), "Name", "नाम"),
    Claim(("birthdate",), "Date of birth", "जन्म तिथि"),
)

TYPES: Final[dict[str, CredentialType]] = {
    VACCINATION: CredentialType(
        name={"en": "Vaccination certificate", "hi": "टीकाकरण प्रमाणपत्र"},
        description={
            "en": "The doses of vaccine a person received, as the vaccination programme "
            "recorded them.",
            "hi": "किसी व्यक्ति को लगी टीके की खुराकें, जैसी टीकाकरण कार्यक्रम में दर्ज हैं।",
        },
        claims=(
            *_PERSON,
            Claim(("vaccinations",), "Vaccinations", "टीकाकरण"),
            Claim(("vaccinations", None), "Dose", "खुराक"),
            Claim(("vaccinations", None, "vaccine"), "Vaccine", "टीका"),
            Claim(("vaccinations", None, "date"), "Date of the dose", "खुराक की तारीख"),
            Claim(("vaccinations", None, "dose"), "Dose number", "खुराक संख्या"),
            Claim(("vaccinations", None, "total_doses"), "Doses in the schedule", "कुल खुराकें"),
            Claim(("vaccinations", None, "batch"), "Batch number", "बैच संख्या"),
            Claim(("vaccinations", None, "facility"), "Vaccination centre", "टीकाकरण केंद्र"),
        ),
    ),
    TEST: CredentialType(
        name={"en": "Lab test certificate", "hi": "जाँच प्रमाणपत्र"},
        description={
            "en": "The result of a person's laboratory test, as the testing programme recorded it.",
            "hi": "किसी व्यक्ति की प्रयोगशाला जाँच का परिणाम, जैसा जाँच कार्यक्रम में दर्ज है।",
        },
        claims=(
            *_PERSON,
            Claim(("test",), "Lab test", "जाँच"),
            Claim(("test", "disease"), "Disease", "रोग"),
            Claim(("test", "type"), "Test type", "जाँच का प्रकार"),
            Claim(("test", "name"), "Test name", "जाँच का नाम"),
            Claim(("test", "manufacturer"), "Test kit manufacturer", "जाँच किट निर्माता"),
            Claim(("test", "sample_collected"), "Sample collected", "नमूना लेने का समय"),
            Claim(("test", "result"), "Result", "परिणाम"),
            Claim(("test", "facility"), "Testing centre", "जाँच केंद्र"),
        ),
    ),
}


def type_metadata(kind: str, vct: str) -> dict[str, Any]:
    """The Type Metadata document of ``kind`` (``KeyError`` for another), served at ``vct``."""
    described = TYPES[kind]
    return {
        "vct": vct,
        "name": f"certdist {described.name['en'].lower()} (SD-JWT VC)",
        "description": described.description["en"],
        "display": credential_display(kind),
        "claims": [
            {
                "path": list(claim.path),
                "display": [
                    {"locale": locale, "label": label} for locale, label in claim.labels().items()
                ],
                "sd": claim.sd,
            }
            for claim in described.claims
        ],
    }


def credential_display(kind: str) -> list[dict[str, str]]:
    """The type's ``display`` (``locale``, ``name``, ``description``): the Type Metadata's,
    and the shape of OpenID4VCI's ``credential_metadata.display`` as well."""
    described = TYPES[kind]
    return [
        {
            "locale": locale,
            "name": described.name[locale],
            "description": described.description[locale],
        }
        for locale in LOCALES
    ]


def openid4vci_claims(kind: str) -> list[dict[str, Any]]:
    """The type's claims as OpenID4VCI 1.0 ``credential_metadata.claims``: ``path`` and
    ``display`` of ``{name, locale}`` (the same labels as the Type Metadata)."""
    return [
        {
            "path": list(claim.path),
            "display": [
                {"name": label, "locale": locale} for locale, label in claim.labels().items()
            ],
        }
        for claim in TYPES[kind].claims
    ]
