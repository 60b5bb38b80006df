"""EU Digital COVID Certificate (HC1) from a vaccination or lab-test credential, and its
verification.

Issuing: the payload (schema 1.3.x: a vaccination entry ``v`` or a test entry
``t``, codes from the official value sets through the configured vaccine and lab-test
mappings) → CWT ``{1: iss, 6: iat, 4: exp, -260: {1: payload}}`` →
COSE_Sign1 with the active DSC's key (``kid`` of the DSC in the protected header) → zlib →
Base45 → ``HC1:`` → a QR code in alphanumeric mode, error correction Q.

The issue time is the start of the current UTC day, and ECDSA is deterministic, so during a
day the same certificate yields the same bytes in every process: the format's ``version``
names the day and the signer, which makes cached QR codes and ETags roll over daily.

Verification (:func:`verify_hc1`) checks, in this order, the prefix, Base45, zlib, the COSE
structure, the CWT structure, the signature and the validity period; each failure raises
:class:`~certdist.errors.VerificationError` whose message starts with the step that failed
(one of :data:`STEPS`), or :class:`~certdist.errors.UnknownKey` for an unknown ``kid``.
Failures before the signature (prefix to CWT) are
:class:`~certdist.errors.MalformedCertificate`: nothing signed could be found to check. A
certificate issued (``iat``) or valid from (``nbf``) later than now plus :data:`CLOCK_SKEW`
is :class:`~certdist.errors.CertificateNotYetValid`.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final

import cbor2
from cryptography import x509

from certdist.domain import codes
from certdist.domain.icao import (
    MAX_TRANSLITERATED_LENGTH,
    NotTransliterable,
    is_transliteration,
    transliterate,
)
from certdist.domain.models import TEST, VACCINATION
from certdist.errors import (
    CertificateNotYetValid,
    FieldError,
    InvalidInput,
    MalformedCertificate,
    SignerExpired,
    VerificationError,
)
from certdist.formats.base45 import Base45Error, b45decode, b45encode
from certdist.formats.lab_test import (
    NAAT,
    RAPID_ANTIGEN,
    LabTestCodes,
    is_lab_test,
    lab_test_of,
    utc_text,
)
from certdist.formats.qr_image import QrMatrix, qr_matrix
from certdist.formats.registry import CertificateBundle
from certdist.signing.cose import ES256, cbor_map, is_cbor_array, parse_sign1, sign1
from certdist.signing.dsc import DocumentSigner
from certdist.signing.keys import PublicKey

PREFIX: Final = "HC1:"
SCHEMA_VERSION: Final = "1.3.0"
COVID_19: Final = codes.COVID_19.snomed  # value set disease-agent-targeted
STEPS: Final = ("prefix", "base45", "zlib", "cose", "cwt", "signature", "expiry")
#: The certificate kinds an EU DCC renders (its recovery entry has no DIVOC counterpart).
ENTITY_TYPES: Final = frozenset({VACCINATION, TEST})

_ISS, _IAT, _EXP, _NBF, _HCERT, _HCERT_V1 = 1, 6, 4, 5, -260, 1
#: How far a verifier's clock may lag the issuer's: RFC 7519 (4.1.5) allows "a few minutes"
#: of leeway on nbf, and SMART Health Cards use the same five minutes.
CLOCK_SKEW: Final = timedelta(minutes=5)
# Extended key usage of a DSC limiting what it may sign (EU DCC "key usage policy"); both
# the registered arc and the one early national test CAs used.
_USAGE_OIDS: Final = {
    "t": ("1.3.6.1.4.1.1847.2021.1.1", "1.3.6.1.4.1.0.1847.2021.1.1"),
    "v": ("1.3.6.1.4.1.1847.2021.1.2", "1.3.6.1.4.1.0.1847.2021.1.2"),
    "r": ("1.3.6.1.4.1.1847.2021.1.3", "1.3.6.1.4.1.0.1847.2021.1.3"),
}
_NAME_MAX: Final = 80
_UVCI_UNSAFE: Final = re.compile(r"[^0-9A-Z]")


@dataclass(frozen=True)
class DccVaccine:
    """Value-set codes of one vaccine: prophylaxis, medicinal product, authorisation holder."""

    vp: str
    mp: str
    ma: str


@dataclass(frozen=True)
class DccProfile:
    """What a deployment puts in every DCC (from ``WalletSettings``)."""

    country: str  # ISO 3166 alpha-2: the CWT issuer, ``co`` and the UVCI's country
    certificate_issuer: str  # ``is``
    validity: timedelta
    vaccines: Mapping[str, DccVaccine]  # keyed by lower-case vaccine name
    lab_tests: LabTestCodes = field(default_factory=LabTestCodes)


@dataclass(frozen=True)
class DccNames:
    """``nam``: surname and forename with their ICAO 9303 transliterations."""

    fnt: str
    gnt: str = ""
    fn: str = ""
    gn: str = ""

    def as_payload(self) -> dict[str, str]:
        values = {"fn": self.fn, "fnt": self.fnt, "gn": self.gn, "gnt": self.gnt}
        return {key: value for key, value in values.items() if value}


@dataclass(frozen=True)
class VerifiedDcc:
    payload: dict[str, Any]
    issuer: str | None
    issued_at: datetime | None
    expires_at: datetime | None
    kid: bytes
    #: The COSE signature (ES256 as ``r || s``) and whether it is ECDSA: revocation
    #: batches of hash type ``SIGNATURE`` name certificates by it.
    signature: bytes = field(default=b"", repr=False)
    ecdsa: bool = True


# --- names -------------------------------------------------------------------------------------


def names_from_request(body: Mapping[str, Any]) -> DccNames:
    """``{fn, fnt, gn, gnt}`` from a request body, checked; InvalidInput names each problem."""
    errors: list[FieldError] = []
    values: dict[str, str] = {}
    for key in ("fn", "fnt", "gn", "gnt"):
        value = body.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            errors.append(FieldError(key, "must be a string"))
            continue
        value = value.strip()
        if len(value) > _NAME_MAX:
            errors.append(FieldError(key, f"must be at most {_NAME_MAX} characters"))
        if key.endswith("t") and value and not is_transliteration(value):
            errors.append(
                FieldError(
                    key,
                    "must be the ICAO 9303 transliteration: only A-Z and <, "
                    f"at most {MAX_TRANSLITERATED_LENGTH} characters",
                )
            )
        values[key] = value
    if not errors and not (values.get("fnt") or values.get("gnt")):
        errors.append(FieldError("fnt", "fnt or gnt is required"))
    for plain, standard in (("fn", "fnt"), ("gn", "gnt")):
        if not errors and values.get(plain) and not values.get(standard):
            errors.append(FieldError(standard, f"is required when {plain} is given"))
    if errors:
        raise InvalidInput("the names for the EU certificate are invalid", errors)
    return DccNames(fnt=values["fnt"], gnt=values["gnt"], fn=values["fn"], gn=values["gn"])


def names_from_full_name(name: str) -> DccNames:
    """Names derived from a Latin-script full name: the last word is taken as the surname.

    Used where no one can be asked (CLI export, a portal button); a person whose name does not
    follow that order, or is written in another script, sends the names explicitly.
    """
    words = name.split()
    if not words:
        raise InvalidInput("the certificate has no name", [FieldError("name", "is empty")])
    surname, forenames = words[-1], " ".join(words[:-1])
    try:
        fnt = transliterate(surname)
        gnt = transliterate(forenames) if forenames else ""
    except NotTransliterable as exc:
        raise InvalidInput(
            "the name cannot be transliterated automatically; send fn, fnt, gn and gnt",
            [FieldError("name", str(exc))],
        ) from None
    return DccNames(fnt=fnt, gnt=gnt, fn=surname[:_NAME_MAX], gn=forenames[:_NAME_MAX])


# --- issuing -----------------------------------------------------------------------------------


def uvci(country: str, certificate_id: str) -> str:
    """``URN:UVCI:01:<CC>:<id>``, the id reduced to the characters the UVCI grammar allows."""
    opaque = _UVCI_UNSAFE.sub("", certificate_id.upper())
    if not opaque:
        raise InvalidInput("the certificate id has no characters usable in a UVCI")
    return f"URN:UVCI:01:{country}:{opaque}"


def build_payload(
    bundle: CertificateBundle, names: DccNames, profile: DccProfile
) -> dict[str, Any]:
    """The DCC payload for the bundle's latest certificate: a vaccination or a test entry."""
    credential = bundle.credential
    evidence = (credential.get("evidence") or [{}])[0]
    if "Vaccination" in (evidence.get("type") or []):
        entry = {"v": [_vaccination_entry(bundle, evidence, profile)]}
    elif is_lab_test(credential):
        entry = {"t": [_test_entry(bundle, profile)]}
    else:
        raise InvalidInput("an EU DCC is issued for vaccination and lab-test certificates only")
    # A lab-test credential carries no date of birth; the beneficiary's registered one is
    # used as for a vaccination, and the schema's empty string when none is known.
    dob = bundle.latest.dob
    return {
        "ver": SCHEMA_VERSION,
        "nam": names.as_payload(),
        "dob": dob.isoformat() if dob else "",
        **entry,
    }


