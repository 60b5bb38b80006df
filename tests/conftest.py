"""Shared test fixtures.

Tests that need something outside the project (the PostgreSQL server, Node.js, the shared
test vectors) call :func:`require`. On a developer's machine a missing piece skips the test
with the reason; when ``CERTDIST_TEST_STRICT=1`` (set by ``.ci/run``) it fails instead, so CI
can never go green by skipping.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["tests.db_fixtures"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_TESTDATA = PROJECT_ROOT.parent / "shared" / "testdata"


def strict() -> bool:
    return os.environ.get("CERTDIST_TEST_STRICT", "") not in ("", "0", "false")


def require(condition: object, reason: str) -> None:
    """Skip (or, in strict mode, fail) the calling test unless ``condition`` holds."""
    if condition:
        return
    if strict():
        pytest.fail(f"required for this test but missing (CERTDIST_TEST_STRICT is set): {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The shared public test vectors (``../shared/testdata``)."""
    require(SHARED_TESTDATA.is_dir(), f"shared test vectors not found at {SHARED_TESTDATA}")
    return SHARED_TESTDATA
