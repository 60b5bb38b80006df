"""Fetching JSON documents from issuers over HTTP, and an issuer's key set (JWKS) kept fresh.

Shared by the token verifier (the identity provider's JWKS) and the certificate verifier
(foreign SMART Health Card issuers' JWKS and revocation lists). Every fetch has a deadline
for the whole response, a size limit, and follows no redirect (a redirect could lead
anywhere, plain HTTP included).
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import IO, Final

from jwcrypto import jwk
from jwcrypto.common import JWException

from certdist.errors import CertdistError

__all__ = ["UNREADABLE", "Fetch", "RemoteKeySet", "http_fetcher"]

log = logging.getLogger(__name__)

#: Fetches a URL's body; raises OSError (network, HTTP status, timeout) or ValueError (size).
Fetch = Callable[[str], bytes]
Monotonic = Callable[[], float]

#: What a fetch and the JSON/JWKS parsers raise on a body that is not what it should be
#: (JSON nested past the recursion limit raises RecursionError).
UNREADABLE: Final = (OSError, ValueError, TypeError, KeyError, RecursionError, JWException)
_CHUNK: Final = 64 * 1024


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None  # urllib then raises HTTPError for the 3xx status


def http_fetcher(*, timeout_seconds: float, max_bytes: int) -> Fetch:
    """A :data:`Fetch` over HTTP(S) with a deadline for the whole body and a size limit."""
    opener = urllib.request.build_opener(_NoRedirects)

    def fetch(url: str) -> bytes:
        if not url.startswith(("https://", "http://")):
            raise ValueError("only http(s) URLs are fetched")
        deadline = time.monotonic() + timeout_seconds
        with opener.open(url, timeout=timeout_seconds) as response:
            return _read_limited(response, deadline, max_bytes)

    return fetch


def _read_limited(response: IO[bytes], deadline: float, max_bytes: int) -> bytes:
    # The socket timeout bounds each read only: a server dripping bytes needs the deadline.
    body = bytearray()
    while chunk := response.read(_CHUNK):
        body += chunk
        if len(body) > max_bytes:
            raise ValueError(f"the response is larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise TimeoutError("the response took too long")
    return bytes(body)


@dataclass
class RemoteKeySet:
    """An issuer's JWKS from its URL, cached.

    Fetched again, at most once per ``min_refresh_seconds``, when a caller meets a key it
    does not hold (``refresh=True``: the issuer rotated its keys), and, with
    ``max_age_seconds``, when older than that (so a changed key attribute such as an SHC
    ``crlVersion`` is noticed). A failed fetch keeps the keys held: an issuer's outage must
    not make what it signed unverifiable. With no keys at all, ``unavailable()`` is raised:
    each caller names the failure in its own terms.
    """

    url: str
    fetch: Fetch
    unavailable: Callable[[], CertdistError]
    max_age_seconds: float | None = None
    min_refresh_seconds: float = 60.0
    monotonic: Monotonic = time.monotonic
    _keyset: jwk.JWKSet | None = field(default=None, init=False)
    _tried_at: float | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def keys(self, *, refresh: bool = False) -> jwk.JWKSet:
        with self._lock:
            if self._due(refresh=refresh):
                self._try_fetch()
            if self._keyset is None:
                raise self.unavailable()
            return self._keyset

    def _due(self, *, refresh: bool) -> bool:
        if self._tried_at is None:
            return True
        age = self.monotonic() - self._tried_at
        if refresh or self._keyset is None:
            return age >= self.min_refresh_seconds
        return self.max_age_seconds is not None and age >= self.max_age_seconds

    def _try_fetch(self) -> None:
        self._tried_at = self.monotonic()
        try:
            self._keyset = jwk.JWKSet.from_json(self.fetch(self.url).decode("utf-8"))
        except UNREADABLE as error:
            log.warning(
                "could not fetch an issuer's keys",
                extra={"url": self.url, "error": type(error).__name__},
            )
