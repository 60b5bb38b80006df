"""Where the tests run: the project's folders, and what a test needs from outside the project.

Tests that need something outside the project (the PostgreSQL server, Node.js, the Chromium
browser, poppler) call :func:`require`. On a developer's machine a missing piece skips the
test with the reason; when ``CERTDIST_TEST_STRICT=1`` (set by ``.ci/run``) it fails instead,
so CI can never go green by skipping.

A pytest plugin (``tests/conftest.py``) for the ``testdata`` fixture.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VECTORS = PROJECT_ROOT / "tests" / "vectors"


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
    """The public test vectors kept in ``tests/vectors`` (sources and licences in its README)."""
    return VECTORS
