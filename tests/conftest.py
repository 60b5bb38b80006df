"""The fixtures the whole suite shares, from the test-support package ``tests/support/``
(each module's docstring says what it holds). Helpers are imported from there too:
``from tests.support.request_bodies import vaccination_request_body``.

Tests that need something outside the project (the PostgreSQL server, Node.js, the Chromium
browser) call :func:`tests.support.environment.require`: a missing piece skips the test with
the reason, or fails it when ``CERTDIST_TEST_STRICT=1`` (set by ``.ci/run``).
"""

import pytest

# The helpers' asserts explain themselves on failure, as the tests' own do.
pytest.register_assert_rewrite("tests.support")

pytest_plugins = [
    "tests.support.environment",  # testdata
    "tests.support.databases",  # database, migrated_database_url, database_url, …
    "tests.support.services",  # make_services, make_sqlite_services, settings, services
    "tests.support.clients",  # client, auth, make_client
    "tests.support.cli",  # cli_env
    "tests.support.delivery",  # clock, make_delivery_services, mail, sms, worker
    "tests.support.smtp",  # smtp_server
    "tests.support.node_verifiers",  # node_verifiers
    "tests.support.rendering",  # renderer
    "tests.support.log_hygiene",  # log_hygiene; fails the run on personal data in the log
]