def _vaccination_entry(
    bundle: CertificateBundle, evidence: Mapping[str, Any], profile: DccProfile
) -> dict[str, Any]:
    vaccine_name = str(evidence.get("vaccine", ""))
    vaccine = profile.vaccines.get(vaccine_name.strip().lower())
    if vaccine is None:
        raise InvalidInput(
            "this vaccine has no EU DCC codes configured (wallet.dcc_vaccines)",
            [FieldError("evidence.vaccine", "no value-set mapping for this vaccine")],
        )
    dose = _positive(evidence.get("dose"), "dose")
    total = _positive(evidence.get("totalDoses"), "totalDoses")
    return {
        "tg": COVID_19,
        "vp": vaccine.vp,
        "mp": vaccine.mp,
        "ma": vaccine.ma,
        "dn": dose,
        # A booster beyond the primary series is written n/n (EU guidance).
        "sd": max(dose, total),
        "dt": _date_part(evidence.get("date")),
        "co": profile.country,
        "is": profile.certificate_issuer,
        "ci": uvci(profile.country, bundle.latest.certificate_id),
    }


def _test_entry(bundle: CertificateBundle, profile: DccProfile) -> dict[str, Any]:
    """The ``t`` entry: ``nm`` names a NAAT, ``ma`` (a device id) a rapid antigen test."""
    test = lab_test_of(bundle.credential)
    codes = profile.lab_tests
    test_type = codes.test_type(test)
    entry: dict[str, Any] = {"tg": codes.disease(test), "tt": test_type.dcc}
    if test_type.dcc == NAAT and test.test_name:
        entry["nm"] = test.test_name[:_NAME_MAX]
    device = codes.device(test) if test_type.dcc == RAPID_ANTIGEN else None
    if device:
        entry["ma"] = device
    entry["sc"] = utc_text(test.sample_collected)
    entry["tr"] = codes.result(test).dcc
    if test.facility:
        entry["tc"] = test.facility[:_NAME_MAX]  # the schema allows 80 characters
    entry["co"] = profile.country
    entry["is"] = profile.certificate_issuer
    entry["ci"] = uvci(profile.country, bundle.latest.certificate_id)
    return entry


