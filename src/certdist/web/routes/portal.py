"""The citizen portal's pages: log in with mobile number and one-time code, see and download
every certificate registered to that number (rules: docs/architecture.md, “Security rules”).

Thin on purpose: the rules live in ``services/portal/otp.py``, ``services/portal/sessions.py`` and
``services/portal/service.py``. Every form posts to this site with a CSRF token; every state change
is a POST answered with a 303 redirect (so reloading never re-sends a form); the pages need
no JavaScript.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from certdist.errors import AuthenticationFailed, InvalidInput
from certdist.formats.wallet_formats import EuDccPdfFormat, EuDccQrFormat
from certdist.services.portal import CitizenPortal, PortalSession
from certdist.web import cookies
from certdist.web.deps import ServicesDep, client_address
from certdist.web.documents import private_document
from certdist.web.download_menu import download_filename, download_menu
from certdist.web.templating import PageRoute, Templates, TemplatesDep

router = APIRouter(route_class=PageRoute, include_in_schema=False)

SESSION_COOKIE = "certdist_session"
LOGIN_COOKIE = "certdist_login"
#: A random id per browser, so that login limits count per browser and a browser that logged
#: in as a number before is recognised for it (docs/portal-login.md).
DEVICE_COOKIE = "certdist_device"
_DEVICE_ID = re.compile(r"[A-Za-z0-9_\-]{22,64}")
ShortField = Annotated[str, Form(max_length=64)]

_EU_DCC_FORMATS = (EuDccQrFormat.name, EuDccPdfFormat.name)


# --- cookies -----------------------------------------------------------------------------


def _cookie_name(templates: Templates, base: str) -> str:
    return cookies.cookie_name(base, secure=templates.secure_cookies)


def _set_cookie(response: Response, templates: Templates, base: str, value: str) -> None:
    cookies.set_cookie(response, base, value, secure=templates.secure_cookies)


def _clear_cookie(response: Response, templates: Templates, base: str) -> None:
    cookies.clear_cookie(response, base, secure=templates.secure_cookies)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _device(request: Request, templates: Templates) -> str | None:
    value = request.cookies.get(_cookie_name(templates, DEVICE_COOKIE))
    return value if value and _DEVICE_ID.fullmatch(value) else None


def _keep_device(
    response: Response, request: Request, templates: Templates, portal: CitizenPortal
) -> None:
    """Give the browser a device id on its first login page (renewed on every one)."""
    device = _device(request, templates) or secrets.token_urlsafe(24)
    max_age = portal.otp.limits.device_recognition_days * 24 * 3600
    cookies.set_cookie(
        response, DEVICE_COOKIE, device, secure=templates.secure_cookies, max_age=max_age
    )


def _session(request: Request, portal: CitizenPortal, templates: Templates) -> PortalSession | None:
    return portal.sessions.get(request.cookies.get(_cookie_name(templates, SESSION_COOKIE)))


# --- texts -------------------------------------------------------------------------------


def _field_messages(error: InvalidInput, _: Callable[[str], str]) -> dict[str, str]:
    texts = {
        "mobile": _("Enter a valid mobile number, for example 98765 43210."),
        "code": _("Enter the code from the SMS (digits only)."),
        "year": _("The year of birth does not match our records."),
    }
    return {e.location: texts.get(e.location, e.message) for e in error.errors}


# --- home and login ----------------------------------------------------------------------


@router.get("/")
def home(request: Request, services: ServicesDep, templates: TemplatesDep) -> Response:
    logged_in = _session(request, services.portal, templates) is not None
    return templates.render(
        request,
        "home.html",
        {"logged_in": logged_in, "logged_out": request.query_params.get("logged_out") == "1"},
    )


def _login_page(
    request: Request,
    templates: Templates,
    portal: CitizenPortal,
    pre_session: str,
    *,
    mobile: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    response = templates.render(
        request,
        "login.html",
        {
            "csrf_token": portal.sessions.pre_session_csrf(pre_session),
            "mobile": mobile,
            "errors": errors or {},
        },
        status_code=status_code,
    )
    _set_cookie(response, templates, LOGIN_COOKIE, pre_session)
    _keep_device(response, request, templates, portal)
    return response


def _pre_session(request: Request, templates: Templates, portal: CitizenPortal) -> str:
    current = request.cookies.get(_cookie_name(templates, LOGIN_COOKIE))
    return current if current and len(current) <= 128 else portal.sessions.new_pre_session()


@router.get("/portal/login")
def login_form(request: Request, services: ServicesDep, templates: TemplatesDep) -> Response:
    portal = services.portal
    if _session(request, portal, templates) is not None:
        return _redirect("/portal/certificates")
    return _login_page(request, templates, portal, _pre_session(request, templates, portal))


@router.post("/portal/login")
def request_code(
    request: Request,
    services: ServicesDep,
    templates: TemplatesDep,
    mobile: Annotated[str, Form(max_length=40)] = "",
    csrf_token: ShortField = "",
) -> Response:
    portal = services.portal
    pre_session = request.cookies.get(_cookie_name(templates, LOGIN_COOKIE))
    portal.sessions.check_pre_session_csrf(pre_session, csrf_token)
    assert pre_session is not None
    try:
        normalized = portal.otp.request_code(
            mobile,
            client_ip=client_address(request),
            language=templates.language(request),
            device=_device(request, templates),
        )
    except InvalidInput as error:
        return _login_page(
            request,
            templates,
            portal,
            pre_session,
            mobile=mobile,
            errors=_field_messages(error, templates.gettext(request)),
            status_code=400,
        )
    portal.sessions.remember_login(pre_session, normalized)
    return _redirect("/portal/verify")


def _verify_page(
    request: Request,
    templates: Templates,
    portal: CitizenPortal,
    pre_session: str,
    mobile: str,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return templates.render(
        request,
        "otp.html",
        {
            "csrf_token": portal.sessions.pre_session_csrf(pre_session),
            "code": portal.otp.code_state(
                mobile, client_ip=client_address(request), device=_device(request, templates)
            ),
            "masked_mobile": _masked(mobile),
            "errors": errors or {},
            "resent": request.query_params.get("resent") == "1",
            "minutes": max(1, portal.otp.limits.otp_ttl_seconds // 60),
            "guesses": portal.otp.limits.otp_guesses_per_code,
        },
        status_code=status_code,
    )


def _masked(mobile: str) -> str:
    """``+91 ••••••0001``: enough to recognise one's number, not to learn someone's."""
    return mobile[:3] + " " + "•" * max(len(mobile) - 7, 0) + mobile[-4:]


@router.get("/portal/verify")
def code_form(request: Request, services: ServicesDep, templates: TemplatesDep) -> Response:
    portal = services.portal
    pre_session = request.cookies.get(_cookie_name(templates, LOGIN_COOKIE))
    mobile = portal.sessions.pending_login(pre_session)
    if pre_session is None or mobile is None:
        return _redirect("/portal/login")
    return _verify_page(request, templates, portal, pre_session, mobile)


@router.post("/portal/verify")
def check_code(
    request: Request,
    services: ServicesDep,
    templates: TemplatesDep,
    code: ShortField = "",
    csrf_token: ShortField = "",
) -> Response:
    portal = services.portal
    pre_session = request.cookies.get(_cookie_name(templates, LOGIN_COOKIE))
    portal.sessions.check_pre_session_csrf(pre_session, csrf_token)
    assert pre_session is not None
    mobile = portal.sessions.pending_login(pre_session)
    if mobile is None:
        return _redirect("/portal/login")
    _ = templates.gettext(request)
    try:
        portal.otp.verify(
            mobile, code, client_ip=client_address(request), device=_device(request, templates)
        )
    except InvalidInput as error:
        errors = _field_messages(error, _)
        return _verify_page(
            request, templates, portal, pre_session, mobile, errors=errors, status_code=400
        )
    except AuthenticationFailed:
        errors = {
            "code": _(
                "That code is not right, or it has expired. Check the SMS, or ask for a new code."
            )
        }
        return _verify_page(
            request, templates, portal, pre_session, mobile, errors=errors, status_code=401
        )
    session = portal.sessions.start(
        mobile, replacing=request.cookies.get(_cookie_name(templates, SESSION_COOKIE))
    )
    portal.sessions.forget_login(pre_session)
    portal.otp.recognise(mobile, _device(request, templates))
    response = _redirect("/portal/certificates")
    _set_cookie(response, templates, SESSION_COOKIE, session.id)
    _clear_cookie(response, templates, LOGIN_COOKIE)
    return response


@router.post("/portal/resend")
def resend_code(
    request: Request, services: ServicesDep, templates: TemplatesDep, csrf_token: ShortField = ""
) -> Response:
    portal = services.portal
    pre_session = request.cookies.get(_cookie_name(templates, LOGIN_COOKIE))
    portal.sessions.check_pre_session_csrf(pre_session, csrf_token)
    mobile = portal.sessions.pending_login(pre_session)
    if mobile is None:
        return _redirect("/portal/login")
    portal.otp.request_code(
        mobile,
        client_ip=client_address(request),
        language=templates.language(request),
        device=_device(request, templates),
    )
    return _redirect("/portal/verify?resent=1")


# --- after login -------------------------------------------------------------------------


def require_session(
    request: Request, portal: CitizenPortal, templates: Templates
) -> PortalSession | Response:
    session = _session(request, portal, templates)
    return session if session is not None else _redirect("/portal/login")


@router.get("/portal/certificates")
def certificates(request: Request, services: ServicesDep, templates: TemplatesDep) -> Response:
    portal = services.portal
    session = require_session(request, portal, templates)
    if isinstance(session, Response):
        return session
    _ = templates.gettext(request)
    beneficiaries = portal.certificates.beneficiaries(session.mobile, session.confirmed)
    kinds = {c.entity_type for b in beneficiaries for c in b.certificates}
    # Each certificate lists the formats of its own kind only: the others cannot render it.
    formats = {kind: download_menu(portal.certificates.formats(kind), _) for kind in kinds}
    return templates.render(
        request,
        "certificates.html",
        {
            "beneficiaries": beneficiaries,
            "formats": formats,
            "csrf_token": session.csrf_token,
            "masked_mobile": _masked(session.mobile),
        },
    )


def _certificate_page(
    request: Request, services: ServicesDep, templates: Templates, certificate_id: str, page: str
) -> Response:
    portal = services.portal
    session = require_session(request, portal, templates)
    if isinstance(session, Response):
        return session
    certificate = portal.certificates.certificate(session.mobile, certificate_id, session.confirmed)
    if certificate.needs_birth_year:
        return _redirect(f"/portal/certificates/{certificate_id}/confirm")
    context: dict[str, Any] = {"certificate": certificate, "csrf_token": session.csrf_token}
    return templates.render(request, page, context)


@router.get("/portal/certificates/{certificate_id}/print")
def print_view(
    certificate_id: str, request: Request, services: ServicesDep, templates: TemplatesDep
) -> Response:
    return _certificate_page(request, services, templates, certificate_id, "print.html")


@router.get("/portal/certificates/{certificate_id}/qr")
def qr_only(
    certificate_id: str, request: Request, services: ServicesDep, templates: TemplatesDep
) -> Response:
    return _certificate_page(request, services, templates, certificate_id, "qr_only.html")


@router.get("/portal/certificates/{certificate_id}/download/{format_name}")
def download(
    certificate_id: str,
    format_name: str,
    request: Request,
    services: ServicesDep,
    templates: TemplatesDep,
    inline: bool = False,
) -> Response:
    portal = services.portal
    session = require_session(request, portal, templates)
    if isinstance(session, Response):
        return session
    certificate = portal.certificates.certificate(session.mobile, certificate_id, session.confirmed)
    if certificate.needs_birth_year:
        return _redirect(f"/portal/certificates/{certificate_id}/confirm")
    try:
        artifact = portal.certificates.download(
            session.mobile, certificate_id, format_name, session.confirmed
        )
    except InvalidInput as exc:
        if format_name in _EU_DCC_FORMATS and any(e.location == "name" for e in exc.errors):
            # No Latin-script name to derive the passport names from: ask for them.
            pdf = "1" if format_name == EuDccPdfFormat.name else "0"
            return _redirect(f"/portal/certificates/{certificate_id}/eu-dcc?pdf={pdf}")
        # The format cannot express this certificate: say so, and let the citizen pick
        # another format.
        _ = templates.gettext(request)
        return templates.render(
            request,
            "error.html",
            {
                "heading": _("This format is not available"),
                "message": _(
                    "This certificate cannot be given in this format. Please choose another format."
                ),
                "back_url": "/portal/certificates",
            },
            status_code=422,
        )
    filename = download_filename(
        certificate.view.beneficiary.name,
        format_name,
        certificate_id,
        artifact.filename.rpartition(".")[2],
    )
    return private_document(
        artifact, disposition="inline" if inline else "attachment", filename=filename
    )


def _confirm_page(
    request: Request,
    templates: Templates,
    session: PortalSession,
    certificate_id: str,
    name: str,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return templates.render(
        request,
        "confirm.html",
        {
            "certificate_id": certificate_id,
            "name": name,
            "csrf_token": session.csrf_token,
            "errors": errors or {},
        },
        status_code=status_code,
    )


def _eu_dcc_page(
    request: Request,
    templates: Templates,
    session: PortalSession,
    certificate_id: str,
    *,
    pdf: bool,
    surname: str = "",
    given_names: str = "",
    errors: dict[str, str] | None = None,
) -> Response:
    return templates.render(
        request,
        "eu_dcc.html",
        {
            "certificate_id": certificate_id,
            "csrf_token": session.csrf_token,
            "pdf": pdf,
            "surname": surname,
            "given_names": given_names,
            "errors": errors or {},
        },
        status_code=400 if errors else 200,
    )


@router.get("/portal/certificates/{certificate_id}/eu-dcc")
def eu_dcc_form(
    certificate_id: str,
    request: Request,
    services: ServicesDep,
    templates: TemplatesDep,
    pdf: bool = True,
) -> Response:
    """The names as the passport writes them, for an EU certificate (DIVOC asked too)."""
    portal = services.portal
    session = require_session(request, portal, templates)
    if isinstance(session, Response):
        return session
    portal.certificates.certificate(session.mobile, certificate_id, session.confirmed)
    return _eu_dcc_page(request, templates, session, certificate_id, pdf=pdf)


@router.post("/portal/certificates/{certificate_id}/eu-dcc")
def eu_dcc_download(
    certificate_id: str,
    request: Request,
    services: ServicesDep,
    templates: TemplatesDep,
    surname: Annotated[str, Form(max_length=80)] = "",
    given_names: Annotated[str, Form(max_length=80)] = "",
    pdf: Annotated[bool, Form()] = True,
    csrf_token: ShortField = "",
) -> Response:
    portal = services.portal
    session = require_session(request, portal, templates)
    if isinstance(session, Response):
        return session
    portal.sessions.check_csrf(session, csrf_token)
    _ = templates.gettext(request)
    if not surname.strip():
        errors = {"surname": _("Enter the surname as it is written in your passport.")}
        return _eu_dcc_page(
            request,
            templates,
            session,
            certificate_id,
            pdf=pdf,
            surname=surname,
            given_names=given_names,
            errors=errors,
        )
    try:
        artifact = portal.certificates.eu_dcc(
            session.mobile, certificate_id, surname, given_names, session.confirmed, pdf=pdf
        )
    except InvalidInput as error:
        latin = _("Use the Latin letters (A to Z) as written in your passport.")
        fields = {"fn": "surname", "fnt": "surname", "gn": "given_names", "gnt": "given_names"}
        errors = {fields.get(e.location, "surname"): latin for e in error.errors}
        return _eu_dcc_page(
            request,
            templates,
            session,
            certificate_id,
            pdf=pdf,
            surname=surname,
            given_names=given_names,
            errors=errors,
        )
    fmt = EuDccPdfFormat.name if pdf else EuDccQrFormat.name
    extension = artifact.filename.rpartition(".")[2]
    filename = download_filename(f"{given_names} {surname}", fmt, certificate_id, extension)
    return private_document(artifact, filename=filename)


@router.get("/portal/certificates/{certificate_id}/confirm")
def confirm_form(
    certificate_id: str, request: Request, services: ServicesDep, templates: TemplatesDep
) -> Response:
    portal = services.portal
    session = require_session(request, portal, templates)
    if isinstance(session, Response):
        return session
    certificate = portal.certificates.certificate(session.mobile, certificate_id, session.confirmed)
    if not certificate.needs_birth_year:
        return _redirect("/portal/certificates")
    return _confirm_page(
        request, templates, session, certificate_id, certificate.view.beneficiary.name
    )


@router.post("/portal/certificates/{certificate_id}/confirm")
def confirm_birth_year(
    certificate_id: str,
    request: Request,
    services: ServicesDep,
    templates: TemplatesDep,
    year: ShortField = "",
    csrf_token: ShortField = "",
) -> Response:
    portal = services.portal
    session = require_session(request, portal, templates)
    if isinstance(session, Response):
        return session
    portal.sessions.check_csrf(session, csrf_token)
    try:
        code = portal.certificates.confirm_birth_year(
            session.mobile, certificate_id, year, session_key=session.id
        )
    except InvalidInput as error:
        certificate = portal.certificates.certificate(
            session.mobile, certificate_id, session.confirmed
        )
        return _confirm_page(
            request,
            templates,
            session,
            certificate_id,
            certificate.view.beneficiary.name,
            errors=_field_messages(error, templates.gettext(request)),
            status_code=400,
        )
    portal.sessions.confirm_beneficiary(session, code)
    return _redirect("/portal/certificates")


@router.post("/portal/logout")
def logout(
    request: Request, services: ServicesDep, templates: TemplatesDep, csrf_token: ShortField = ""
) -> Response:
    portal = services.portal
    session = _session(request, portal, templates)
    if session is not None:
        portal.sessions.check_csrf(session, csrf_token)
        portal.sessions.end(session.id)
    response = _redirect("/?logged_out=1")
    _clear_cookie(response, templates, SESSION_COOKIE)
    return response
