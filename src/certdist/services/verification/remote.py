"""Foreign SMART Health Card issuers' keys and revocation lists, fetched from their URLs.

Only URLs derived from a configured issuer are fetched: a card's ``iss`` must be configured
before anything is asked of it, and its ``kid`` becomes part of a URL only when the
issuer's JWKS holds a key of that ``kid`` with a ``crlVersion`` and it is made of base64url
characters (so it can neither leave the configured base URL nor add a query).

Each fetch has a timeout for the whole response, a size limit, and follows no redirect
(a redirect could lead anywhere, plain HTTP included). After a failed fetch the issuer is
not asked again for ``retry_seconds``: a down issuer must not cost every verification a
timeout, nor can a stream of cards make us hammer it.

What the verifier answers when a list cannot be had is :mod:`.shc`'s choice.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import IO, Any, Final

from jwcrypto import jwk
from jwcrypto.common import JWException

from certdist.errors import VerificationError
from certdist.signing.trust import ShcRevocations

__all__ = ["Fetch", "RemoteIssuerKeys", "RemoteRevocationLists", "http_fetcher"]

log = logging.getLogger(__name__)

#: Fetches a URL's body; raises OSError (network, HTTP status, timeout) or ValueError (size).
Fetch = Callable[[str], bytes]
Monotonic = Callable[[], float]

_KID: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")
_CHUNK: Final = 64 * 1024
#: What the JWKS and list parsers raise on a body that is not what it should be (JSON
#: nested past the recursion limit raises RecursionError).
_UNREADABLE: Final = (OSError, ValueError, TypeError, KeyError, RecursionError, JWException)


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
class RemoteIssuerKeys:
    """A foreign issuer's JWKS from its URL (a :class:`~certdist.signing.trust.KeySetSource`).

    Cached; fetched again when older than ``max_age_seconds`` (so a raised ``crlVersion``
    is noticed) or, at most once per ``min_refresh_seconds``, when a card names a key we do
    not hold. A failed fetch keeps the keys held: an issuer's outage must not make its valid
    cards unverifiable.
    """

    url: str
    fetch: Fetch
    max_age_seconds: float
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
                raise VerificationError("the card issuer's keys could not be fetched")
            return self._keyset

    def _due(self, *, refresh: bool) -> bool:
        if self._tried_at is None:
            return True
        age = self.monotonic() - self._tried_at
        if refresh or self._keyset is None:
            return age >= self.min_refresh_seconds
        return age >= self.max_age_seconds

    def _try_fetch(self) -> None:
        self._tried_at = self.monotonic()
        try:
            self._keyset = jwk.JWKSet.from_json(self.fetch(self.url).decode("utf-8"))
        except _UNREADABLE as error:
            log.warning(
                "could not fetch a card issuer's keys",
                extra={"url": self.url, "error": type(error).__name__},
            )


@dataclass
class RemoteRevocationLists:
    """One issuer's revocation lists at ``<base_url>/<kid>.json``, cached per ``kid``.

    A list is fetched when none is held or the JWK's ``crlVersion`` is above the held list's
    ``ctr``. It must be ``{kid, method: "rid", ctr, rids: [str, ...]}`` for that kid; a list
    older than the version the JWK announced is kept (what it names stays revoked) but
    leaves the card's revocation state unknown.
    """

    base_url: str
    fetch: Fetch
    retry_seconds: float = 60.0
    monotonic: Monotonic = time.monotonic
    _held: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    _failed_at: dict[str, float] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def revocations(self, kid: str, version: int) -> ShcRevocations:
        if not _KID.fullmatch(kid):
            return ShcRevocations(unknown="the key id cannot name a revocation list")
        with self._lock:
            held = self._held.get(kid)
            if (held is None or held["ctr"] < version) and self._may_try(kid):
                held = self._try_fetch(kid, held)
                if held is None or held["ctr"] < version:
                    # Failed, or the issuer still serves an older list (a lagging mirror).
                    self._failed_at[kid] = self.monotonic()
        lists = (held,) if held is not None else ()
        if held is not None and held["ctr"] >= version:
            return ShcRevocations(lists)
        return ShcRevocations(lists, "the issuer's revocation list could not be fetched or read")

    def _may_try(self, kid: str) -> bool:
        failed = self._failed_at.get(kid)
        return failed is None or self.monotonic() - failed >= self.retry_seconds

    def _try_fetch(self, kid: str, held: dict[str, Any] | None) -> dict[str, Any] | None:
        url = f"{self.base_url}/{kid}.json"
        try:
            fetched = parse_revocation_list(self.fetch(url), kid)
        except _UNREADABLE as error:
            log.warning(
                "could not fetch a card issuer's revocation list",
                extra={"url": url, "error": type(error).__name__},
            )
            return held
        self._failed_at.pop(kid, None)
        if held is not None and fetched["ctr"] < held["ctr"]:
            return held  # a lagging mirror: keep the newer list
        self._held[kid] = fetched
        return fetched


def parse_revocation_list(body: bytes, kid: str) -> dict[str, Any]:
    """A SMART revocation list for ``kid``, checked; ValueError when it is not one."""
    document = json.loads(body)
    if not isinstance(document, Mapping):
        raise ValueError("a revocation list is a JSON object")
    if document.get("kid") != kid or document.get("method") != "rid":
        raise ValueError("not a rid revocation list for this key")
    ctr, rids = document.get("ctr"), document.get("rids")
    if not isinstance(ctr, int) or isinstance(ctr, bool) or ctr < 0:
        raise ValueError("ctr is not a whole number")
    if not isinstance(rids, list) or not all(isinstance(rid, str) for rid in rids):
        raise ValueError("rids is not a list of strings")
    return {"kid": kid, "method": "rid", "ctr": ctr, "rids": rids}