def encode_hc1(
    payload: Mapping[str, Any],
    signer: DocumentSigner,
    *,
    issuer: str,
    issued_at: datetime,
    validity: timedelta,
) -> str:
    """The ``HC1:`` text of a signed DCC payload."""
    if signer.private_key is None:
        raise ValueError("this DSC's key can only verify")
    claims = {
        _ISS: issuer,
        _IAT: int(issued_at.timestamp()),
        _EXP: int((issued_at + validity).timestamp()),
        _HCERT: {_HCERT_V1: dict(payload)},
    }
    signed = sign1(cbor2.dumps(claims), signer.private_key, signer.kid)
    return PREFIX + b45encode(zlib.compress(signed, 9))


def hc1_matrix(text: str) -> QrMatrix:
    """The QR code of an ``HC1:`` text at error correction Q.

    Base45 uses exactly the QR alphanumeric alphabet, and zxing-cpp picks the densest modes
    for its input, so the text is encoded in alphanumeric mode (5.5 bits a character) by the
    C encoder: about 1.5 ms, against 5-12 ms for segno (measured on this machine).
    """
    return qr_matrix(text.encode("ascii"), ec="Q")


class DccIssuer:
    """Signs DCCs for one deployment: its profile, its active DSC and a clock."""

    def __init__(
        self, profile: DccProfile, signer: DocumentSigner, now: Callable[[], datetime]
    ) -> None:
        self.profile = profile
        self.signer = signer
        self._now = now

    def issued_at(self) -> datetime:
        """The start of today (UTC), see the module docstring; or, on the day a DSC starts,
        its start (a DCC signed before its DSC was valid would not verify)."""
        today = datetime.combine(self._now().astimezone(UTC).date(), time(), tzinfo=UTC)
        return max(today, self.signer.certificate.not_valid_before_utc)

    @property
    def version(self) -> str:
        day = self.issued_at().date().isoformat()
        return f"eu-dcc-1/{self.signer.kid.hex()}/{day}/{self.profile.lab_tests.fingerprint()}"

    def hc1(self, bundle: CertificateBundle, names: DccNames | None = None) -> str:
        """The ``HC1:`` text; names derived from the credential unless given.

        Verifiers accept a DCC only if its DSC was valid when it was signed, so an expired
        (or not yet valid) DSC signs nothing, and no DCC outlives its DSC.
        """
        issued_at = self.issued_at()
        dsc = self.signer.certificate
        if not self.signer.valid_at(self._now()):
            raise SignerExpired(
                "the EU DCC Document Signer Certificate is valid from "
                f"{dsc.not_valid_before_utc:%Y-%m-%d} to {dsc.not_valid_after_utc:%Y-%m-%d}:"
                " EU certificates cannot be issued until it is renewed"
            )
        chosen = names or names_from_full_name(str(bundle.credential["credentialSubject"]["name"]))
        return encode_hc1(
            build_payload(bundle, chosen, self.profile),
            self.signer,
            issuer=self.profile.country,
            issued_at=issued_at,
            validity=min(self.profile.validity, dsc.not_valid_after_utc - issued_at),
        )


