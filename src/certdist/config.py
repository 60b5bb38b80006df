"""Settings, from environment variables (``CERTDIST_*``) and an optional TOML file.

This is the only module that reads the process environment. Everything else receives a
``Settings`` object (or pieces of it) through constructors built in ``create_app``.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from certdist.domain import codes
from certdist.domain.codes import DccTestResult, DccTestType
from certdist.domain.credential import CredentialProfile
from certdist.domain.latest import LatestRule
from certdist.domain.models import TEST, VACCINATION
from certdist.domain.roles import DEFAULT_ROLES, Permission
from certdist.errors import ConfigurationError

CONFIG_FILE_VARIABLE = "CERTDIST_CONFIG_FILE"
LOCAL_TOKEN_ISSUER = "certdist-local"  # noqa: S105 - an issuer name, not a secret
LOCAL_TOKEN_AUDIENCE = "certdist"  # noqa: S105 - an audience name
#: In development, the data folder's public URL (README, "Development identity").
IDENTITY_FILE = "identity.toml"


class Mode(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class UrlOrigin(StrEnum):
    """Where ``Settings.public_url`` came from, strongest first."""

    CONFIGURED = "configured"  # CERTDIST_PUBLIC_URL, the config file or an argument
    STORED = "stored"  # the data folder's identity file (development only)
    DERIVED = "derived"  # development, nothing stored yet: the address of host and port


class KeyFile(BaseModel):
    """A signing key loaded from a PEM file (production); a public-key PEM for a retired key
    that only verifies. ``id`` is the proof's verificationMethod (DIVOC: ``did:india``)."""

    use: Literal["credential", "shc", "dcc", "token"]
    path: Path
    id: str | None = None
    active: bool = True


class TrustedIssuer(BaseModel):
    """An OpenID Connect / Keycloak realm whose bearer tokens the API accepts."""

    issuer: str
    audience: str
    client_id: str | None = None  # whose resource_access roles count; defaults to audience
    jwks_url: str | None = None
    public_key_file: Path | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])

    @model_validator(mode="after")
    def _one_key_source(self) -> TrustedIssuer:
        # Without a key source the issuer used to be left out without a word, and its
        # tokens refused as if it were not configured.
        if (self.jwks_url is None) == (self.public_key_file is None):
            raise ValueError(
                f"trusted issuer {self.issuer!r} needs exactly one of jwks_url and public_key_file"
            )
        return self


