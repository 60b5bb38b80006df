"""Foreign SMART Health Card issuers' keys and revocation lists, fetched from their URLs.

Only URLs derived from a configured issuer are fetched: a card's ``iss`` must be configured
before anything is asked of it, and its ``kid`` becomes part of a URL only when the
issuer's JWKS holds a key of that ``kid`` with a ``crlVersion`` and it is made of base64url
characters (so it can neither leave the configured base URL nor add a query).

Fetches go through :mod:`certdist.services.common.remote_keys` (deadline, size limit, no
redirects), which also keeps the issuers' JWKS. After a failed fetch the issuer is
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from certdist.services.common import UNREADABLE, Fetch
from certdist.signing.trust import ShcRevocations

__all__ = ["RemoteRevocationLists", "parse_revocation_list"]

log = logging.getLogger(__name__)

_KID: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")


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
    monotonic: Callable[[], float] = time.monotonic
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
        except UNREADABLE as error:
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
