"""Cookies of the HTML pages: one way to name, set and clear them.

``__Host-`` names whenever cookies are Secure: the browser then accepts them only with
Secure, ``path=/`` and no Domain, so no sibling subdomain can plant or overwrite them. All
are HttpOnly and SameSite=Lax (a top-level link from elsewhere still carries them, which a
sign-in provider's redirect back needs; cross-site form posts do not).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response


def cookie_name(base: str, *, secure: bool) -> str:
    return f"__Host-{base}" if secure else base


def read_cookie(request: Request, base: str, *, secure: bool) -> str | None:
    return request.cookies.get(cookie_name(base, secure=secure))


def set_cookie(
    response: Response, base: str, value: str, *, secure: bool, max_age: int | None = None
) -> None:
    response.set_cookie(
        cookie_name(base, secure=secure),
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=secure,
        samesite="lax",
    )


def clear_cookie(response: Response, base: str, *, secure: bool) -> None:
    response.delete_cookie(
        cookie_name(base, secure=secure), path="/", httponly=True, secure=secure, samesite="lax"
    )
