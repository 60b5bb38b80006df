"""The facility print desk (pages): staff sign in, search by phone number and date of birth,
and print one certificate from the browser.

Print views: ``/facility/certificates/{code}`` is the vaccination certificate (the address
the desk has always used) and ``/facility/certificates/{code}/test`` the lab-test one; each
has its PDF under ``…/pdf``.

Thin: the rules live in ``services/facility/desk.py``, ``services/facility/staff_auth.py`` and
``services/facility/staff_sessions.py``. Every form posts with a CSRF token; printing is the
browser's own Print command on a page with a print stylesheet and a vector QR code.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from certdist.domain.models import TEST, VACCINATION
from certdist.errors import AuthenticationFailed, InvalidInput, NotFound
from certdist.services.facility import FacilityDesk, KindNotHeld, StaffSession
from certdist.web.cookies import clear_cookie, read_cookie, set_cookie
from certdist.web.deps import ServicesDep, client_address
from certdist.web.documents import private_document
from certdist.web.templating import PageRoute, Templates, TemplatesDep, safe_next

router = APIRouter(route_class=PageRoute, include_in_schema=False)

SESSION_COOKIE = "certdist_staff"
PRE_SESSION_COOKIE = "certdist_staff_pre"  # before sign-in: CSRF and the OIDC browser binding
ShortField = Annotated[str, Form(max_length=128)]
#: Password attempts per client address per 15 minutes on the local (development) sign-in.
LOCAL_SIGN_INS_PER_WINDOW = 10
#: What follows ``/facility/certificates/{code}`` in the address of each kind's print view.
KIND_PATHS = {VACCINATION: "", TEST: "/test"}


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _session(request: Request, desk: FacilityDesk, templates: Templates) -> StaffSession | None:
    value = read_cookie(request, SESSION_COOKIE, secure=templates.secure_cookies)
    return desk.sessions.get(value)


def _pre_session(request: Request, templates: Templates) -> tuple[str, bool]:
    """This browser's pre-sign-in value, and whether it is new (a cookie must be set)."""
    value = read_cookie(request, PRE_SESSION_COOKIE, secure=templates.secure_cookies)
    if value and 20 <= len(value) <= 128:
        return value, False
    return secrets.token_urlsafe(32), True


def _login_page(
    request: Request,
    services: ServicesDep,
    templates: Templates,
    *,
    errors: dict[str, str] | None = None,
    username: str = "",
    status_code: int = 200,
) -> Response:
    pre, new = _pre_session(request, templates)
    desk = services.facility.desk
    response = templates.render(
        request,
        "facility_login.html",
        {
            "errors": errors or {},
            "username": username,
            "csrf_token": services.hasher.digest("staff-pre-csrf", pre),
            "oidc": desk.oidc is not None,
            "local": desk.local is not None,
            "next": safe_next(request.query_params.get("next")),
        },
        status_code=status_code,
    )
    if new:
        set_cookie(response, PRE_SESSION_COOKIE, pre, secure=templates.secure_cookies)
    return response


def _signed_in(
    templates: Templates, desk: FacilityDesk, request: Request, principal: Any, target: str
) -> Response:
    old = read_cookie(request, SESSION_COOKIE, secure=templates.secure_cookies)
    session = desk.sessions.start(principal, replacing=old)
    response = _redirect(safe_next(target) if target.startswith("/facility") else "/facility")
    set_cookie(response, SESSION_COOKIE, session.id, secure=templates.secure_cookies)
    clear_cookie(response, PRE_SESSION_COOKIE, secure=templates.secure_cookies)
    return response


def _search_page(
    request: Request,
    templates: Templates,
    session: StaffSession,
    *,
    results: list[Any] | None = None,
    errors: dict[str, str] | None = None,
    mobile: str = "",
    dob: str = "",
    status_code: int = 200,
) -> Response:
    return templates.render(
        request,
        "facility_search.html",
        {
            "staff": session.principal.username,
            "csrf_token": session.csrf_token,
            "results": results,
            "errors": errors or {},
            "mobile": mobile,
            "dob": dob,
            "kind_paths": KIND_PATHS,
            "test_kind": TEST,
        },
        status_code=status_code,
    )


@router.get("/facility")
def facility_home(request: Request, services: ServicesDep, templates: TemplatesDep) -> Response:
    session = _session(request, services.facility.desk, templates)
    if session is None:
        return _login_page(request, services, templates)
    return _search_page(request, templates, session)


@router.post("/facility/login/local")
def local_sign_in(
    request: Request,
    services: ServicesDep,
    templates: TemplatesDep,
    username: ShortField = "",
    password: ShortField = "",
    csrf_token: ShortField = "",
    next: ShortField = "/facility",
) -> Response:
    desk = services.facility.desk
    if desk.local is None:
        raise NotFound("local staff sign-in is not enabled")
    pre = read_cookie(request, PRE_SESSION_COOKIE, secure=templates.secure_cookies)
    if not pre or not services.hasher.matches("staff-pre-csrf", pre, csrf_token):
        return _login_page(request, services, templates, status_code=403, username=username)
    client = client_address(request)
    services.infrastructure.rate_limiter.hit(
        "staff-password",
        services.hasher.digest("ip", client),
        limit=LOCAL_SIGN_INS_PER_WINDOW,
        window_seconds=900,
    )
    _ = templates.gettext(request)
    try:
        principal = desk.local.sign_in(username, password)
    except AuthenticationFailed:
        errors = {"username": _("The user name or password is not right.")}
        return _login_page(
            request, services, templates, errors=errors, username=username, status_code=401
        )
    return _signed_in(templates, desk, request, principal, next)


