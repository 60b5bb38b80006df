"""Settings, from environment variables (``CERTDIST_*``) and an optional TOML file.

This is the only module that reads the process environment. Everything else receives a
``Settings`` object (or pieces of it) through constructors built in ``create_app``.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from certdist.domain.latest import LatestRule
from certdist.domain.models import TEST, VACCINATION
from certdist.domain.roles import DEFAULT_ROLES, Permission
from certdist.errors import ConfigurationError

CONFIG_FILE_VARIABLE = "CERTDIST_CONFIG_FILE"
LOCAL_TOKEN_ISSUER = "certdist-local"  # noqa: S105 - an issuer name, not a secret
LOCAL_TOKEN_AUDIENCE = "certdist"  # noqa: S105 - an audience name


class Mode(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CERTDIST_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    mode: Mode = Mode.DEVELOPMENT
    data_dir: Path = Path("data")
    database_url: str | None = None
    database_deadline_seconds: float = Field(default=5.0, gt=0)

    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)

    # The signed credential (DESIGN §2).
    credential_issuer: str = "https://divoc.dev/"
    certificate_base_url: str = "https://divoc.dev/"
    vaccination_context: str = "https://cowin.gov.in/credentials/vaccination/v1"
    test_context: str = "https://cowin.gov.in/credentials/testCertificate/v1"
    context_aliases: dict[str, str] = Field(default_factory=dict)
    credential_key_algorithm: Literal["RSA", "Ed25519"] = "RSA"
    did_prefix: str = "did:divoc"
    address_country: str = "IN"
    default_phone_region: str = "IN"
    vaccine_codes: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            # CoWIN's v2 credentials carry the ICD-11 code and prophylaxis of the vaccine.
            "covishield": {
                "icd11Code": "XM9QW8",
                "prophylaxis": "COVID-19 vaccine, non-replicating viral vector",
            },
            "covaxin": {
                "icd11Code": "XM1NL1",
                "prophylaxis": "COVID-19 vaccine, inactivated virus",
            },
        }
    )

    keys: list[KeyFile] = Field(default_factory=list)

    # Distribution (DESIGN §2 "QR payload", "Latest certificate").
    qr_payload_form: Literal["zip", "zip-latin1-utf8"] = "zip"
    pdf_second_language: str | None = "hi"
    pdf_template_dir: Path | None = None
    # Per worker process. 16 MiB keeps a worker under 150 MB RSS (64 MiB measured 186 MB).
    render_cache_bytes: int = Field(default=16 * 1024 * 1024, ge=0)
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
    max_batch_items: int = Field(default=1000, ge=1)

    log_level: str = "INFO"
    log_json: bool = True
    access_log: bool = True  # one JSON line per request (off when a proxy in front logs them)

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
    def is_production(self) -> bool:
        return self.mode is Mode.PRODUCTION

    def roles_for(self, permission: Permission) -> tuple[str, ...]:
        return tuple(self.roles.get(permission, DEFAULT_ROLES[permission]))

    def check(self) -> None:
        """Refuse unsafe combinations. Production must not run any dev-only backend."""
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
    settings.check()
    return settings


def export_for_workers(settings_overrides: dict[str, str]) -> None:
    """Make CLI options visible to server worker processes, which read the environment."""
    for name, value in settings_overrides.items():
        os.environ[f"CERTDIST_{name.upper()}"] = value
