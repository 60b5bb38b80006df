"""The public verifier: ``POST /verify`` (JSON API) and the verify page (``GET /verify``).

No authentication: anyone holding a certificate may check it. Requests are rate-limited per
client IP (a keyed hash of it), since decoding a photo costs real CPU time.

``POST /verify`` answers **200 for every verification result**, including a bad signature,
an unknown issuer, an expired or a revoked certificate: the request was fine and the answer
is the outcome (``status`` valid | invalid | revoked, a machine-readable ``code`` and a
``reason``). Only input that is no certificate in any known form is a client error (400), and
an oversized body or image is 413.

A PDF (the certificate as it was e-mailed) is accepted too: as the form's file, or as a raw
body sent as ``application/pdf``; its first pages are searched for the QR code
(:mod:`certdist.services.verification.pdf`). A file sent as a PDF that is none, or a PDF
without a QR code, is a 400 naming the problem.

The page works without JavaScript: the form posts the photo (or pasted text) to
``/verify/result``, which renders the outcome. With JavaScript, ``static/verify.js`` adds
"Scan with camera": it grabs camera frames into a canvas and posts each as a JPEG to
``POST /verify`` until a QR code is found; decoding happens here, with zxing-cpp.

Every outcome ``code``, and "no QR code found" in a photo or PDF, has its own words: a
heading, the reason and what to do (:func:`outcome_words`). The result page renders them
for its code; the verify page renders all of them into the hidden result template, where
``verify.js`` picks those of the code ``POST /verify`` answered, so both paths say the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, get_args

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from certdist.errors import FieldError, InvalidInput, PayloadTooLarge
from certdist.services.verification import (
    NO_QR_CODE,
    NO_QR_CODE_IN_PDF,
    OutcomeCode,
    VerificationOutcome,
)
from certdist.web.deps import ServicesDep, client_address
from certdist.web.templating import PageRoute, Templates, TemplatesDep
from certdist.wiring import Services

router = APIRouter(tags=["verification"])
pages = APIRouter(route_class=PageRoute, include_in_schema=False)

#: Paths whose bodies may be photos or PDFs (web/app.py gives them the image limit).
UPLOAD_PATHS = ("/verify", "/verify/result")
#: Room for the multipart envelope around the largest accepted image.
MULTIPART_OVERHEAD = 64 * 1024
_RATE_SCOPE = "verify"
_NO_INPUT = "input"
_PDF = "application/pdf"

#: The page of a photo or PDF in which no QR code was found: no outcome of the API (which
#: answers 400, so a camera keeps looking), but a result a person needs advice on.
NO_QR_CODE_PAGE: Final = "no-qr-code"
#: Every code that has a page, in the order the words are listed.
PAGE_CODES: Final[tuple[str, ...]] = (*get_args(OutcomeCode), NO_QR_CODE_PAGE)


class CertificateFields(BaseModel):
    """Only what a verifier needs; absent fields are left out."""

    format: Literal["divoc", "eu-dcc", "smart-health-card", "fhir", "sd-jwt-vc"]
    kind: Literal["vaccination", "test", "recovery"]
    issuer: str
    name: str | None = Field(
        default=None, description="Absent when an SD-JWT VC presentation does not disclose it"
    )
    date_of_birth: str | None = None
    age: str | None = None
    vaccine: str | None = None
    dose: int | None = None
    total_doses: int | None = None
    date: str | None = None
    test: str | None = None
    result: str | None = None
    valid_until: str | None = None
    holder_binding: Literal["shown", "not shown"] | None = Field(
        default=None,
        description="SD-JWT VC only: whether a key binding JWT proved the holder's key",
    )


class VerificationResult(BaseModel):
    status: Literal["valid", "invalid", "revoked"]
    code: OutcomeCode
    reason: str
    valid_from: str | None = Field(
        default=None,
        description="With not-yet-valid: the date (ISO 8601) the certificate becomes valid",
    )
    certificate: CertificateFields | None = Field(
        default=None,
        description="Present only when the signature holds: valid, revoked, and expired or "
        "not yet valid where the format reads the content before the validity period",
    )


class PayloadBody(BaseModel):
    payload: Annotated[
        str, Field(min_length=1, description="QR text, a JWS, credential or FHIR bundle JSON")
    ]


_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {"schema": PayloadBody.model_json_schema()},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "payload": {"type": "string"},
                },
            }
        },
        "image/png": {"schema": {"type": "string", "format": "binary"}},
        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        "text/plain": {"schema": {"type": "string"}},
    },
}


@router.post(
    "/verify",
    summary="Verify a certificate (QR text, credential, SMART Health Card, EU DCC, FHIR "
    "bundle, a photo or a PDF)",
    response_model=VerificationResult,
    response_model_exclude_none=True,
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={
        400: {
            "description": "Not a certificate in any known form, not a PDF we can read, "
            "or no QR code in the image or PDF"
        },
        413: {"description": "Body, image or PDF too large"},
        429: {"description": "Too many verifications from this address"},
    },
)
async def verify(request: Request, response: Response, services: ServicesDep) -> dict[str, Any]:
    await run_in_threadpool(_count_attempt, request, services)
    received = await _read_input(request)
    outcome: VerificationOutcome = await run_in_threadpool(
        services.verifier.check, received.data, expect_pdf=received.is_pdf
    )
    response.headers["Cache-Control"] = "no-store"  # names and dates of birth
    return outcome.as_json()


@pages.get("/verify", response_class=HTMLResponse)
async def verify_page(request: Request, templates: TemplatesDep) -> HTMLResponse:
    return _render(request, templates, "verify.html", {"error": None})


@pages.get("/verify/result")
async def verify_result_again() -> RedirectResponse:
    """A reload or bookmark of the result page: results are never stored, so start again."""
    return RedirectResponse("/verify", status_code=303)


@pages.post("/verify/result", response_class=HTMLResponse)
async def verify_result_page(
    request: Request, services: ServicesDep, templates: TemplatesDep
) -> HTMLResponse:
    """The no-JavaScript path: the form's photo or text, verified, as a page."""
    await run_in_threadpool(_count_attempt, request, services)
    _ = templates.gettext(request)
    try:
        received = await _read_input(request)
        outcome = await run_in_threadpool(
            services.verifier.check, received.data, expect_pdf=received.is_pdf
        )
    except PayloadTooLarge:
        error = _("The photo is too large. Please send a smaller photo of the QR code.")
        return _render(request, templates, "verify.html", {"error": error}, status_code=413)
    except InvalidInput as problem:
        if _no_qr_code(problem):
            # Not a form error: the photo was sent; it needs retaking (the advice says how).
            page = {"status": "unread", "code": NO_QR_CODE_PAGE, "reason": problem.message}
            return _render(
                request, templates, "verify_result.html", {"outcome": page}, status_code=400
            )
        return _render(request, templates, "verify.html", _form_error(problem, _), status_code=400)
    return _render(request, templates, "verify_result.html", {"outcome": outcome.as_json()})


