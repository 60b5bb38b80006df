"""Where the tests run: the project's folders, and what a test needs from outside the project.

Tests that need something outside the project (the PostgreSQL server, Node.js, the Chromium
browser, poppler) call :func:`require`. On a developer's machine a missing piece skips the
test with the reason; when ``CERTDIST_TEST_STRICT=1`` (set by ``.ci/run``) it fails instead,
so CI can never go green by skipping.

A pytest plugin (``tests/conftest.py``) for the ``testdata`` fixture.
"""

from __future__ import annotations

import os
import socket
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


#: The shared Redis server: tests only ever write keys under a prefix of their own there.
REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The public test vectors kept in ``tests/vectors`` (sources and licences in its README)."""
    return VECTORS
