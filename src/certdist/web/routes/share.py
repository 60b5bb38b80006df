"""Share links and e-mail: the visitor's pages under ``/s/{token}``, and the owner's pages in
the portal (make a link, e-mail the certificate, see and revoke links with their access log).

Visitor pages carry ``Referrer-Policy: no-referrer`` (the token is in the URL and must not
leak to another site), ``Cache-Control: no-store`` and ``X-Robots-Tag: noindex``.

The passcode form is anonymous, but still protected against cross-site submission: the page
sets a random browser cookie (``SameSite=Strict``, so another site's form post does not carry
it) and the form carries a keyed hash of it. Without that, a page elsewhere could submit a
passcode in a victim's browser and plant the unlock for a link of the attacker's choosing
(the "login CSRF" pattern). A correct passcode sets an unlock cookie bound to that link and
that browser, valid for 30 minutes.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from certdist.domain.sharing import ShareKind, ShareLink
from certdist.errors import AuthenticationFailed, FieldError, InvalidInput, NotFound
from certdist.formats.qr_image import qr_png
from certdist.services.portal import PortalCertificate, PortalSession
from certdist.services.sharing import (
    LABEL_MAX,
    PASSCODE_FAILURE_CAP,
    PASSCODE_MAX,
    PASSCODE_MIN,
    UNLOCK_LIFETIME,
    Expiry,
    ShareMode,
)
from certdist.web.deps import ServicesDep
from certdist.web.documents import private_document
from certdist.web.routes.portal import require_session
from certdist.web.templating import (
    CONTENT_SECURITY_POLICY,
    PageRoute,
    Templates,
    TemplatesDep,
)

VISITOR_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
}


class SharePageRoute(PageRoute):
    # A 404 for an expired link is still a page whose URL holds a token.
    error_headers = VISITOR_HEADERS


router = APIRouter(route_class=SharePageRoute, include_in_schema=False)
BROWSER_COOKIE = "certdist_share_browser"
UNLOCK_COOKIE = "certdist_share_unlock"
_MAX_TOKEN = 100  # ours are 43 characters; anything much longer is not worth a lookup
ShortField = Annotated[str, Form(max_length=64)]
_Choice = TypeVar("_Choice", ShareKind, Expiry, ShareMode)


# --- the visitor -------------------------------------------------------------------------


def _checked(token: str) -> str:
    if len(token) > _MAX_TOKEN:
        raise NotFound("no such share link")
    return token


def _link(services: ServicesDep, token: str) -> ShareLink:
    return services.sharing.links.resolve(_checked(token))


def _unlocked(request: Request, services: ServicesDep, link: ShareLink) -> bool:
    return services.sharing.links.grant_valid(
        link, request.cookies.get(BROWSER_COOKIE, ""), request.cookies.get(UNLOCK_COOKIE)
    )


def _passcode_page(
    request: Request,
    services: ServicesDep,
    templates: Templates,
    token: str,
    *,
    wrong: bool = False,
    status_code: int = 200,
) -> Response:
    browser = request.cookies.get(BROWSER_COOKIE) or secrets.token_urlsafe(24)
    response = templates.render(
        request,
        "share_passcode.html",
        {
            "token": token,
            "form_token": services.sharing.links.form_token(browser),
            "wrong": wrong,
            "cap": PASSCODE_FAILURE_CAP,
        },
        status_code=status_code,
        headers=VISITOR_HEADERS,
    )
    response.set_cookie(
        BROWSER_COOKIE,
        browser,
        path="/s/",
        httponly=True,
        secure=templates.secure_cookies,
        samesite="strict",
    )
    return response


@router.get("/s/{token}")
def open_link(
    token: str, request: Request, services: ServicesDep, templates: TemplatesDep
) -> Response:
    link = _link(services, token)
    if not _unlocked(request, services, link):
        return _passcode_page(request, services, templates, token)
    view = services.sharing.links.view(link)
    return templates.render(
        request,
        "share_view.html",
        {"view": view, "token": token, "full": link.kind is ShareKind.FULL},
        headers=VISITOR_HEADERS,
    )


@router.post("/s/{token}")
def enter_passcode(
    token: str,
    request: Request,
    services: ServicesDep,
    templates: TemplatesDep,
    passcode: Annotated[str, Form(max_length=PASSCODE_MAX)] = "",
    form_token: ShortField = "",
) -> Response:
    link = _link(services, token)
    browser = request.cookies.get(BROWSER_COOKIE, "")
    expected = services.sharing.links.form_token(browser) if browser else ""
    # Bytes: compare_digest refuses non-ASCII str, and the form field may hold any text.
    if not expected or not hmac.compare_digest(form_token.encode(), expected.encode()):
        raise InvalidInput("the form has expired; open the link again")
    try:
        services.sharing.links.try_passcode(token, passcode)
    except AuthenticationFailed:
        return _passcode_page(request, services, templates, token, wrong=True, status_code=401)
    response = RedirectResponse(f"/s/{token}", status_code=303, headers=VISITOR_HEADERS)
    response.set_cookie(
        UNLOCK_COOKIE,
        services.sharing.links.unlock_grant(link, browser),
        max_age=int(UNLOCK_LIFETIME.total_seconds()),
        path="/s/",
        httponly=True,
        secure=templates.secure_cookies,
        samesite="strict",
    )
    return response


def _document(request: Request, services: ServicesDep, token: str, format_name: str) -> Response:
    link = _link(services, token)
    if not _unlocked(request, services, link):
        raise AuthenticationFailed("enter the passcode first")
    artifact = services.sharing.links.document(link, format_name)
    # Server-chosen names: the artifact's own would carry the certificate id.
    if format_name == "pdf":
        return private_document(artifact, filename="certificate.pdf", headers=VISITOR_HEADERS)
    return private_document(
        artifact, disposition="inline", filename="certificate-qr.png", headers=VISITOR_HEADERS
    )


@router.get("/s/{token}/certificate.pdf")
def shared_pdf(token: str, request: Request, services: ServicesDep) -> Response:
    return _document(request, services, token, "pdf")


@router.get("/s/{token}/qr.png")
def shared_qr(token: str, request: Request, services: ServicesDep) -> Response:
    return _document(request, services, token, "qr")


@router.get("/s/{token}/link.png")
def link_as_qr(token: str, services: ServicesDep) -> Response:
    """The link itself as a QR code, to pass it on from phone to phone."""
    png = services.sharing.links.link_qr(_checked(token))
    return Response(png, media_type="image/png", headers=VISITOR_HEADERS)


# --- the owner, in the portal ------------------------------------------------------------


@dataclass(frozen=True)
class ShareMessage:
    """What the owner sends: the same title, text and link for the Web Share API (in the
    page's data- attributes, so the script holds no text of its own) and for the ``sms:`` and
    ``mailto:`` links that work without JavaScript."""

    title: str
    text: str
    url: str

    @property
    def sms_href(self) -> str:
        # "sms:?&body=" is the form both Android and iOS open with the body filled in.
        return "sms:?&body=" + _encoded(f"{self.text} {self.url}")

    @property
    def mailto_href(self) -> str:
        # RFC 6068: every reserved character percent-encoded (a space is %20, never "+"),
        # line breaks as CRLF.
        body = f"{self.text}\r\n\r\n{self.url}\r\n"
        return f"mailto:?subject={_encoded(self.title)}&body={_encoded(body)}"


def _encoded(text: str) -> str:
    return quote(text, safe="")


#: What both link forms offer: the expiry choices and the passcode's length.
_LINK_FORM = {
    "expiries": list(Expiry),
    "default_expiry": Expiry.WEEK,
    "passcode_min": PASSCODE_MIN,
    "passcode_max": PASSCODE_MAX,
}


def owned_certificate(
    request: Request,
    services: ServicesDep,
    templates: Templates,
    certificate_id: str,
    csrf_token: str | None = None,
) -> tuple[PortalSession, PortalCertificate] | Response:
    """The logged-in owner's session and certificate for the portal's sharing pages, with
    the form's session token checked when one is given (a POST), or the response that takes
    the browser elsewhere: the login, or the year-of-birth question first."""
    session = require_session(request, services.portal, templates)
    if isinstance(session, Response):
        return session
    if csrf_token is not None:
        services.portal.sessions.check_csrf(session, csrf_token)
    certificate = services.portal.certificates.certificate(
        session.mobile, certificate_id, session.confirmed
    )
    if certificate.needs_birth_year:
        return RedirectResponse(f"/portal/certificates/{certificate_id}/confirm", 303)
    return session, certificate


def _share_page(
    request: Request,
    services: ServicesDep,
    templates: Templates,
    certificate_id: str,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {"sent": request.query_params.get("sent") == "1", "errors": errors or {}}
    return owner_page(
        request,
        services,
        templates,
        certificate_id,
        "share_create.html",
        {**_LINK_FORM, **context},
        status_code,
    )


def owner_page(
    request: Request,
    services: ServicesDep,
    templates: Templates,
    certificate_id: str,
    template: str,
    context: dict[str, object] | None = None,
    status_code: int = 200,
) -> Response:
    """A page about one of the signed-in owner's certificates (``certificate`` and the
    session's ``csrf_token`` in its context), or where the browser must go first."""
    owned = owned_certificate(request, services, templates, certificate_id)
    if isinstance(owned, Response):
        return owned
    session, certificate = owned
    return templates.render(
        request,
        template,
        {"certificate": certificate, "csrf_token": session.csrf_token, **(context or {})},
        status_code=status_code,
    )


@router.get("/portal/certificates/{certificate_id}/share")
def share_form(
    certificate_id: str, request: Request, services: ServicesDep, templates: TemplatesDep
) -> Response:
    return _share_page(request, services, templates, certificate_id)


@router.post("/portal/certificates/{certificate_id}/share")
def create_link(
    certificate_id: str,
    request: Request,
    services: ServicesDep,
    templates: TemplatesDep,
    kind: ShortField = ShareKind.FULL.value,
    expiry: ShortField = Expiry.WEEK.value,
    passcode: Annotated[str, Form(max_length=PASSCODE_MAX + 1)] = "",
    csrf_token: ShortField = "",
) -> Response:
    owned = owned_certificate(request, services, templates, certificate_id, csrf_token)
    if isinstance(owned, Response):
        return owned
    session, certificate = owned
    _ = templates.gettext(request)
    try:
        created = services.sharing.links.create(
            session.mobile,
            certificate_id,
            kind=_choice(ShareKind, kind, "kind"),
            expiry=_choice(Expiry, expiry, "expiry"),
            passcode=passcode or None,
        )
    except InvalidInput as error:
        texts = {
            **_choice_texts(_),
            "passcode": _("A passcode must be %(min)s to %(max)s characters long.")
            % {"min": PASSCODE_MIN, "max": PASSCODE_MAX},
        }
        errors = {e.location: texts.get(e.location, e.message) for e in error.errors}
        return _share_page(
            request, services, templates, certificate_id, errors=errors, status_code=400
        )
    qr = base64.b64encode(services.sharing.links.link_qr(created.token)).decode()
    message = ShareMessage(
        title=_("My vaccination certificate"),
        text=_("Here is the link to my vaccination certificate:"),
        url=created.url,
    )
    return templates.render(
        request,
        "share_created.html",
        {
            "certificate": certificate,
            "created": created,
            "qr_data_uri": f"data:image/png;base64,{qr}",
            "message": message,
            "csrf_token": session.csrf_token,
        },
        headers={"Referrer-Policy": "no-referrer"},
    )


@router.post("/portal/certificates/{certificate_id}/email")
def email_certificate(
    certificate_id: str,
    request: Request,
    services: ServicesDep,
    templates: TemplatesDep,
    to: Annotated[str, Form(max_length=254)] = "",
    mode: ShortField = ShareMode.ATTACHMENT.value,
    csrf_token: ShortField = "",
) -> Response:
    owned = owned_certificate(request, services, templates, certificate_id, csrf_token)
    if isinstance(owned, Response):
        return owned
    session, _ = owned
    try:
        services.sharing.mail.send(
            session.mobile,
            certificate_id,
            to,
            mode=_choice(ShareMode, mode, "mode"),
            language=templates.language(request),
        )
    except InvalidInput as error:
        _ = templates.gettext(request)
        texts = {
            **_choice_texts(_),
            "to": _("Enter an e-mail address, for example name@example.org."),
        }
        errors = {e.location: texts.get(e.location, e.message) for e in error.errors}
        return _share_page(
            request, services, templates, certificate_id, errors=errors, status_code=400
        )
    return RedirectResponse(f"/portal/certificates/{certificate_id}/share?sent=1", 303)


@router.get("/portal/shares")
def list_links(request: Request, services: ServicesDep, templates: TemplatesDep) -> Response:
    session = require_session(request, services.portal, templates)
    if isinstance(session, Response):
        return session
    return templates.render(
        request,
        "share_links.html",
        {
            "links": services.sharing.links.links_of(session.mobile),
            "csrf_token": session.csrf_token,
        },
    )


@router.post("/portal/shares/{link_id}/revoke")
def revoke_link(
    link_id: str,
    request: Request,
    services: ServicesDep,
    templates: TemplatesDep,
    csrf_token: ShortField = "",
) -> Response:
    session = require_session(request, services.portal, templates)
    if isinstance(session, Response):
        return session
    services.portal.sessions.check_csrf(session, csrf_token)
    services.sharing.links.revoke(session.mobile, link_id)
    return RedirectResponse("/portal/shares", 303)


def _choice_texts(_: Callable[[str], str]) -> dict[str, str]:
    """What the page says when a choice it did not offer comes back (an old or altered
    form): the service's own message names the values in English."""
    return {
        "kind": _("Choose what to share."),
        "expiry": _("Choose when the link expires."),
        "mode": _("Choose how to send the certificate."),
    }


def _choice(enum: type[_Choice], value: str, field: str) -> _Choice:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise InvalidInput(f"invalid {field}", [FieldError(field, f"one of {allowed}")]) from None


# --- SMART Health Links: the viewer, and the owner's page that makes one ------------------

#: The viewer fetches the link's manifest and files, and the card issuer's keys, from
#: whichever server the link and the card name (any origin, https; this one over http in
#: development): the only widening of the pages' policy, and on this page only.
VIEWER_POLICY = CONTENT_SECURITY_POLICY + "; connect-src 'self' https:"
VIEWER_HEADERS = {**VISITOR_HEADERS, "Content-Security-Policy": VIEWER_POLICY}
LabelField = Annotated[str, Form(max_length=LABEL_MAX + 1)]


@router.get("/shl")
def health_link_viewer(request: Request, templates: TemplatesDep) -> Response:
    """The SMART Health Link viewer: ``/shl#shlink:/…``. The page is the same for every
    link; the link, with its key, stays in the fragment and is read by static/shl-viewer.js."""
    return templates.render(request, "shl_viewer.html", headers=VIEWER_HEADERS)


def _health_link_page(
    request: Request,
    services: ServicesDep,
    templates: Templates,
    certificate_id: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {"label_max": LABEL_MAX, "errors": errors or {}, "values": values or {}}
    return owner_page(
        request,
        services,
        templates,
        certificate_id,
        "shl_create.html",
        {**_LINK_FORM, **context},
        status_code,
    )


@router.get("/portal/certificates/{certificate_id}/shl")
def health_link_form(
    certificate_id: str, request: Request, services: ServicesDep, templates: TemplatesDep
) -> Response:
    return _health_link_page(request, services, templates, certificate_id)


@router.post("/portal/certificates/{certificate_id}/shl")
def create_health_link(
    certificate_id: str,
    request: Request,
    services: ServicesDep,
    templates: TemplatesDep,
    expiry: ShortField = Expiry.WEEK.value,
    passcode: Annotated[str, Form(max_length=PASSCODE_MAX + 1)] = "",
    label: LabelField = "",
    csrf_token: ShortField = "",
) -> Response:
    owned = owned_certificate(request, services, templates, certificate_id, csrf_token)
    if isinstance(owned, Response):
        return owned
    session, certificate = owned
    _ = templates.gettext(request)
    health_links = services.sharing.health_links
    label = " ".join(label.split())
    try:
        created = health_links.create(
            session.mobile,
            certificate_id,
            flags="P" if passcode else "",
            label=label or None,
            passcode=passcode or None,
            expiry=_choice(Expiry, expiry, "expiry"),
        )
    except InvalidInput as error:
        texts = {
            **_choice_texts(_),
            "passcode": _("A passcode must be %(min)s to %(max)s characters long.")
            % {"min": PASSCODE_MIN, "max": PASSCODE_MAX},
            "label": _("A label can be at most %(max)s characters long.") % {"max": LABEL_MAX},
        }
        errors = {e.location: texts.get(e.location, e.message) for e in error.errors}
        return _health_link_page(
            request,
            services,
            templates,
            certificate_id,
            errors=errors,
            values={"label": label, "expiry": expiry},
            status_code=400,
        )
    viewer_url = health_links.viewer_url(created.uri)
    # The QR code holds the viewer address: a phone camera opens it in the browser, and an
    # app that knows SMART Health Links finds the shlink:/ in it (the specification's form).
    qr = base64.b64encode(qr_png(viewer_url.encode(), ec="M", module_px=4)).decode()
    return templates.render(
        request,
        "shl_created.html",
        {
            "certificate": certificate,
            "created": created,
            "viewer_url": viewer_url,
            "qr_data_uri": f"data:image/png;base64,{qr}",
            "csrf_token": session.csrf_token,
        },
        headers={"Referrer-Policy": "no-referrer"},
    )
