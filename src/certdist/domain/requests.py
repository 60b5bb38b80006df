"""DIVOC's certification requests, validated field by field.

These are the bodies of ``POST /divoc/api/v1/certify`` (vaccination), ``POST
/divoc/api/v1/test/certify`` (lab tests) and the rows of the bulk CSV uploads. Field names
follow DIVOC so existing clients work unchanged; limits are ours (DIVOC had none).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from certdist.errors import FieldError, InvalidInput

PRE_ENROLLMENT_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"
_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
_EARLIEST_DATE = date(1900, 1, 1)


def _to_str(value: Any) -> Any:
    # DIVOC clients send pincodes and ages as numbers or strings.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _date_text(value: Any) -> Any:
    # pydantic would read a number as a Unix timestamp (``"dob": 0`` as 1970-01-01); dates
    # and times come as ISO 8601 text, as the API description says.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("must be an ISO 8601 date or date-time as text")
    return value


#: What a spreadsheet takes for the start of a formula; a name starting so would run as one
#: in whatever sheet a certificate's data is later exported to.
FORMULA_PREFIXES = ("=", "+", "@")


def _printable(value: str) -> str:
    # Tabs and line breaks were folded into spaces already (``_Model``); any other control
    # character (C0, DEL, C1) would be signed into the certificate and printed as garbage.
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("must not contain control characters")
    return value


def _not_a_formula(value: str) -> str:
    if value.startswith(FORMULA_PREFIXES):
        raise ValueError("must not begin with =, + or @ (a spreadsheet would run it as a formula)")
    return value


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=256), AfterValidator(_printable)
]
RequiredText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=256),
    AfterValidator(_printable),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_printable),
    AfterValidator(_not_a_formula),
]
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=PRE_ENROLLMENT_CODE_PATTERN)]
_PINCODE_PATTERN = r"^[A-Za-z0-9 \-]*$"
# A number is taken as its decimal text, so the description says both (anyOf). The pattern
# is checked after tabs and line breaks were folded into spaces (``_Model``), which a JSON
# Schema pattern cannot say, so the description states it in words instead.
Pincode = Annotated[
    str,
    BeforeValidator(_to_str),
    StringConstraints(strip_whitespace=True, max_length=16, pattern=_PINCODE_PATTERN),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "string",
                    "maxLength": 16,
                    "description": "letters, digits, spaces and hyphens",
                },
                {"type": "integer", "minimum": -(10**15) + 1, "maximum": 10**16 - 1},
            ],
            "examples": ["560034", 560034],
        },
        mode="validation",
    ),
]
Age = Annotated[
    str | None,
    BeforeValidator(_to_str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^(|0*[0-9]{1,2}|0*1[0-4][0-9]|0*150)$"},
                {"type": "integer", "minimum": 0, "maximum": 150},
                {"type": "null"},
            ],
            "description": "Whole years, as a number or text",
        },
        mode="validation",
    ),
]


Date = Annotated[date, BeforeValidator(_date_text)]
DateTime = Annotated[datetime, BeforeValidator(_date_text)]


M = TypeVar("M", bound=BaseModel)


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _fold_control_whitespace(cls, value: Any) -> Any:
        # JSON-LD canonicalisers disagree on tabs (pyld escapes them, jsonld.js does not), so
        # a name with a tab would sign differently from DIVOC. Line breaks have no place in a
        # printed field either.
        if isinstance(value, str) and any(c in value for c in "\t\r\n"):
            return " ".join(value.replace("\t", " ").replace("\r", " ").replace("\n", " ").split())
        return value


class Address(_Model):
    addressLine1: Text = ""
    addressLine2: Text = ""
    district: Text = ""
    city: Text = ""
    state: Text = ""
    pincode: Pincode = ""
    country: Annotated[str, StringConstraints(max_length=3)] = ""


class Recipient(_Model):
    name: Name
    dob: Date
    age: Age = None
    gender: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    nationality: RequiredText
    identity: Text = ""
    contact: list[Annotated[str, StringConstraints(max_length=320)]] = Field(
        default_factory=list, max_length=10
    )
    address: Address = Field(default_factory=Address)

    @field_validator("dob")
    @classmethod
    def _dob_in_range(cls, value: date) -> date:
        if value < _EARLIEST_DATE or value > datetime.now(UTC).date():
            raise ValueError("date of birth must be between 1900-01-01 and today")
        return value

    @field_validator("age")
    @classmethod
    def _age_is_years(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.isdigit() or int(value) > 150:
            raise ValueError("age must be a whole number of years from 0 to 150")
        return str(int(value))

    @field_validator("identity")
    @classmethod
    def _identity_is_iri(cls, value: str) -> str:
        # The identity becomes the credential subject's JSON-LD @id; a relative IRI would be
        # dropped by canonicalisation and differ between JSON-LD processors.
        if value and value.upper() != "NA" and not _ABSOLUTE_IRI.match(value):
            raise ValueError("identity must be a URI such as did:in.gov.uidai.aadhaar:XXXX")
        return value

    @field_validator("contact")
    @classmethod
    def _contacts_have_schemes(cls, value: list[str]) -> list[str]:
        for item in value:
            if not (item.startswith("tel:") or item.startswith("mailto:")):
                raise ValueError("each contact must start with tel: or mailto:")
            if item.startswith("mailto:") and not re.fullmatch(
                r"mailto:[^@\s]+@[^@\s]+\.[^@\s]+", item
            ):
                raise ValueError("mailto: contact is not an e-mail address")
        return value


class Person(_Model):
    name: Name


class Facility(_Model):
    name: Name
    address: Address = Field(default_factory=Address)


class Vaccination(_Model):
    name: RequiredText
    batch: Text = ""
    manufacturer: Text = ""
    date: DateTime
    effectiveStart: Date | None = None
    effectiveUntil: Date | None = None
    dose: int = Field(ge=1, le=20)
    totalDoses: int = Field(ge=1, le=20)

    @model_validator(mode="after")
    def _effective_range(self) -> Vaccination:
        if (
            self.effectiveStart
            and self.effectiveUntil
            and self.effectiveUntil < self.effectiveStart
        ):
            raise ValueError("effectiveUntil must not be before effectiveStart")
        return self


class CertificationRequest(_Model):
    """One vaccination event to certify (DIVOC ``CertificationRequest``)."""

    preEnrollmentCode: Code
    programId: Annotated[str, StringConstraints(max_length=64)] = ""
    recipient: Recipient
    vaccination: Vaccination
    vaccinator: Person
    facility: Facility
    comorbidities: list[Annotated[str, StringConstraints(max_length=128)]] = Field(
        default_factory=list, max_length=32
    )
    meta: dict[str, Any] = Field(default_factory=dict)


class TestDetails(_Model):
    batch: Text = ""
    manufacturer: Text = ""
    testName: RequiredText
    testType: RequiredText
    disease: RequiredText
    sampleOrigin: Text = ""
    sampleCollectionTimestamp: DateTime
    resultTimestamp: DateTime
    result: RequiredText

    @model_validator(mode="after")
    def _result_after_sample(self) -> TestDetails:
        if self.resultTimestamp < self.sampleCollectionTimestamp:
            raise ValueError("resultTimestamp must not be before sampleCollectionTimestamp")
        return self


class TestCertificationRequest(_Model):
    """One lab test result to certify (DIVOC ``TestCertificationRequest``)."""

    __test__ = False  # not a pytest test class

    preEnrollmentCode: Code
    programId: Annotated[str, StringConstraints(max_length=64)] = ""
    recipient: Recipient
    testDetails: TestDetails
    verifier: Person
    facility: Facility
    meta: dict[str, Any] = Field(default_factory=dict)


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """pydantic's errors as ours: a dotted location and a message, never the bad value."""
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in err["loc"])
        if prefix:
            location = f"{prefix}.{location}" if location else prefix
        out.append(FieldError(location=location, message=str(err["msg"])))
    return out


def parse_batch(model: type[M], body: Any, *, max_items: int) -> list[M]:
    """Validate a JSON array of requests; every bad field of every item is reported at once."""
    if not isinstance(body, list):
        raise InvalidInput("the body must be a JSON array of requests")
    if not body:
        raise InvalidInput("the body must contain at least one request")
    if len(body) > max_items:
        raise InvalidInput(f"at most {max_items} requests per call")
    parsed: list[M] = []
    errors: list[FieldError] = []
    for index, item in enumerate(body):
        try:
            parsed.append(model.model_validate(item))
        except ValidationError as exc:
            errors.extend(field_errors(exc, prefix=str(index)))
    if errors:
        raise InvalidInput("invalid certification request", errors)
    return parsed
