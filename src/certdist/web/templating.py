"""Server-rendered HTML: one Jinja2 environment, translated per request.

Built once in ``create_app`` and kept on ``app.state.templates``; routes take it with the
``TemplatesDep`` dependency and answer ``templates.render(request, "page.html", {...})``.

* Autoescaping is on for ``.html`` templates.
* Strings are translated with Jinja2's i18n extension in "newstyle" form:
  ``{{ _("Hello %(name)s", name=n) }}`` and ``{% trans %}…{% endtrans %}``. The gettext
  callables installed in the environment read the request's catalog from a context variable
  set around each render, so one environment serves every language and concurrent requests
  never see each other's language.
* Two filters show dates as the reader reads them (``services.common.moments``):
  ``{{ link.expires_at|moment }}`` is a ``<time>`` element in the page's language and the
  deployment's time zone, which ``static/local-time.js`` rewrites in the browser's own zone;
  ``{{ view.issue_date|day }}`` is a calendar date in the page's language (ISO text, a
  ``date``, or a certificate view's printed date such as ``02 Dec 2020``).
* The words a certificate carries in English are said in the page's language by the filters
  ``gender``, ``test_type``, ``test_result`` and ``identity`` (``web/certificate_words.py``).
* Every page gets ``lang``, ``dir``, ``languages`` (for the switch), ``switch_url(code)``,
  ``static(path)`` and ``request``.
* Pages are sent with ``Cache-Control: no-store`` (they may show personal data) and a
  Content-Security-Policy that allows only this origin's scripts, styles and images.

Extending: a page template starts with ``{% extends "base.html" %}`` and fills the blocks
``title`` (the part before the site name), ``content`` (inside ``<main>``), and optionally
``head`` (extra ``<link>``/``<script src>`` in ``<head>``) and ``header_actions`` (a
logout form, for instance).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from babel import Locale
from babel.support import Translations
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from certdist.config import Settings
from certdist.domain.certificate_view import parse_printed_day
from certdist.services.common import format_day, format_moment
from certdist.web import certificate_words
from certdist.web.i18n import LANGUAGE_COOKIE, Catalogs
from certdist.web.static_assets import asset_url

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static"

#: Only this origin; no inline scripts or styles; no framing (clickjacking); forms post here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
_ONE_YEAR = 365 * 24 * 3600


def secure_cookies(settings: Settings) -> bool:
    """Whether cookies carry ``Secure``: always in production and whenever the public URL is
    https. Only a development service on plain http (``http://127.0.0.1:8000``, the default)
    sends cookies without it, since a browser would otherwise drop them there."""
    return settings.is_production or settings.public_url.startswith("https://")


def safe_next(target: str | None) -> str:
    """A redirect target on this site: a path starting with one ``/`` (never ``//host`` or a
    full URL, which would make the site an open redirector)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


class Templates:
    def __init__(
        self,
        catalogs: Catalogs,
        *,
        secure_cookies: bool,
        time_zone: tzinfo = UTC,
        directory: Path = TEMPLATE_DIR,
        extra_globals: Mapping[str, Any] | None = None,
    ) -> None:
        self.catalogs = catalogs
        self.secure_cookies = secure_cookies
        self.time_zone = time_zone
        self._active: ContextVar[Translations] = ContextVar("certdist_translations")
        self._language: ContextVar[str] = ContextVar("certdist_language")
        self.env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=select_autoescape(["html", "xml"]),
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.install_gettext_callables(  # type: ignore[attr-defined]
            lambda message: self._current().gettext(message),
            lambda singular, plural, n: self._current().ngettext(singular, plural, n),
            newstyle=True,
        )
        self.env.filters["moment"] = self._moment
        self.env.filters["day"] = self._day
        for name, words in (
            ("gender", certificate_words.gender_text),
            ("test_type", certificate_words.lab_test_type_text),
            ("test_result", certificate_words.lab_test_result_text),
            ("identity", certificate_words.identity_text),
        ):
            self.env.filters[name] = self._translating(words)
        self.env.globals.update(extra_globals or {})

    def _translating(
        self, words: Callable[[str, Callable[[str], str]], str]
    ) -> Callable[[str], str]:
        return lambda value: words(value, self._current().gettext)

    def _day(self, value: date | str | None) -> str:
        if isinstance(value, str):
            value = parse_printed_day(value) or value
        return format_day(value, self._current_language())

    def _current_language(self) -> str:
        return self._language.get(self.catalogs.default)

    def _moment(self, moment: datetime) -> Markup:
        """A ``<time>`` the reader can read without JavaScript; the machine-readable instant
        lets ``local-time.js`` show it in the browser's own time zone."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        text = format_moment(moment, self._current_language(), self.time_zone)
        instant = moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return Markup('<time datetime="{}" data-local-time>{}</time>').format(instant, text)

    def _current(self) -> Translations:
        try:
            return self._active.get()
        except LookupError:
            return self.catalogs.translations(self.catalogs.default)

    def language(self, request: Request) -> str:
        return self.catalogs.choose(
            request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language")
        )

    def gettext(self, request: Request) -> Callable[[str], str]:
        """The request's ``gettext``, for text built in Python (messages shown on a page)."""
        return self.catalogs.translations(self.language(request)).gettext

    def render(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        lang = self.language(request)
        root = request.scope.get("root_path", "")
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        values: dict[str, Any] = {
            "request": request,
            "lang": lang,
            "dir": Locale.parse(lang, sep="-").text_direction,
            "languages": self.catalogs.languages,
            "switch_url": lambda code: f"{root}/language/{code}?next={quote(here, safe='/')}",
            "static": lambda path: asset_url(f"{root}{STATIC_PREFIX}", STATIC_DIR, path),
        }
        values.update(context or {})
        token = self._active.set(self.catalogs.translations(lang))
        language_token = self._language.set(lang)
        try:
            body = self.env.get_template(name).render(values)
        finally:
            self._language.reset(language_token)
            self._active.reset(token)
        response = HTMLResponse(body, status_code=status_code)
        response.headers.update(
            {
                "Content-Language": lang,
                "Vary": "Cookie, Accept-Language",
                "Cache-Control": "no-store",
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "same-origin",
            }
        )
        response.headers.update(headers or {})
        return response


async def get_templates(request: Request) -> Templates:
    templates: Templates = request.app.state.templates
    return templates


TemplatesDep = Annotated[Templates, Depends(get_templates)]

language_router = APIRouter(include_in_schema=False)


@language_router.get("/language/{code}")
async def switch_language(
    code: str, templates: TemplatesDep, next: str | None = None
) -> RedirectResponse:
    """Remember the chosen language in a cookie and go back to the page the switch was on.
    A plain link, so it works without JavaScript."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in templates.catalogs.codes:
        response.set_cookie(
            LANGUAGE_COOKIE,
            code,
            max_age=_ONE_YEAR,
            path="/",
            httponly=True,
            secure=templates.secure_cookies,
            samesite="lax",
        )
    return response


class PageRoute(APIRoute):
    """The route class of HTML pages (``APIRouter(route_class=PageRoute)``): errors raised
    under such a route are answered with an HTML error page instead of DIVOC's JSON body.
    A subclass may set ``error_headers``: headers its error pages carry too (share-link
    pages must not leak their URL through a 404 either)."""

    error_headers: Mapping[str, str] = {}


def is_page_request(request: Request) -> bool:
    """Whether an error on this request should be an HTML page: the route is a page route,
    or no route matched and the client asked for HTML (a browser following a bad link)."""
    route = request.scope.get("route")
    if route is None:
        accept = request.headers.get("accept", "")
        return "text/html" in accept
    return isinstance(route, PageRoute)


def error_page(request: Request, status: int, *, retry_after: int | None = None) -> HTMLResponse:
    """The HTML page for an error status on a page route (web/errors.py chooses the status).
    The text is generic on purpose: it names what the person can do, never internals."""
    templates: Templates = request.app.state.templates
    _ = templates.gettext(request)
    if status == 404:
        heading = _("Page not found")
        message = _("We could not find what you asked for. Check the address or start again.")
    elif status == 429:
        minutes = max(1, -(-(retry_after or 60) // 60))
        heading = _("Too many attempts")
        message = _("For your security, please wait %(minutes)s minutes and try again.") % {
            "minutes": minutes
        }
    elif status == 403:
        heading = _("This form has expired")
        message = _(
            "For your security, forms stop working after a while. "
            "Go back, reload the page and try again."
        )
    elif status == 413:
        heading = _("Request too large")
        message = _("What you sent is larger than we accept.")
    elif status < 500:
        heading = _("Something is not right")
        message = _("We could not use what you sent. Please go back and try again.")
    else:
        heading = _("Service unavailable")
        message = _("Something went wrong on our side. Please try again in a few minutes.")
    route = request.scope.get("route")
    headers = dict(route.error_headers) if isinstance(route, PageRoute) else {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return templates.render(
        request,
        "error.html",
        {"heading": heading, "message": message, "back_url": "/"},
        status_code=status,
        headers=headers,
    )