# --- verifying ---------------------------------------------------------------------------------


def verify_hc1(
    text: str, keys_for_kid: Callable[[bytes], Sequence[PublicKey]], now: datetime
) -> VerifiedDcc:
    """Verify an ``HC1:`` text at time ``now``; see the module docstring for the steps."""
    if not text.startswith(PREFIX):
        raise MalformedCertificate("prefix: the text does not start with HC1:")
    try:
        compressed = b45decode(text[len(PREFIX) :])
    except Base45Error as exc:
        raise MalformedCertificate(f"base45: {exc}") from None
    try:
        cose = zlib.decompress(compressed)
    except zlib.error as exc:
        raise MalformedCertificate(f"zlib: the payload is not zlib-compressed ({exc})") from None
    try:
        message = parse_sign1(cose)
    except VerificationError as exc:
        raise type(exc)(f"cose: {exc}") from None
    claims = cbor_map(message.payload, "cwt: the CWT")
    hcert = claims.get(_HCERT)
    payload = hcert.get(_HCERT_V1) if isinstance(hcert, Mapping) else None
    if not isinstance(payload, Mapping):
        raise MalformedCertificate("cwt: the CWT holds no health certificate (-260: {1: {...}})")
    issued_at = _instant(claims.get(_IAT), "iat")
    expires_at = _instant(claims.get(_EXP), "exp")
    not_before = _instant(claims.get(_NBF), "nbf")
    try:
        verified = message.verify(keys_for_kid)
    except VerificationError as exc:
        raise type(exc)(f"signature: {exc}") from None
    _check_period(now, issued_at, not_before, expires_at)
    issuer = claims.get(_ISS)
    return VerifiedDcc(
        payload=_json_values(payload),
        issuer=issuer if isinstance(issuer, str) else None,
        issued_at=issued_at,
        expires_at=expires_at,
        kid=verified.kid,
        signature=message.signature,
        ecdsa=verified.algorithm == ES256,
    )


def dsc_may_sign(certificate: x509.Certificate, payload: Mapping[str, Any]) -> bool:
    """Whether the DSC's extended key usage allows the payload's kind (v, t or r).

    A DSC without any of the DCC usage OIDs may sign every kind.
    """
    try:
        usages = {
            oid.dotted_string
            for oid in certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        }
    except x509.ExtensionNotFound:
        return True
    except ValueError:  # an empty EKU sequence (DER-invalid, seen in the wild) restricts nothing
        return True
    declared = {kind for kind, oids in _USAGE_OIDS.items() if usages & set(oids)}
    if not declared:
        return True
    kinds = {kind for kind in _USAGE_OIDS if kind in payload}
    return bool(kinds) and kinds <= declared


def _json_values(value: Any) -> Any:
    """CBOR-decoded values as JSON would hold them: maps become dicts and arrays lists whatever
    container type the decoder chose (cbor2 6: frozendict, tuple), tagged date-times become
    ISO strings."""
    if isinstance(value, Mapping):
        return {str(key): _json_values(item) for key, item in value.items()}
    if is_cbor_array(value):
        return [_json_values(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _check_period(
    now: datetime, issued_at: datetime | None, not_before: datetime | None, expires: datetime | None
) -> None:
    """Valid from the later of ``iat`` and ``nbf`` (less the clock skew) until ``exp``."""
    starts = max((t for t in (issued_at, not_before) if t is not None), default=None)
    if starts is not None and now + CLOCK_SKEW < starts:
        raise CertificateNotYetValid("expiry: the certificate is not valid yet", starts)
    if expires is not None and now > expires:
        raise VerificationError("expiry: the certificate has expired")


def _instant(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedCertificate(f"cwt: the {name} claim is not a number")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):  # beyond the years a datetime can hold
        raise MalformedCertificate(f"cwt: the {name} claim is out of range") from None


def _positive(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise InvalidInput(f"the credential's {name} is not a whole number")
    if not 1 <= int(value) <= 9:
        raise InvalidInput(f"the credential's {name} is outside 1-9 (EU DCC limit)")
    return int(value)


def _date_part(value: object) -> str:
    text = str(value or "")
    try:
        return datetime.fromisoformat(text[:10]).date().isoformat()
    except ValueError:
        raise InvalidInput("the credential's vaccination date is not an ISO date") from None
