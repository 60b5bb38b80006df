"""Fixtures for the format tests: realistic signed certificates and their history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def signed_certificate(testdata: Path) -> dict[str, Any]:
    """DIVOC's own RsaSignature2018-signed test certificate (shared test vectors)."""
    parsed: dict[str, Any] = json.loads((testdata / "divoc" / "rsa2018-signed.json").read_text())
    return parsed


@pytest.fixture(scope="session")
def signed_compact(signed_certificate: dict[str, Any]) -> str:
    """That certificate as compact JSON, as DIVOC stores and zips it."""
    return json.dumps(signed_certificate, separators=(",", ":"), ensure_ascii=False)
