"""Schemathesis against the service's own OpenAPI description, with all its checks: every
operation answers only the status codes, content types, headers and bodies the document
declares, rejects what the document says is invalid, and answers 405 with ``Allow`` to
methods it does not have.

Every operation gets the document's examples, then generated valid and invalid requests
(hypothesis, fixed seed), each carrying the token of one role in turn (or of all roles
together), then schemathesis's coverage cases (boundary values, undeclared methods, missing
parameters) with the token of all roles. ``FUZZ_EXAMPLES`` is kept small so that the file
runs in well under two minutes; raise it locally to search harder.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CheckFunction
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    positive_data_acceptance,
    unsupported_method,
)

from certdist.domain.roles import DEFAULT_ROLES
from certdist.services.issuance.demo import seed_demo
from certdist.web.app import create_app
from certdist.wiring import Services
from tests.support.clients import bearer
from tests.support.services import ServicesFactory

#: Generated requests per operation and mode (valid, invalid).
FUZZ_EXAMPLES = 12

# The verifier accepts PDFs and photos; schemathesis sends them as any other binary body
# (the oldest schemathesis this project allows knows no image types by itself).
for _media_type in ("application/pdf", "image/png", "image/jpeg", "image/webp"):
    schemathesis.serializer.alias(_media_type, "application/octet-stream")

#: Checks that cannot hold for an operation, and why. Everything else runs every check.
#:
#: ``positive_data_acceptance`` expects every request the document calls valid to succeed.
#: These operations also apply rules JSON Schema cannot state, and answer 400 naming the
#: field when one fails (a request that passes them is tested elsewhere, tests/web/):
_SEMANTIC_RULES = {
    # dates within range (dob not in the future), effectiveUntil after effectiveStart,
    # resultTimestamp after sampleCollectionTimestamp, no control characters or spreadsheet
    # formulas in names, at least one request
    "POST /divoc/api/v1/certify",
    "POST /divoc/api/v1/test/certify",
    "PUT /divoc/api/v1/certificate",
    # ``doses`` or ``allDoses=true`` (one of two query parameters)
    "DELETE /divoc/api/v1/certificates/{preEnrollmentCode}",
    # the CSV's content, row by row
    "POST /divoc/api/v1/bulkCertify",
    "POST /divoc/api/v1/test/bulkCertify",
    # the body must be a DIVOC credential with evidence[0].certificateId
    "POST /divoc/api/v1/certificate/revoked",
    # a phone number valid for its country
    "GET /certificate/api/beneficiaries",
    "POST /cert/external/api/certificates",
    "POST /cert/external/pdf/certificate",
    # ``facility`` and ``date``, or ``codes`` (one of two sets of fields)
    "POST /certificate/api/print-jobs",
    # a passcode with flag P and only with it; U excludes P
    "POST /certificate/api/shl",
    # depends on the stored certificate: a vaccine with configured codes, a Latin-script
    # name (or names sent for the EU DCC)
    "GET /certificate/api/shc-certificate",
    "GET /certificate/api/fhir-certificate",
    "POST /certificate/api/eu-certificate",
    # the payload must decode as a certificate in one of the known forms
    "POST /verify",
    # OpenID4VCI: a live pre-authorized code and its transaction code; an access token,
    # a fresh c_nonce and key proofs signed by the holder (tests/web/test_openid4vci.py)
    "POST /openid4vci/token",
    "POST /openid4vci/credential",
    # depends on the stored certificate: a mobile number to send the transaction code to
    "POST /certificate/api/wallet-offer",
}
_EXCLUDED: dict[str, list[CheckFunction]] = {
    label: [positive_data_acceptance] for label in _SEMANTIC_RULES
}
# ``GET /verify`` is the verification page for people (HTML, not part of the API, so not in
# the document): the path answers GET, where ``unsupported_method`` expects 405, and a 405
# there (OPTIONS) rightly allows GET, which ``allow_header_conformance`` calls undocumented.
_EXCLUDED["POST /verify"] = [
    positive_data_acceptance,
    unsupported_method,
    allow_header_conformance,
]
# DIVOC's revoke and read routes share one URL template under two parameter names
# (``/v1/certificates/{preEnrollmentCode}`` and ``{certificateId}``, kept as DIVOC named
# them), so the document has two path items for what is one resource to HTTP: a 405 there
# rightly allows DELETE and GET, and each path item documents only one of them.
_EXCLUDED["DELETE /divoc/api/v1/certificates/{preEnrollmentCode}"] = [
    positive_data_acceptance,
    allow_header_conformance,
]
_EXCLUDED["GET /divoc/api/v1/certificates/{certificateId}"] = [allow_header_conformance]


@pytest.fixture
def fuzz_services(make_sqlite_services: ServicesFactory) -> Services:
    built = make_sqlite_services()
    seed_demo(built.issuance.certificates)  # so that lookups also find something
    return built


@pytest.fixture
def api_schema(fuzz_services: Services) -> Any:
    app = create_app(fuzz_services.settings, services=fuzz_services)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture
def tokens(fuzz_services: Services) -> list[dict[str, str]]:
    """An Authorization header per role, and one with every role."""
    roles = sorted({role for names in DEFAULT_ROLES.values() for role in names})
    mint = [(role,) for role in roles] + [tuple(roles)]
    return [bearer(fuzz_services, *r, username="fuzzer", mobile="+919000000001") for r in mint]


def _label(operation: Any) -> str:
    return f"{operation.method.upper()} {operation.path}"


def _fuzz(
    strategy: st.SearchStrategy[Any],
    tokens: list[dict[str, str]],
    excluded: list[CheckFunction],
    max_examples: int,
) -> None:
    @given(case=strategy, token=st.sampled_from(tokens))
    @settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def conforms(case: Any, token: dict[str, str]) -> None:
        case.call_and_validate(headers=token, excluded_checks=excluded)

    conforms()


def test_api_answers_as_its_openapi_document_says(
    api_schema: Any, tokens: list[dict[str, str]]
) -> None:
    # Driven per operation by hand: schemathesis's pytest fixture integration does not load
    # under pytest 9, and the schema needs the fixtures' database and keys.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    every_role = tokens[-1]

    for operation in operations:
        excluded = _EXCLUDED.get(_label(operation), [])
        # The examples the document gives (filled in where it gives none), then generated
        # requests.
        for example in operation.get_strategies_from_examples(fill_missing=True):
            _fuzz(example, [every_role], excluded, max_examples=1)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation.as_strategy(mode), tokens, excluded, FUZZ_EXAMPLES)
            except Unsatisfiable:
                # Nothing of this operation can be made invalid: no parameters, and a body
                # (DigiLocker's XML) that schemathesis sends as opaque text.
                assert mode is GenerationMode.NEGATIVE, _label(operation)

        generation = api_schema.config.generation_for(operation=operation)
        for case in api_schema.iter_coverage_cases(
            operation,
            generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
            generation_config=generation,
        ):
            case.call_and_validate(headers=every_role, excluded_checks=excluded)