class Section(BaseModel):
    """A group of settings for one feature (``CERTDIST_<SECTION>__<NAME>`` or a TOML table)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def production_problems(self) -> list[str]:
        """What this section has that production mode must refuse (dev-only backends)."""
        return []


class PortalSettings(Section):
    """The citizen portal: OTP login, sessions, pages (rules: docs/portal-login.md).

    Every limit counts in a fixed window; a new code never resets a counter."""

    otp_ttl_seconds: int = Field(default=300, ge=30, le=900)
    otp_guesses_per_code: int = Field(default=3, ge=1, le=10)
    # Per phone number and browser (device cookie, or address without one): codes sent and
    # guesses per window. A stranger who runs out locks only his own browser out.
    otp_sends_per_phone: int = Field(default=5, ge=1)
    otp_guesses_per_phone: int = Field(default=10, ge=1)
    otp_phone_window_seconds: int = Field(default=3600, ge=60)
    # Per phone number, all browsers not recognised for it together (docs/portal-login.md):
    # this many codes sent / guesses a day, then one per back-off period, which doubles from
    # otp_backoff_base_seconds up to otp_backoff_max_seconds (never a long lock).
    otp_number_free_sends: int = Field(default=10, ge=1)
    otp_number_free_guesses: int = Field(default=20, ge=1)
    otp_backoff_base_seconds: int = Field(default=30, ge=1)
    otp_backoff_max_seconds: int = Field(default=300, ge=1, le=3600)
    # After this many wrong guesses at a number within the window, its codes get longer.
    otp_long_code_after: int = Field(default=5, ge=1)
    otp_long_code_digits: int = Field(default=10, ge=7, le=12)
    otp_long_code_window_days: int = Field(default=365, ge=1)
    # How long a browser that logged in as a number is recognised for it.
    device_recognition_days: int = Field(default=180, ge=1, le=400)
    # Per client address: many phones from one address (enumeration, SMS pumping).
    otp_sends_per_ip: int = Field(default=20, ge=1)
    otp_guesses_per_ip: int = Field(default=60, ge=1)
    otp_ip_window_seconds: int = Field(default=3600, ge=60)
    # SMS the service sends per UTC day, all numbers together (a cost ceiling).
    sms_daily_budget: int = Field(default=50_000, ge=1)
    session_idle_seconds: int = Field(default=1800, ge=60)
    session_absolute_seconds: int = Field(default=12 * 3600, ge=300)
    # Ask for the beneficiary's year of birth before the first download of their certificate.
    require_birth_year: bool = False
    birth_year_attempts: int = Field(default=5, ge=1)


class MetricsSettings(Section):
    """``GET /metrics`` (Prometheus text format, docs/operations.md). Counting is always on
    (about a microsecond a request); the endpoint answers only a bearer of ``token`` and is
    404 without one configured, so a default installation publishes nothing."""

    token: SecretStr | None = None

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("the metrics token must be at least 16 characters")
        return value


class ReadinessSettings(Section):
    """What ``GET /readyz`` checks besides the primary database (and Redis when configured)."""

    # Whether an outbox worker must be running: its heartbeat (written every loop) must be
    # younger than ``worker_heartbeat_max_age_seconds``. Off by default, since development
    # runs the worker inside the server and a deployment may scale workers to zero.
    require_worker: bool = False
    # Longer than a loop's worst case: a full batch of sends, each up to the SMTP timeout.
    worker_heartbeat_max_age_seconds: float = Field(default=120.0, gt=0)


def http_only(value: str | None, name: str) -> str | None:
    """``value`` if it is none or an http(s) URL; else ``ValueError`` naming the setting."""
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError(f"{name} must be an http:// or https:// URL")
    return value


class TracingSettings(Section):
    """OpenTelemetry tracing (docs/operations.md, "Tracing"): off by default; needs the extra
    ``certdist[tracing]``. Spans carry route templates and SQL with placeholders, never a
    raw path, query string, header or bound value.

    The OpenTelemetry SDK reads its own standard variables (``OTEL_EXPORTER_OTLP_ENDPOINT``,
    ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_RESOURCE_ATTRIBUTES``, ...) for what is not set
    here; certdist itself reads only ``CERTDIST_TRACING__*``."""

    enabled: bool = False
    # "otlp": OTLP over HTTP/protobuf to a collector; "console": spans as JSON on stdout
    # (trying it out); "none": spans made and dropped (their cost without a collector).
    exporter: Literal["otlp", "console", "none"] = "otlp"
    # The collector's traces URL, used as given (e.g. http://collector:4318/v1/traces).
    # None: the SDK's OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT
    # + /v1/traces, else http://localhost:4318/v1/traces.
    endpoint: str | None = None
    service_name: str = Field(default="certdist", min_length=1)
    # The share of traces started here that are kept (a caller's sampled flag is followed).
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)

    @field_validator("endpoint")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        return http_only(value, "the tracing endpoint")

    def missing_package(self) -> str | None:
        """With tracing on, the first OpenTelemetry module of the extra that is not
        installed; None when all are (or tracing is off)."""
        if not self.enabled:
            return None
        for module in TRACING_MODULES:
            if importlib.util.find_spec(module) is None:
                return module
        return None


#: What tracing imports, from the extra ``certdist[tracing]``.
TRACING_MODULES = (
    "opentelemetry.sdk",
    "opentelemetry.exporter.otlp.proto.http",
    "opentelemetry.instrumentation.fastapi",
)
TRACING_EXTRA_MISSING = (
    "tracing.enabled is true but the OpenTelemetry packages are not installed ({}): "
    "pip install 'certdist[tracing]'"
)


_DEFAULT_SMS_TEXTS = {
    "en": (
        "{code} is your code to download your vaccination certificate. "
        "It is valid for {minutes} minutes. Do not share it with anyone."
    ),
    "hi": (
        "{code} आपका टीकाकरण प्रमाणपत्र डाउनलोड करने का कोड है। "
        "यह {minutes} मिनट तक मान्य है। इसे किसी के साथ साझा न करें।"
    ),
}


class SmsSettings(Section):
    """How SMS leave the service: the development inbox or an HTTP gateway.

    ``texts`` holds the one-time-code message per language (``{code}``, ``{minutes}``);
    operators whose gateway only accepts registered templates put those texts here. The
    last line ``@<host> #<code>`` (WebOTP, for autofill) is always added."""

    # "inbox" keeps messages for /dev/sms (development); "outbox" is its former name, still
    # accepted. (The durable outbox of mail and SMS is another thing: see ``mail``.)
    backend: Literal["inbox", "http"] = "inbox"
    texts: dict[str, str] = Field(default_factory=lambda: dict(_DEFAULT_SMS_TEXTS))
    default_language: str = "en"
    http_url: str | None = None
    http_method: Literal["POST", "PUT", "GET"] = "POST"
    http_headers: dict[str, str] = Field(
        default_factory=lambda: {"Content-Type": "application/json"}
    )
    # ``${to}`` and ``${text}`` are replaced, escaped for ``http_body_encoding``: "json"
    # (inside a JSON string), "form" (URL-encoded). With GET, the template is the query.
    http_body_template: str = '{"to": "${to}", "text": "${text}"}'
    http_body_encoding: Literal["json", "form"] = "json"
    http_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    http_retries: int = Field(default=2, ge=0, le=10)
    http_backoff_seconds: float = Field(default=0.5, ge=0, le=30)

    @field_validator("backend", mode="before")
    @classmethod
    def _former_name(cls, value: object) -> object:
        return "inbox" if value == "outbox" else value

    @field_validator("http_url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        return http_only(value, "http_url")

    def production_problems(self) -> list[str]:
        if self.backend == "inbox":
            return ["sms.backend 'inbox' only stores messages (development); use 'http'"]
        return []


class MailSettings(Section):
    """SMTP, the durable outbox and its worker, notifications after issuance, share links."""

    # "files" writes each mail as an .eml file under data_dir/mail (dev-only); "smtp" sends.
    backend: Literal["smtp", "files"] = "files"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True  # upgrade the connection with STARTTLS (refused if unsupported)
    smtp_tls: bool = False  # implicit TLS from the first byte (port 465) instead
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    smtp_ca_file: Path | None = None  # a private relay's CA, instead of the system's
    from_address: str = "certdist@localhost"

    # The worker. None: run it inside ``certdist serve`` in development, not in production
    # (run ``certdist worker`` there).
    embedded_worker: bool | None = None
    worker_poll_seconds: float = Field(default=2.0, gt=0)
    worker_batch: int = Field(default=20, ge=1)
    # A claimed message is someone else's to retry after this long; must exceed a send's
    # worst case (the SMTP timeout) by a wide margin, or a slow send could be sent twice.
    lease_seconds: float = Field(default=300.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    backoff_base_seconds: float = Field(default=30.0, gt=0)
    backoff_max_seconds: float = Field(default=3600.0, gt=0)
    sent_retention_days: float = Field(default=30.0, gt=0)  # then delivered messages are deleted

    # Notifications after issuance and correction.
    notify_on_issue: bool = True
    default_language: str = "en"
    notification_template_dir: Path | None = None  # <dir>/<lang>/*.txt; the packaged set if None
    portal_path: str = "/portal/certificates"  # asks to log in first when needed

    # Citizens e-mailing a certificate: per account and per recipient address, per day.
    share_mail_per_account_per_day: int = Field(default=10, ge=1)
    share_mail_per_recipient_per_day: int = Field(default=3, ge=1)
    share_links_per_account_per_day: int = Field(default=50, ge=1)

    def production_problems(self) -> list[str]:
        if self.backend == "files":
            return ["mail.backend must be smtp in production (files is dev-only)"]
        return []


class DccVaccineCodes(BaseModel):
    """EU DCC value-set codes of one vaccine: prophylaxis, product, authorisation holder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vp: str
    mp: str
    ma: str


class CodingSetting(BaseModel):
    """A FHIR coding (system and code), e.g. a CVX or ICD-11 vaccine code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str
    code: str


class LabTestTypeCodes(BaseModel):
    """Codes of one kind of lab test: EU DCC test type and the LOINC code of the SHC result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dcc: DccTestType
    loinc: str = Field(pattern=r"^\d{1,7}-\d$")


class LabResultCodes(BaseModel):
    """Codes of one lab-test result: EU DCC ``tr`` and the SNOMED CT value of the SHC."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dcc: DccTestResult
    snomed: str = Field(pattern=r"^\d{6,18}$")


# The code settings' defaults come from certdist.domain.codes, where each code is written once.


def _default_vaccine_codes() -> dict[str, dict[str, str]]:
    return {v.name: {"icd11Code": v.icd11, "prophylaxis": v.prophylaxis} for v in codes.VACCINES}


def _default_dcc_vaccines() -> dict[str, DccVaccineCodes]:
    return {v.name: DccVaccineCodes(vp=v.dcc_vp, mp=v.dcc_mp, ma=v.dcc_ma) for v in codes.VACCINES}


def _default_shc_vaccine_codes() -> dict[str, list[CodingSetting]]:
    return {
        v.name: [
            CodingSetting(system=codes.CVX, code=v.cvx),
            CodingSetting(system=codes.ICD11_MMS, code=v.icd11),
        ]
        for v in codes.VACCINES
    }


def _default_lab_test_types() -> dict[str, LabTestTypeCodes]:
    return {
        text: LabTestTypeCodes(dcc=kind.dcc, loinc=kind.loinc)
        for kind in codes.LAB_TEST_KINDS
        for text in kind.texts
    }


def _default_lab_test_results() -> dict[str, LabResultCodes]:
    return {
        text: LabResultCodes(dcc=outcome.dcc, snomed=outcome.snomed)
        for outcome in codes.LAB_TEST_OUTCOMES
        for text in outcome.texts
    }


def _default_lab_test_diseases() -> dict[str, str]:
    return {text: disease.snomed for disease in codes.TARGET_DISEASES for text in disease.texts}


class WalletSettings(Section):
    """Health-wallet formats: EU DCC and SMART Health Card (codes: ``certdist.domain.codes``)."""

    # EU DCC. ``dcc_country`` is the CWT issuer, the country of vaccination and the UVCI's.
    dcc_country: str = Field(default="IN", pattern=r"^[A-Z]{2}$")
    dcc_certificate_issuer: str = Field(
        default="Ministry of Health and Family Welfare", min_length=1, max_length=80
    )
    dcc_validity_days: int = Field(default=365, ge=1, le=3650)
    # Keyed by vaccine name (case-insensitive); codes from the EU value sets.
    dcc_vaccines: dict[str, DccVaccineCodes] = Field(default_factory=_default_dcc_vaccines)
    # Production: the DSC certificates (PEM or DER) a CSCA issued for the ``dcc`` keys in
    # ``keys``. Empty in development: a local CSCA and DSC are generated with the keys.
    dcc_dsc_certificate_files: list[Path] = Field(default_factory=list)
    # The country's DCC Gateway upload certificate (PEM or DER) and its private key (PEM,
    # mode 0600): they sign the revocation batches, as the gateway requires, and the
    # certificate is published in the trust list as type UPLOAD. Unset: the active DSC signs.
    dcc_upload_certificate_file: Path | None = None
    dcc_upload_key_file: Path | None = None

    # SMART Health Card vaccine codes, keyed by vaccine name (case-insensitive).
    shc_vaccine_codes: dict[str, list[CodingSetting]] = Field(
        default_factory=_default_shc_vaccine_codes
    )

    # Lab tests: DIVOC's free texts (matched ignoring case and spacing) to codes. A text
    # without an entry makes the wallet formats refuse the certificate, naming the field.
    lab_test_types: dict[str, LabTestTypeCodes] = Field(default_factory=_default_lab_test_types)
    lab_test_results: dict[str, LabResultCodes] = Field(default_factory=_default_lab_test_results)
    # Disease texts to the SNOMED code of the disease targeted (EU value set: COVID-19 only).
    lab_test_diseases: dict[str, str] = Field(default_factory=_default_lab_test_diseases)
    # EU DCC ``ma`` of rapid antigen tests (EU test-manf value set), keyed by manufacturer or
    # test name; none by default, and a rapid test without an entry has no ``ma``.
    dcc_test_devices: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _upload_pair(self) -> WalletSettings:
        if (self.dcc_upload_certificate_file is None) != (self.dcc_upload_key_file is None):
            raise ValueError(
                "wallet.dcc_upload_certificate_file and wallet.dcc_upload_key_file go together"
            )
        return self

    def production_problems(self) -> list[str]:
        if not self.dcc_dsc_certificate_files:
            return [
                "wallet.dcc_dsc_certificate_files must name the DSC certificates of the dcc "
                "keys (the generated local signing CA is dev-only)"
            ]
        return []


class ForeignCredentialKey(BaseModel):
    """A foreign DIVOC deployment's credential key: the proof's verificationMethod (``id``,
    e.g. ``did:india``) and a PEM public key file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    path: Path


class ForeignShcIssuer(BaseModel):
    """A SMART Health Card issuer (its ``iss`` URL) and where its JWKS comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    iss: str = Field(min_length=1)
    jwks_file: Path | None = None
    jwks_url: str | None = None  # default: <iss>/.well-known/jwks.json when no file is given
    #: The issuer's revocation lists (``<iss>/.well-known/crl/<kid>.json``), as files. A file
    #: for a key wins over fetching that key's list.
    crl_files: list[Path] = Field(default_factory=list)
    #: Where a key's revocation list is fetched when its JWK carries ``crlVersion``:
    #: ``<crl_base_url>/<kid>.json``. Default ``<iss>/.well-known/crl`` when the keys come
    #: from a URL; an issuer whose keys come from a file is offline unless this is set.
    crl_base_url: str | None = None

    def crl_base(self) -> str | None:
        """The URL revocation lists are fetched under, or None (files only)."""
        if self.crl_base_url:
            return self.crl_base_url.rstrip("/")
        if self.jwks_file is None:
            return self.iss.strip().rstrip("/") + "/.well-known/crl"
        return None


_DEFAULT_WALLET_CODE_TEXTS = {
    "en": (
        "{code} is your code to add your health certificate to your wallet app. "
        "It is valid for {minutes} minutes. Do not share it with anyone."
    ),
    "hi": (
        "{code} आपका स्वास्थ्य प्रमाणपत्र अपने वॉलेट ऐप में जोड़ने का कोड है। "
        "यह {minutes} मिनट तक मान्य है। इसे किसी के साथ साझा न करें।"
    ),
}


class OpenId4VciSettings(Section):
    """Issuing SD-JWT VCs to wallets over OpenID4VCI 1.0 (pre-authorized code flow; README,
    "Wallets (OpenID4VCI)"). An offer holds a single-use pre-authorized code, and its
    transaction code goes by SMS to the certificate's registered mobile number."""

    # How long an offer (and its pre-authorized code and transaction code) can be redeemed.
    offer_seconds: int = Field(default=600, ge=10, le=86_400)
    # How long an access token may fetch credentials, and a c_nonce stays usable.
    token_seconds: int = Field(default=300, ge=10, le=3_600)
    nonce_seconds: int = Field(default=300, ge=10, le=3_600)
    # Copies in one credential request (each bound to its own key, with its own salts).
    batch_size: int = Field(default=5, ge=2, le=20)
    # Wrong transaction codes before the pre-authorized code is invalidated (the code has
    # 10^6 values: 5 guesses win with 1 chance in 200,000).
    tx_code_attempts: int = Field(default=5, ge=1, le=10)
    # Offers made for one beneficiary per day (each sends an SMS).
    offers_per_beneficiary_per_day: int = Field(default=10, ge=1, le=1_000)
    # c_nonces handed to one client address per minute (each is stored until it is used or
    # expires; carrier-grade NAT puts many phones behind one address, hence the headroom).
    nonces_per_client_per_minute: int = Field(default=600, ge=1, le=100_000)
    # The issuer's name shown by wallets, per language (BCP 47 tag -> name).
    issuer_names: dict[str, str] = Field(
        default_factory=lambda: {
            "en": "Ministry of Health and Family Welfare",
            "hi": "स्वास्थ्य एवं परिवार कल्याण मंत्रालय",
        },
        min_length=1,
    )
    # The transaction-code SMS per language ({code}, {minutes}); default: sms.default_language.
    tx_code_texts: dict[str, str] = Field(default_factory=lambda: dict(_DEFAULT_WALLET_CODE_TEXTS))

    @field_validator("tx_code_texts")
    @classmethod
    def _texts_hold_the_code(cls, value: dict[str, str]) -> dict[str, str]:
        for language, text in value.items():
            if "{code}" not in text:
                raise ValueError(f"tx_code_texts[{language!r}] must contain {{code}}")
        return value


class VerifierSettings(Section):
    """The verifier's trust store: foreign issuers' keys, JWKS and EU DSC certificates."""

    credential_keys: list[ForeignCredentialKey] = Field(default_factory=list)
    shc_issuers: list[ForeignShcIssuer] = Field(default_factory=list)
    #: PEM (one or more certificates) or DER files of EU Document Signer Certificates.
    dsc_certificates: list[Path] = Field(default_factory=list)
    #: DIVOC verifier apps never enforced ``evidence[0].effectiveUntil``; a W3C
    #: ``expirationDate`` is always enforced.
    enforce_effective_until: bool = False
    #: Photos of a QR from phones are a few MB; the page's camera frames about 100 KB.
    max_image_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(default=40_000_000, ge=10_000)
    #: Verifications per client IP per minute (public endpoint, image decoding is costly).
    #: The page's camera scan posts at most one frame every 0.7 s (about 85 a minute).
    requests_per_minute: int = Field(default=120, ge=1)
    #: A foreign SHC issuer's JWKS fetched from a URL is fetched again when older than this,
    #: so a raised ``crlVersion`` (a new revocation list) is noticed.
    shc_jwks_max_age_minutes: int = Field(default=60, ge=1)
    #: Limits on every fetch of a foreign SHC issuer's JWKS or revocation list (the whole
    #: response must arrive within the timeout).
    shc_fetch_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    shc_fetch_max_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    #: After a failed fetch, or a JWKS fetch for a key it turned out not to hold, the issuer
    #: is not asked again for this long (a down issuer would otherwise cost every
    #: verification a timeout, and cards naming made-up keys would make us hammer it).
    shc_fetch_retry_seconds: float = Field(default=60.0, ge=0)
    #: A foreign issuer's Bitstring Status List (named by a DIVOC credential's
    #: ``credentialStatus``) is used for this long before it is fetched again: a revocation
    #: shows within this time. Issuers serve theirs with ``max-age=300``, as we do.
    status_list_max_age_seconds: float = Field(default=300.0, ge=0)

    def production_problems(self) -> list[str]:
        # Keys or revocation lists fetched over plain HTTP could be swapped by anyone on the path.
        jwks = [
            f"verifier.shc_issuers: the JWKS of {issuer.iss} must come from an https URL or a file"
            for issuer in self.shc_issuers
            if issuer.jwks_file is None
            and not (issuer.jwks_url or issuer.iss).startswith("https://")
        ]
        crls = [
            f"verifier.shc_issuers: the revocation lists of {issuer.iss} must come from an "
            "https URL (crl_base_url)"
            for issuer in self.shc_issuers
            if (base := issuer.crl_base()) is not None and not base.startswith("https://")
        ]
        return jwks + crls


#: The key the embedded default signs DigiLocker requests with when none is configured
#: (development mode only: production refuses it).
DIGILOCKER_DEV_API_KEY = "certdist-dev-digilocker-key"


class DigilockerSettings(Section):
    """The DigiLocker issuer (pull) API.

    ``enabled`` with no key: development uses ``DIGILOCKER_DEV_API_KEY``; production refuses
    to start. ``enabled = false`` makes both endpoints answer 404.
    """

    enabled: bool = True
    #: The API key entered in the DigiLocker partner portal: a file (production) or a value.
    api_key_file: Path | None = None
    api_key: SecretStr | None = None
    hmac_header: str = Field(default="x-digilocker-hmac", min_length=1)
    #: ``base64-hex``: base64 of the hex HMAC-SHA256 (DigiLocker's documented form);
    #: ``base64-raw``: base64 of the 32-byte digest (also seen in the field).
    hmac_encoding: Literal["base64-hex", "base64-raw"] = "base64-hex"
    #: URI = ``<issuer_id>-<doc_type>-<certificateId>`` (DIVOC: ``in.gov.covin-VACER-…``).
    issuer_id: str = Field(default="in.gov.covin", pattern=r"^[A-Za-z0-9.]{1,64}$")
    doc_type: str = Field(default="VACER", pattern=r"^[A-Za-z0-9]{1,16}$")
    #: Request elements carrying the beneficiary id and the mobile number (DIVOC's names).
    tracking_id_element: str = "tracking_id"
    mobile_element: str = "Mobile"
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    #: ``ts`` further than this from our clock is refused.
    max_clock_skew_seconds: int = Field(default=15 * 60, ge=1)
    #: ``ts`` without an offset is read in this offset (DigiLocker runs on IST).
    naive_ts_offset_minutes: int = Field(default=330, ge=-720, le=840)

    def production_problems(self) -> list[str]:
        if not self.enabled:
            return []
        problems = []
        if self.api_key_file is None and self.api_key is None:
            problems.append("digilocker needs api_key_file (or set digilocker.enabled = false)")
        if self.api_key is not None and self.api_key.get_secret_value() == DIGILOCKER_DEV_API_KEY:
            problems.append("digilocker.api_key is the public development key")
        return problems


class PartnerSettings(Section):
    """The partner API for other government and consumer apps."""

    #: Calls per partner (token username) per window, and lookups that found nothing (wrong
    #: mobile or unknown beneficiary: what guessing produces) per partner per window.
    requests_per_window: int = Field(default=600, ge=1)
    misses_per_window: int = Field(default=60, ge=1)
    window_seconds: int = Field(default=60, ge=1)


class PrintSettings(Section):
    """Facility printing (staff sign-in) and batch printing."""

    # Staff sign in through an OpenID Connect provider (authorization code + PKCE; Keycloak,
    # as DIVOC used). The issuer must also be in ``trusted_issuers``: staff roles are read
    # from its access tokens exactly as API tokens' are. Endpoints left empty are read from
    # the issuer's discovery document.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_authorization_endpoint: str | None = None
    oidc_token_endpoint: str | None = None
    oidc_scopes: list[str] = Field(default_factory=lambda: ["openid", "profile"])
    # The embedded default's sign-in: any name with this password gets the print role.
    local_staff_sign_in: bool = True
    local_staff_password: str = "certdist-demo"  # noqa: S105 - the dev-only default
    staff_session_minutes: int = Field(default=480, ge=5, le=24 * 60)
    # Batch printing: output files (default data_dir/prints), certificates read per query,
    # the largest list of beneficiary ids one batch may name, and the job runner.
    batch_dir: Path | None = None
    batch_chunk_size: int = Field(default=500, ge=1, le=5000)
    batch_max_codes: int = Field(default=20_000, ge=1)
    # Helper processes that encode QR codes while a batch's pages are drawn (0: none). Worth
    # it only with an idle core to spare; see bench/RESULTS.md "Batch printing".
    batch_qr_processes: int = Field(default=0, ge=0, le=8)
    batch_run_in_server: bool = True  # a background thread in each server process
    batch_poll_seconds: float = Field(default=2.0, gt=0)
    batch_stale_after_seconds: float = Field(default=300.0, gt=0)  # no heartbeat: worker died
    batch_max_attempts: int = Field(default=3, ge=1)
    batch_keep_hours: float = Field(default=72.0, gt=0)  # then the output file is removed

    def production_problems(self) -> list[str]:
        problems = []
        if self.local_staff_sign_in:
            problems.append("printing.local_staff_sign_in must be false in production")
        if self.oidc_issuer and not self.oidc_client_id:
            problems.append("printing.oidc_client_id is needed with printing.oidc_issuer")
        return problems


# --- views of the top-level settings, one per capability that reads them -------------------
# The environment keeps its flat names (CERTDIST_PUBLIC_URL, CERTDIST_PDF_*); each capability's
# ``wire()`` receives only the view it needs, never the whole ``Settings``.


@dataclass(frozen=True)
class SiteSection:
    """Facts about this deployment that several capabilities share."""

    public_url: str
    production: bool
    phone_region: str  # how a national mobile number without a country code is read
    data_dir: Path
    time_zone: tzinfo  # where moments are shown to people (display_time_zone)

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def host(self) -> str:
        return self.public_url.rstrip("/")


@dataclass(frozen=True)
class AccessSection:
    """Who may call the API: token issuers, the development token issuer, roles."""

    trusted_issuers: tuple[TrustedIssuer, ...]
    local_token_issuer: bool
    roles: Mapping[Permission, list[str]]

    def roles_for(self, permission: Permission) -> tuple[str, ...]:
        return tuple(self.roles.get(permission, DEFAULT_ROLES[permission]))


@dataclass(frozen=True)
class DocumentSection:
    """How certificates are rendered (QR payload, PDF language and fonts) and served."""

    qr_payload_form: Literal["zip", "zip-latin1-utf8"]
    pdf_second_language: str | None
    pdf_template_dir: Path | None
    pdf_font_dir: Path | None
    pdf_font_files: Mapping[Literal["regular", "bold", "second_regular", "second_bold"], Path]
    pdf_font_fallbacks: list[Path] | None
    render_cache_bytes: int
    entity_types: Mapping[str, LatestRule]
    vaccine_codes: Mapping[str, Mapping[str, str]]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CERTDIST_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    mode: Mode = Mode.DEVELOPMENT
    data_dir: Path = Path("data")
    database_url: str | None = None
    database_deadline_seconds: float = Field(default=5.0, gt=0)
    # A PostgreSQL standby (a libpq multi-host URL may list several, with
    # target_session_attrs=prefer-standby) for the reads that may be a moment old: the
    # download path. The primary answers when it has no rows or does not answer.
    database_replica_url: str | None = None

    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
    # The HTTP server `certdist serve` runs: uvicorn (httptools, uvloop) or granian (Rust,
    # the `granian` extra). bench/RESULTS.md compares them on the same code.
    server: Literal["uvicorn", "granian"] = "uvicorn"
    # Reverse proxies whose X-Forwarded-For / -Proto the server believes: per-IP limits
    # (one-time codes, verifier) then count the citizen's address, not the proxy's.
    forwarded_allow_ips: list[str] = Field(default_factory=lambda: ["127.0.0.1"])

    # The signed credential (docs/architecture.md, “Wire compatibility with DIVOC”).
    credential_issuer: str = "https://divoc.dev/"
    certificate_base_url: str = "https://divoc.dev/"
    vaccination_context: str = "https://cowin.gov.in/credentials/vaccination/v1"
    test_context: str = "https://cowin.gov.in/credentials/testCertificate/v1"
    context_aliases: dict[str, str] = Field(default_factory=dict)
    credential_key_algorithm: Literal["RSA", "Ed25519"] = "RSA"
    # W3C Bitstring Status List: new DIVOC credentials carry a ``credentialStatus`` and the
    # status-list context (README, docs/architecture.md "Revocation lists"). Off by default:
    # DIVOC's verifier apps load a fixed set of JSON-LD contexts and reject a credential
    # naming any other. Entries per list: at least the specification's 131,072.
    status_list: bool = False
    status_list_size: int = Field(
        default=131_072, ge=131_072, le=8 * 16 * 1024 * 1024, multiple_of=8
    )
    did_prefix: str = "did:divoc"
    address_country: str = "IN"
    default_phone_region: str = "IN"
    # Moments on pages and in e-mails (a share link's expiry) are shown in this IANA zone,
    # named; with JavaScript a page rewrites them in the reader's own zone.
    display_time_zone: str = "Asia/Kolkata"
    # CoWIN's v2 credentials carry the ICD-11 code and prophylaxis of the vaccine.
    vaccine_codes: dict[str, dict[str, str]] = Field(default_factory=_default_vaccine_codes)

    keys: list[KeyFile] = Field(default_factory=list)

    # Distribution: the QR payload form and how the latest certificate is chosen.
    qr_payload_form: Literal["zip", "zip-latin1-utf8"] = "zip"
    pdf_second_language: str | None = "hi"
    pdf_template_dir: Path | None = None
    # PDF fonts: the faces shipped in the package (certdist/formats/pdf/fontfiles, README
    # there) unless these name others; nothing is read from system font folders by default.
    # pdf_font_dir overlays the shipped files by file name (Debian's fonts-noto-core folder
    # /usr/share/fonts/truetype/noto uses the same names); pdf_font_files sets single roles
    # (regular, bold: English and Latin; second_regular, second_bold: the second language);
    # pdf_font_fallbacks replaces the list of faces tried, in order, for other scripts in
    # names. TrueType (glyf) files only. Checked when the settings load, so a wrong path
    # stops the service at start with the setting's name.
    pdf_font_dir: Path | None = None
    pdf_font_files: dict[Literal["regular", "bold", "second_regular", "second_bold"], Path] = Field(
        default_factory=dict
    )
    pdf_font_fallbacks: list[Path] | None = None
    # Per worker process, in bytes of document content (shared PDF objects counted once):
    # 8 MiB holds ~2,000 certificate PDFs or more QR codes, a hot set of repeat downloads,
    # and keeps a worker under 150 MB RSS after 100,000 distinct certificates (16 MiB
    # measured 163 MB; bench/RESULTS.md). A repeat download with its ETag needs no cache.
    render_cache_bytes: int = Field(default=8 * 1024 * 1024, ge=0)
    entity_types: dict[str, LatestRule] = Field(
        default_factory=lambda: {VACCINATION: LatestRule.BY_DOSE, TEST: LatestRule.NEWEST}
    )

    # Authentication.
    trusted_issuers: list[TrustedIssuer] = Field(default_factory=list)
    local_token_issuer: bool = True
    roles: dict[Permission, list[str]] = Field(
        default_factory=lambda: {p: list(r) for p, r in DEFAULT_ROLES.items()}
    )

    # Limits.
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024)
    # The lease of a process on a bulk upload, renewed after each chunk of rows: an upload with
    # no progress for this long lost its process and is resumed by another.
    bulk_stale_after_seconds: float = Field(default=600.0, gt=0)
    # Claims of one upload before it is failed; how often each process looks for uploads to
    # resume (the server's background thread, `certdist worker`).
    bulk_max_attempts: int = Field(default=3, ge=1)
    bulk_poll_seconds: float = Field(default=30.0, gt=0)
    max_batch_items: int = Field(default=1000, ge=1)

    # Shared short-lived state (sessions, OTP challenges, rate limits). Without Redis it lives
    # in the database, so several server processes always see the same state.
    redis_url: str | None = None
    # The key of keyed hashes (OTPs, session ids, share tokens, phone numbers in logs). The
    # embedded default creates one in data_dir/keys; production names a 0600 file.
    secret_key_file: Path | None = None

    portal: PortalSettings = Field(default_factory=PortalSettings)
    sms: SmsSettings = Field(default_factory=SmsSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    wallet: WalletSettings = Field(default_factory=WalletSettings)
    openid4vci: OpenId4VciSettings = Field(default_factory=OpenId4VciSettings)
    verifier: VerifierSettings = Field(default_factory=VerifierSettings)
    digilocker: DigilockerSettings = Field(default_factory=DigilockerSettings)
    partner: PartnerSettings = Field(default_factory=PartnerSettings)
    printing: PrintSettings = Field(default_factory=PrintSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    readiness: ReadinessSettings = Field(default_factory=ReadinessSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)

    log_level: str = "INFO"
    log_json: bool = True
    access_log: bool = True  # one JSON line per request (off when a proxy in front logs them)
    # Strict-Transport-Security, sent when public_url is https (0 turns it off). One year is
    # the least that browsers' preload lists accept; includeSubDomains only when every
    # subdomain of the host is served over https too.
    hsts_max_age_seconds: int = Field(default=365 * 24 * 3600, ge=0)
    hsts_subdomains: bool = False

    # Set by ``with_public_url``; otherwise the origin follows from the fields given.
    _public_url_origin: UrlOrigin | None = PrivateAttr(default=None)

    @field_validator("pdf_font_dir")
    @classmethod
    def _font_dir_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"font folder {value} does not exist")
        return value

    @field_validator("pdf_font_files", "pdf_font_fallbacks")
    @classmethod
    def _font_files_exist(cls, value: dict[str, Path] | list[Path] | None) -> Any:
        paths = value.values() if isinstance(value, dict) else value or []
        missing = [str(path) for path in paths if not path.is_file()]
        if missing:
            raise ValueError(f"font file not found: {', '.join(missing)}")
        return value

    @field_validator("display_time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone name (e.g. 'Asia/Kolkata')"
            ) from None
        return value

    @field_validator("public_url", "credential_issuer", "certificate_base_url")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_VARIABLE)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    # --- derived values -------------------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'certdist.db').resolve()}"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def identity_file(self) -> Path:
        return self.data_dir / IDENTITY_FILE

    @property
    def public_url_origin(self) -> UrlOrigin:
        if self._public_url_origin is not None:
            return self._public_url_origin
        return UrlOrigin.CONFIGURED if "public_url" in self.model_fields_set else UrlOrigin.DERIVED

    def with_public_url(self, public_url: str, origin: UrlOrigin) -> Settings:
        """A copy naming another public URL, which came from ``origin``."""
        changed = self.model_copy(update={"public_url": public_url})
        changed._public_url_origin = origin
        return changed

    def with_identity(self) -> Settings:
        """In development without a configured public URL: the data folder's, or the address
        of host and port while none is stored. Production: as configured."""
        if self.is_production or self.public_url_origin is UrlOrigin.CONFIGURED:
            return self
        stored = read_identity(self.data_dir)
        if stored is not None:
            return self.with_public_url(stored, UrlOrigin.STORED)
        derived = development_public_url(self.host, self.port)
        return self.with_public_url(derived, UrlOrigin.DERIVED)

    def remember_identity(self) -> Settings:
        """On the first use of a development data folder, store the public URL derived for it."""
        if self.is_production or self.public_url_origin is not UrlOrigin.DERIVED:
            return self
        if self.identity_file.exists():  # stored meanwhile, by another command
            return self
        stored = store_identity(self.data_dir, self.public_url)
        return self.with_public_url(stored, UrlOrigin.STORED)

    @property
    def is_production(self) -> bool:
        return self.mode is Mode.PRODUCTION

    @property
    def site(self) -> SiteSection:
        return SiteSection(
            public_url=self.public_url,
            production=self.is_production,
            phone_region=self.default_phone_region,
            data_dir=self.data_dir,
            time_zone=ZoneInfo(self.display_time_zone),
        )

    @property
    def access(self) -> AccessSection:
        return AccessSection(
            trusted_issuers=tuple(self.trusted_issuers),
            local_token_issuer=self.local_token_issuer,
            roles=self.roles,
        )

    @property
    def credentials(self) -> CredentialProfile:
        """What a signed DIVOC credential says about its issuer."""
        return CredentialProfile(
            issuer=self.credential_issuer,
            base_url=self.certificate_base_url,
            vaccination_context=self.vaccination_context,
            test_context=self.test_context,
            status_list_size=self.status_list_size if self.status_list else None,
            did_prefix=self.did_prefix,
            address_country=self.address_country,
            vaccine_codes=self.vaccine_codes,
        )

    @property
    def documents(self) -> DocumentSection:
        return DocumentSection(
            qr_payload_form=self.qr_payload_form,
            pdf_second_language=self.pdf_second_language,
            pdf_template_dir=self.pdf_template_dir,
            pdf_font_dir=self.pdf_font_dir,
            pdf_font_files=self.pdf_font_files,
            pdf_font_fallbacks=self.pdf_font_fallbacks,
            render_cache_bytes=self.render_cache_bytes,
            entity_types=self.entity_types,
            vaccine_codes=self.vaccine_codes,
        )

    def roles_for(self, permission: Permission) -> tuple[str, ...]:
        return tuple(self.roles.get(permission, DEFAULT_ROLES[permission]))

    def check(self) -> None:
        """Refuse unsafe combinations. Production must not run any dev-only backend."""
        missing = self.tracing.missing_package()
        if missing is not None:
            raise ConfigurationError(TRACING_EXTRA_MISSING.format(missing))
        if not self.is_production:
            return
        problems = []
        if self.local_token_issuer:
            problems.append("local_token_issuer must be false in production")
        if not self.keys:
            problems.append("keys must list the signing key files (generated keys are dev-only)")
        if not self.trusted_issuers:
            problems.append("trusted_issuers must name at least one token issuer")
        if not self.public_url.startswith("https://"):
            problems.append("public_url must be https in production")
        if self.secret_key_file is None:
            problems.append("secret_key_file must name the service's secret (32+ bytes, 0600)")
        for section in (
            self.portal,
            self.sms,
            self.mail,
            self.wallet,
            self.verifier,
            self.digilocker,
            self.partner,
            self.printing,
        ):
            problems.extend(section.production_problems())
        if problems:
            raise ConfigurationError("unsafe settings for production mode: " + "; ".join(problems))


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment and, if given or named by CERTDIST_CONFIG_FILE, a
    TOML file. Raises ``ConfigurationError`` with pydantic's field-by-field explanation."""
    if config_file is not None:
        # Worker processes started by the server re-read settings from the environment.
        os.environ[CONFIG_FILE_VARIABLE] = str(config_file)
    try:
        settings = Settings(**overrides)
    except ValueError as exc:
        raise ConfigurationError(f"invalid settings: {exc}") from exc
    settings = settings.with_identity()
    settings.check()
    return settings


# --- the data folder's identity (development) -------------------------------------------
# A development data folder keeps one public URL, so that every command and every server run
# on it names the same SMART Health Card issuer and the same links. Configuration wins over
# it; production never reads it (its public_url must be configured, and https).

_IDENTITY_HEADER = """\
# The public URL of this data folder in development: SMART Health Card issuer, links in
# mail and SMS, the one-time code's @host line. `certdist init --public-url URL` changes it;
# CERTDIST_PUBLIC_URL or public_url in the config file win over it; production ignores it.
"""


class _StoredIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    public_url: str

    @field_validator("public_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        return checked_public_url(value)


def checked_public_url(value: str) -> str:
    """``value`` as a public URL: http(s) with a host; no trailing slash (an SHC ``iss``
    must not end with one). Raises ``ValueError``."""
    url = value.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http:// or https:// URL with a host")
    return url


def development_public_url(host: str, port: int) -> str:
    """The address a browser on this machine opens for a server listening on host and port."""
    listening = "127.0.0.1" if _listens_everywhere(host) else host
    if ":" in listening:
        listening = f"[{listening}]"  # an IPv6 address in a URL
    return f"http://{listening}:{port}"


def _listens_everywhere(host: str) -> bool:
    """The wildcard address (all interfaces): a browser on this machine uses 127.0.0.1."""
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return not host


def read_identity(data_dir: Path) -> str | None:
    """The public URL stored in a data folder, or None when none is."""
    path = data_dir / IDENTITY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc
    try:
        return _StoredIdentity.model_validate(tomllib.loads(text)).public_url
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ConfigurationError(f"{path} is not a valid identity file: {exc}") from exc


def store_identity(data_dir: Path, public_url: str) -> str:
    """Store ``public_url`` as the data folder's identity; answers it as stored."""
    try:
        url = checked_public_url(public_url)
    except ValueError as exc:
        raise ConfigurationError(f"invalid public URL: {exc}") from exc
    path = data_dir / IDENTITY_FILE
    # A JSON string of ASCII is a TOML basic string.
    text = f"{_IDENTITY_HEADER}public_url = {json.dumps(url)}\n"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{IDENTITY_FILE}.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)  # a reader never sees half a file
    except OSError as exc:
        raise ConfigurationError(f"cannot write {path}: {exc}") from exc
    return url


#: prometheus-client's own variable: where worker processes keep their counters (one file set
#: per process), so that any worker answering a scrape reports the sum.
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def prepare_metrics_dir(data_dir: Path) -> Path:
    """A fresh folder for the worker processes' counters (``certdist serve --workers N``):
    emptied first, since files of an earlier run's processes would be added to this one's
    counts; named to the workers through the environment, which prometheus-client reads when
    it is imported. Called before the workers start."""
    path = (data_dir / "metrics").resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    except OSError as exc:
        raise ConfigurationError(f"cannot prepare the metrics folder {path}: {exc}") from exc
    os.environ[METRICS_DIR_VARIABLE] = str(path)
    return path


def metrics_dir() -> Path | None:
    """The multiprocess metrics folder of this server, or None in a single process."""
    value = os.environ.get(METRICS_DIR_VARIABLE)
    return Path(value) if value else None


def export_for_workers(settings_overrides: dict[str, str]) -> None:
    """Make CLI options visible to server worker processes, which read the environment."""
    for name, value in settings_overrides.items():
        os.environ[f"CERTDIST_{name.upper()}"] = value
