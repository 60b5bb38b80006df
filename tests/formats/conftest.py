"""Fixtures for the format tests: realistic signed certificates and their history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from certdist.signing.dsc import DocumentSigners
from tests.support.wallet_samples import dcc_schema_validator, document_signers


@pytest.fixture(scope="session")
def signed_certificate(testdata: Path) -> dict[str, Any]:
    """DIVOC's own RsaSignature2018-signed test certificate (shared test vectors)."""
    parsed: dict[str, Any] = json.loads((testdata / "divoc" / "rsa2018-signed.json").read_text())
    return parsed


@pytest.fixture(scope="session")
def signed_compact(signed_certificate: dict[str, Any]) -> str:
    """That certificate as compact JSON, as DIVOC stores and zips it."""
    return json.dumps(signed_certificate, separators=(",", ":"), ensure_ascii=False)


@pytest.fixture(scope="module")
def signers(tmp_path_factory: pytest.TempPathFactory) -> DocumentSigners:
    """The EU DCC Document Signers of a fresh local key store."""
    return document_signers(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def schema() -> jsonschema.protocols.Validator:
    """The EU DCC JSON schema of the shared test data."""
    return dcc_schema_validator()
