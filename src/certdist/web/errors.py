"""The one place where errors become HTTP responses.

Bodies keep DIVOC's shape ``{"date","source","type","extra"}`` (its clients parse ``type``:
``invalid-input`` for client errors, ``internal-failed`` for ours), plus ``errors`` listing
each bad field when there are any.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from python_multipart.exceptions import FormParserError
from starlette.exceptions import HTTPException as StarletteHTTPException

from certdist.errors import (
    AuthenticationFailed,
    CertdistError,
    ConfigurationError,
    Conflict,
    DeliveryFailed,
    FieldError,
    InsufficientScope,
    InvalidAccessToken,
    InvalidInput,
    NotAcceptable,
    NotFound,
    OAuthError,
    PasscodeRejected,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    SignerExpired,
    StorageUnavailable,
    VerificationError,
)
from certdist.web.templating import error_page, is_page_request

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[CertdistError], int] = {
    InvalidInput: 400,
    VerificationError: 400,
    OAuthError: 400,
    InvalidAccessToken: 401,
    InsufficientScope: 403,
    AuthenticationFailed: 401,
    PermissionDenied: 403,
    NotFound: 404,
    NotAcceptable: 406,
    Conflict: 409,
    PayloadTooLarge: 413,
    RateLimited: 429,
    StorageUnavailable: 503,
    DeliveryFailed: 503,  # the SMS gateway did not take a message sent during the request
    SignerExpired: 503,
    ConfigurationError: 500,
}


class ErrorField(BaseModel):
    field: str = Field(description="Dotted location of the bad field", examples=["recipient.dob"])
    message: str


class ErrorBody(BaseModel):
    """DIVOC's error body (``error_body`` below): what every API error answers."""

    date: str = Field(description="When, ISO 8601 in UTC", examples=["2021-05-02T10:21:18.646Z"])
    source: str = Field(examples=["certdist"])
    type: str = Field(
        description="invalid-input for client errors, internal-failed for ours",
        examples=["invalid-input"],
    )
    extra: str = Field(description="What went wrong", examples=["invalid request"])
    errors: list[ErrorField] | None = Field(
        default=None, description="Each bad field, when there are any"
    )


class OAuthErrorBody(BaseModel):
    """The error body of the OAuth 2.0 and OpenID4VCI endpoints (RFC 6749 section 5.2)."""

    error: str = Field(description="The specification's error code", examples=["invalid_grant"])
    error_description: str = Field(description="What went wrong, in ASCII")


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid request (each bad field is listed in errors)",
    401: "No valid bearer token",
    403: "The token's roles do not grant this",
    404: "Not found",
    406: "None of the media types in Accept is served",
    409: "Conflicts with what is stored",
    413: "Request body too large",
    429: "Too many requests (see Retry-After)",
    503: "A backing service is unavailable (see Retry-After)",
}

Responses = dict[int | str, dict[str, Any]]

#: ``Retry-After`` of a 503 for an outage of the database or Redis: a failover (a standby
#: promoted, a client pool reconnecting) takes a few seconds, so a client that waits this
#: long and sends the same request again usually succeeds (docs/fleet.md has the figures).
#: An expired signing certificate (also 503) waits for an operator: no promise is made there.
STORAGE_RETRY_AFTER_SECONDS = 5


def error_responses(*statuses: int) -> Responses:
    """OpenAPI declarations of error answers (``responses=`` of a route or router), all with
    :class:`ErrorBody`. 400 (validation), 401 and 403 (bearer token) and 413 (body) are added
    to every operation that can answer them by ``web/openapi.py``."""
    return {s: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[s]} for s in statuses}


# Page routes (web/templating.py ``PageRoute``) get the same status as an HTML page, whose
# text says what to do next; API routes keep DIVOC's JSON body.