@router.get("/facility/login/oidc")
def oidc_sign_in(
    request: Request, services: ServicesDep, templates: TemplatesDep, next: str = "/facility"
) -> Response:
    desk = services.facility.desk
    if desk.oidc is None:
        raise NotFound("OpenID Connect sign-in is not configured")
    pre, _new = _pre_session(request, templates)
    response = _redirect(desk.oidc.begin(pre, safe_next(next)))
    set_cookie(response, PRE_SESSION_COOKIE, pre, secure=templates.secure_cookies)
    return response


@router.get("/facility/oidc/callback")
def oidc_callback(
    request: Request,
    services: ServicesDep,
    templates: TemplatesDep,
    state: str = "",
    code: str = "",
    error: str = "",
) -> Response:
    desk = services.facility.desk
    if desk.oidc is None:
        raise NotFound("OpenID Connect sign-in is not configured")
    if error:
        raise AuthenticationFailed("the sign-in provider did not sign you in")
    pre = read_cookie(request, PRE_SESSION_COOKIE, secure=templates.secure_cookies) or ""
    principal, target = desk.oidc.complete(state=state, code=code, browser=pre)
    return _signed_in(templates, desk, request, principal, target)


@router.post("/facility/search")
def search(
    request: Request,
    services: ServicesDep,
    templates: TemplatesDep,
    mobile: Annotated[str, Form(max_length=20)] = "",
    dob: Annotated[str, Form(max_length=10)] = "",
    csrf_token: ShortField = "",
) -> Response:
    desk = services.facility.desk
    session = _session(request, desk, templates)
    if session is None:
        return _redirect("/facility")
    desk.sessions.check_csrf(session, csrf_token)
    _ = templates.gettext(request)
    errors: dict[str, str] = {}
    try:
        birth = date.fromisoformat(dob)
    except ValueError:
        errors["dob"] = _("Enter the date of birth, for example 1980-03-14.")
    if not mobile.strip():
        errors["mobile"] = _("Enter the mobile number.")
    if errors:
        return _search_page(
            request, templates, session, errors=errors, mobile=mobile, dob=dob, status_code=400
        )
    try:
        results = desk.search(session, mobile, birth)
    except InvalidInput:
        errors["mobile"] = _("Enter a valid mobile number.")
        return _search_page(
            request, templates, session, errors=errors, mobile=mobile, dob=dob, status_code=400
        )
    return _search_page(request, templates, session, results=results, mobile=mobile, dob=dob)


@router.get("/facility/certificates/{pre_enrollment_code}")
def print_view(
    request: Request, pre_enrollment_code: str, services: ServicesDep, templates: TemplatesDep
) -> Response:
    return _print_view(request, services, templates, pre_enrollment_code, VACCINATION)


@router.get("/facility/certificates/{pre_enrollment_code}/pdf")
def print_pdf(
    request: Request, pre_enrollment_code: str, services: ServicesDep, templates: TemplatesDep
) -> Response:
    return _print_pdf(request, services, templates, pre_enrollment_code, VACCINATION)


@router.get("/facility/certificates/{pre_enrollment_code}/test")
def test_print_view(
    request: Request, pre_enrollment_code: str, services: ServicesDep, templates: TemplatesDep
) -> Response:
    return _print_view(request, services, templates, pre_enrollment_code, TEST)


@router.get("/facility/certificates/{pre_enrollment_code}/test/pdf")
def test_print_pdf(
    request: Request, pre_enrollment_code: str, services: ServicesDep, templates: TemplatesDep
) -> Response:
    return _print_pdf(request, services, templates, pre_enrollment_code, TEST)


def _print_view(
    request: Request, services: ServicesDep, templates: Templates, code: str, kind: str
) -> Response:
    desk = services.facility.desk
    session = _session(request, desk, templates)
    if session is None:
        return _redirect("/facility")
    try:
        certificate = desk.certificate(session, code, kind)
    except KindNotHeld as missing:
        return _kind_not_held(request, templates, session, missing)
    return templates.render(
        request,
        "facility_print.html",
        {
            "certificate": certificate,
            "pdf_url": _certificate_path(code, kind) + "/pdf",
            "staff": session.principal.username,
            "csrf_token": session.csrf_token,
        },
    )


def _print_pdf(
    request: Request, services: ServicesDep, templates: Templates, code: str, kind: str
) -> Response:
    desk = services.facility.desk
    session = _session(request, desk, templates)
    if session is None:
        return _redirect("/facility")
    try:
        artifact = desk.pdf(session, code, kind)
    except KindNotHeld as missing:
        return _kind_not_held(request, templates, session, missing)
    return private_document(artifact, disposition="inline")


def _certificate_path(code: str, kind: str) -> str:
    return f"/facility/certificates/{quote(code, safe='')}{KIND_PATHS[kind]}"


def _kind_not_held(
    request: Request, templates: Templates, session: StaffSession, missing: KindNotHeld
) -> Response:
    # A found beneficiary without this kind (an old link, or revoked since the search):
    # say which certificate is missing instead of the generic "page not found".
    return templates.render(
        request,
        "facility_not_held.html",
        {
            "is_test": missing.entity_type == TEST,
            "staff": session.principal.username,
            "csrf_token": session.csrf_token,
        },
        status_code=404,
    )


@router.post("/facility/logout")
def logout(
    request: Request, services: ServicesDep, templates: TemplatesDep, csrf_token: ShortField = ""
) -> Response:
    desk = services.facility.desk
    session = _session(request, desk, templates)
    if session is not None:
        desk.sessions.check_csrf(session, csrf_token)
        desk.sessions.end(session.id)
    response = _redirect("/facility")
    clear_cookie(response, SESSION_COOKIE, secure=templates.secure_cookies)
    return response