def _no_qr_code(problem: InvalidInput) -> bool:
    where = problem.errors[0].location if problem.errors else None
    return where in (NO_QR_CODE, NO_QR_CODE_IN_PDF)


def _render(
    request: Request,
    templates: Templates,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    return templates.render(
        request,
        name,
        {**context, "words": outcome_words(templates.gettext(request))},
        status_code=status_code,
    )


@dataclass(frozen=True)
class OutcomeWords:
    """What a page says of one outcome: a heading that names it, the reason in words, and
    what the person checking the certificate should do. ``dated_advice`` replaces
    ``advice`` when the outcome has a date to name (``{date}`` marks where it goes: the
    page fills it in, and so does verify.js)."""

    heading: str
    reason: str
    advice: str
    dated_advice: str = ""


def outcome_words(_: Callable[[str], str]) -> dict[str, OutcomeWords]:
    """The words of every page code (:data:`PAGE_CODES`), in the reader's language."""
    return {
        "valid": OutcomeWords(
            _("The certificate is valid"),
            _("The signature, the expiry and the revocation list were checked."),
            _("Check that the name and date of birth match the person's identity document."),
        ),
        "signature": OutcomeWords(
            _("The signature does not match"),
            _(
                "The signature does not match: the certificate was changed, "
                "or it was not signed by its issuer."
            ),
            _(
                "Do not accept it. Ask the person for the original certificate or check it with "
                "the issuer."
            ),
        ),
        "unknown-key": OutcomeWords(
            _("Unknown issuer"),
            _("The certificate was signed by an issuer this service does not trust."),
            _(
                "Do not accept it as checked. Check it with its issuer or with a verifier that "
                "trusts that issuer."
            ),
        ),
        "keys-unavailable": OutcomeWords(
            _("The issuer could not be reached"),
            _(
                "The issuer's keys could not be fetched, so the signature could not be checked. "
                "Try again later."
            ),
            _("Try again in a few minutes. Until then, the certificate has not been checked."),
        ),
        "expired": OutcomeWords(
            _("The certificate has expired"),
            _("The certificate has expired."),
            _("Do not accept it. The person needs a current certificate from the issuer."),
        ),
        "not-yet-valid": OutcomeWords(
            _("The certificate is not valid yet"),
            _("The certificate is not valid yet: its validity starts later."),
            _(
                "Check that this device's date and time are correct. If they are, check the "
                "certificate again later."
            ),
            _(
                "Check that this device's date and time are correct. If they are, check the "
                "certificate again on or after %(date)s."
            )
            % {"date": "{date}"},
        ),
        "revoked": OutcomeWords(
            _("The certificate has been revoked"),
            _("The issuer revoked this certificate or replaced it with a corrected one."),
            _(
                "Do not accept it. The person can download their current certificate from the "
                "issuer."
            ),
        ),
        "malformed": OutcomeWords(
            _("The certificate cannot be read"),
            _(
                "The certificate is damaged or incomplete: its content cannot be read, so "
                "nothing in it can be checked."
            ),
            _(
                "Scan or paste it again, the whole of it. If it still cannot be read, do not "
                "accept it: ask the person for the original certificate."
            ),
        ),
        "unsupported": OutcomeWords(
            _("This kind of certificate cannot be checked here"),
            _("This kind of certificate cannot be checked here yet."),
            _(
                "Check it with its issuer or with a verifier that supports this kind of "
                "certificate."
            ),
        ),
        "revocation-unknown": OutcomeWords(
            _("Revocation could not be checked"),
            _(
                "The issuer's list of revoked certificates could not be checked, so this "
                "certificate may have been revoked. Try again later."
            ),
            _("Try again in a few minutes. Until then, do not treat the certificate as valid."),
        ),
        NO_QR_CODE_PAGE: OutcomeWords(
            _("No QR code found"),
            _("We could not find a QR code in the photo or on the first pages of the PDF."),
            _(
                "Take a sharper photo from closer, in good light, with the whole QR code in the "
                "frame, or paste the certificate text instead."
            ),
        ),
    }


def reason_texts(_: Callable[[str], str]) -> dict[str, str]:
    """What each outcome ``code`` means, in the reader's language (the ``reason`` of an
    outcome is a technical English detail, shown under it)."""
    return {code: words.reason for code, words in outcome_words(_).items()}


def _form_error(problem: InvalidInput, _: Callable[[str], str]) -> dict[str, str | None]:
    """The form's error in the reader's language, and the verifier's technical detail (in
    English, shown folded under it for whoever helps the person)."""
    where = problem.errors[0].location if problem.errors else None
    if where == _NO_INPUT:
        return {"error": _("Choose a photo of the QR code or paste the certificate text.")}
    return {"error": _("This is not a certificate we can read."), "error_detail": problem.message}


def _count_attempt(request: Request, services: Services) -> None:
    client = client_address(request)
    services.infrastructure.rate_limiter.hit(
        _RATE_SCOPE,
        services.hasher.digest("client-ip", client),
        limit=services.settings.verifier.requests_per_minute,
        window_seconds=60,
    )


@dataclass(frozen=True)
class Received:
    """What was sent; ``is_pdf`` when it was declared a PDF (by its media type or file name),
    so that a file that is none is refused as "not a PDF" instead of guessed at."""

    data: bytes | str
    is_pdf: bool = False


async def _read_input(request: Request) -> Received:
    """The certificate from a JSON body, a multipart form (file or text) or the raw body."""
    content_type = _media_type(request.headers.get("content-type"))
    if content_type == "application/json":
        return Received(_payload_from_json(await request.body()))
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return await _payload_from_form(request)
    body = await request.body()
    if not body.strip():
        raise InvalidInput("the request has no certificate", [FieldError(_NO_INPUT, "required")])
    return Received(body, is_pdf=content_type == _PDF)


def _media_type(header: str | None) -> str:
    return (header or "").split(";")[0].strip().lower()


def _declared_pdf(upload: UploadFile) -> bool:
    """Browsers send a PDF's media type; other clients may send only its name."""
    named_pdf = (upload.filename or "").lower().endswith(".pdf")
    return _media_type(upload.content_type) == _PDF or named_pdf


def _payload_from_json(body: bytes) -> str:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
        raise InvalidInput("the body is not JSON") from None
    payload = document.get("payload") if isinstance(document, dict) else None
    if not isinstance(payload, str) or not payload.strip():
        raise InvalidInput(
            'expected {"payload": "<certificate text>"}',
            [FieldError("payload", "a non-empty string is required")],
        )
    return payload


async def _payload_from_form(request: Request) -> Received:
    form = await request.form(max_files=1, max_fields=8)
    try:
        upload = form.get("file")
        if isinstance(upload, UploadFile):
            data = await upload.read()
            if data:
                return Received(data, is_pdf=_declared_pdf(upload))
        text = form.get("payload")
        if isinstance(text, str) and text.strip():
            return Received(text.strip())
    finally:
        await form.close()
    raise InvalidInput(
        "send a photo or PDF of the QR code (field 'file') or the certificate text "
        "(field 'payload')",
        [FieldError(_NO_INPUT, "required")],
    )
