"""The OpenAPI document, made to say what the server really answers.

FastAPI's generated document promises 422 for invalid requests; certdist answers 400 with
DIVOC's error body (``web/errors.py``). :func:`install_openapi` rewrites the document once,
for every operation:

* 422 becomes 400 with :class:`~certdist.web.errors.ErrorBody`;
* an operation with bearer security also answers 401 and 403, one with a body 413
  (``BodyLimit``), each with the error body;
* an error response a route declares without content gets the error body;
* 401 and 429 declare their ``WWW-Authenticate`` and ``Retry-After`` headers;
* a HEAD answer has no body, so its responses declare no content.

Routes declare their other error answers with ``error_responses(...)``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from certdist.web.errors import ERROR_DESCRIPTIONS, ErrorBody

_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_ERROR_CONTENT = {"application/json": {"schema": _ERROR_REF}}
_UNUSED_SCHEMAS = ("HTTPValidationError", "ValidationError")
#: Headers ``web/errors.py`` puts on these answers.
_ERROR_HEADERS: dict[str, dict[str, Any]] = {
    "401": {
        "WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}},
    },
    "429": {
        "Retry-After": {
            "description": "Seconds to wait before trying again",
            "schema": {"type": "integer", "minimum": 0},
        },
    },
}


def _error(status: int, description: str | None = None) -> dict[str, Any]:
    return {"description": description or ERROR_DESCRIPTIONS[status], "content": _ERROR_CONTENT}


def _fix_operation(method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if responses.pop("422", None) is not None:
        responses.setdefault("400", _error(400))
    if operation.get("security"):
        responses.setdefault("401", _error(401))
        responses.setdefault("403", _error(403))
    if "requestBody" in operation:
        responses.setdefault("413", _error(413))
    for code, response in responses.items():
        if method == "head":
            response.pop("content", None)
        elif code.isdigit() and int(code) >= 400 and not response.get("content"):
            response["content"] = _ERROR_CONTENT
        if code in _ERROR_HEADERS:
            response.setdefault("headers", _ERROR_HEADERS[code])
    operation["responses"] = dict(sorted(responses.items()))


def exact_document(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (FastAPI's) rewritten as described above, in place."""
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            _fix_operation(method, operation)
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _UNUSED_SCHEMAS:
        schemas.pop(name, None)
    error_schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorBody"] = error_schema
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve :func:`exact_document` at ``app.openapi_url``, built once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = exact_document(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