def status_for(error: CertdistError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def error_body(status: int, message: str, errors: list[FieldError] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "source": "certdist",
        "type": "invalid-input" if status < 500 else "internal-failed",
        "extra": message,
    }
    if errors:
        body["errors"] = [{"field": e.location, "message": e.message} for e in errors]
    return body


def error_response(
    status: int,
    message: str,
    errors: list[FieldError] | None = None,
    fields: dict[str, Any] | None = None,
) -> JSONResponse:
    """``fields``: members a standard requires beside DIVOC's (SMART Health Links' 401
    ``remainingAttempts``); a wrong passcode is no bearer-token challenge."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 and not fields else None
    body = error_body(status, message, errors) | (fields or {})
    return JSONResponse(body, status_code=status, headers=headers)


async def _certdist_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CertdistError)
    status = status_for(exc)
    if status >= 500:
        log.error("request failed", extra={"error": type(exc).__name__})
    retry_after = _retry_after(exc)
    response: Response
    if isinstance(exc, OAuthError):
        response = oauth_error_response(status, exc)
    elif is_page_request(request):
        response = error_page(request, status, retry_after=retry_after)
    else:
        errors = exc.errors if isinstance(exc, InvalidInput) else None
        message = exc.message if isinstance(exc, InvalidInput) else str(exc)
        fields = (
            {"remainingAttempts": exc.remaining_attempts}
            if isinstance(exc, PasscodeRejected)
            else None
        )
        response = error_response(status, message, errors, fields)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def oauth_error_response(status: int, error: OAuthError) -> JSONResponse:
    """RFC 6749 section 5.2 / RFC 6750 section 3 / OpenID4VCI: the error name and a
    description in ASCII, never stored; a bearer-token error says so in WWW-Authenticate."""
    ascii_text = str(error).encode("ascii", "replace").decode()
    description = ascii_text.replace('"', "'").replace("\\", "/")
    headers = {"Cache-Control": "no-store"}
    if isinstance(error, InvalidAccessToken | InsufficientScope):
        headers["WWW-Authenticate"] = (
            f'Bearer error="{error.code}", error_description="{description}"'
        )
    return JSONResponse(
        {"error": error.code, "error_description": description},
        status_code=status,
        headers=headers,
    )


def _retry_after(exc: CertdistError) -> int | None:
    """Seconds after which the same request may succeed, for errors that pass by themselves."""
    if isinstance(exc, RateLimited):
        return exc.retry_after
    if isinstance(exc, StorageUnavailable):
        return STORAGE_RETRY_AFTER_SECONDS
    return None


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if is_page_request(request):
        return error_page(request, 400)
    errors = []
    for err in exc.errors():
        location = [str(p) for p in err.get("loc", ())]
        if location and location[0] in ("body", "query", "path", "header"):
            location = location[1:] if location[0] == "body" else location
        errors.append(FieldError(".".join(location) or "body", str(err.get("msg", "invalid"))))
    return error_response(400, "invalid request", errors)


async def _unreadable_form(request: Request, exc: Exception) -> Response:
    # A malformed multipart body. Newer Starlette turns the parser's error into a 400 itself;
    # the oldest release this project allows lets it through, which would be a 500.
    if is_page_request(request):
        return error_page(request, 400)
    return error_response(400, "the multipart body cannot be read")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if is_page_request(request):
        return error_page(request, exc.status_code)
    messages = {404: "no such resource", 405: "method not allowed for this resource"}
    message = messages.get(exc.status_code, str(exc.detail))
    response = error_response(exc.status_code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405:
        response.headers["Allow"] = _allowed_methods(request)
    return response


def _allowed_methods(request: Request) -> str:
    # Starlette's ``Allow`` names the methods of the first route whose path matches; two
    # routes may share a path (``DELETE`` and ``GET /divoc/api/v1/certificates/{id}``).
    methods: set[str] = set()
    for route in _leaf_routes(request.app.routes):
        # Mounts (static files) have a path but no methods of their own.
        route_methods = getattr(route, "methods", None)
        path_regex = getattr(route, "path_regex", None)
        if route_methods and path_regex is not None and path_regex.match(request.url.path):
            methods.update(route_methods)
    return ", ".join(sorted(methods))


def _leaf_routes(routes: Sequence[Any]) -> Iterable[Any]:
    # Newer FastAPI keeps included routers as routes of their own and walks them with
    # ``iter_route_contexts`` (which applies their prefixes); older releases copied every
    # route into the application's list, which is then the whole answer.
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    return walk(routes) if walk is not None else routes


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", extra={"error": type(exc).__name__})
    if is_page_request(request):
        return error_page(request, 500)
    return error_response(500, "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CertdistError, _certdist_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(FormParserError, _unreadable_form)
    app.add_exception_handler(Exception, _unexpected)
