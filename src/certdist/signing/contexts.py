"""JSON-LD contexts served from local files, and URDNA2015 canonicalisation with them.

A linked-data proof signs the *canonical RDF* of a credential, and that depends on the
contexts its ``@context`` URLs name. Fetching those over the network would let whoever
answers the URL change what a signature means (and would stall signing when the host is
slow), so :class:`ContextLoader` serves only files: the contexts shipped in
``certdist/signing/contexts/`` under their well-known URLs, plus URL -> file aliases that a
deployment configures for its own namespace. An unknown URL raises
:class:`~certdist.errors.VerificationError` naming the URL; it never falls back to the
network.

Speed. pyld spends most of a certificate's canonicalisation on context processing. Three
things make that cheaper without changing a single output byte (``tests/signing`` checks
the output against plain pyld):

* each file is parsed once per process and handed to pyld tagged ``"static"``, with a
  resolver cache that belongs to this loader (pyld's default cache is process-global and
  keyed by URL alone, so two loaders mapping one URL to different files could see each
  other's contexts);
* embedded (scoped) contexts of our files are *sealed*: immutable dicts that pyld can read
  but not change. pyld keys every embedded context by its canonical JSON text, computed
  anew each time a type-scoped context applies (about 20 times per certificate); for a
  sealed object the identity is as good a key as its text, so the resolution is memoised
  by identity;
* canonicalisation runs under a per-loader lock: pyld's caches are not thread-safe, and
  pure-Python work is serialised by the GIL anyway, so the lock costs no throughput.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Final, NoReturn

from certdist.errors import ConfigurationError, VerificationError

__all__ = [
    "BUNDLED_CONTEXTS",
    "CREDENTIALS_V1",
    "SECURITY_V1",
    "SECURITY_V2",
    "STANDARD_URLS",
    "STATUS_LIST_V1",
    "ContextLoader",
    "bundled_context_path",
    "default_loader",
]

CREDENTIALS_V1: Final = "https://www.w3.org/2018/credentials/v1"
SECURITY_V1: Final = "https://w3id.org/security/v1"
SECURITY_V2: Final = "https://w3id.org/security/v2"
#: The Bitstring Status List terms for a VC 1.1 credential (VC 2.0 has them in its own
#: context, which cannot be mixed with the 1.1 one: both protect ``VerifiableCredential``).
STATUS_LIST_V1: Final = "https://www.w3.org/ns/credentials/status/v1"

#: Names of the context files shipped in ``certdist/signing/contexts/`` (without ``.jsonld``).
BUNDLED_CONTEXTS: Final = frozenset(
    {
        "credentials-v1",
        "security-v1",
        "security-v2",
        "vaccination-v1",
        "vaccination-v2",
        "testcertificate-v1",
        "bitstring-status-list-v1",
    }
)

#: The URLs every loader serves, and the bundled file behind each. DIVOC deployments used
#: both the CoWIN and the divoc.dev namespace for the same vaccination context.
STANDARD_URLS: Final[Mapping[str, str]] = {
    CREDENTIALS_V1: "credentials-v1",
    SECURITY_V1: "security-v1",
    SECURITY_V2: "security-v2",
    STATUS_LIST_V1: "bitstring-status-list-v1",
    "https://cowin.gov.in/credentials/vaccination/v1": "vaccination-v1",
    "https://divoc.dev/credentials/vaccination/v1": "vaccination-v1",
    "https://cowin.gov.in/credentials/vaccination/v2": "vaccination-v2",
    "https://divoc.dev/credentials/vaccination/v2": "vaccination-v2",
    "https://cowin.gov.in/credentials/testCertificate/v1": "testcertificate-v1",
    "https://divoc.dev/credentials/testCertificate/v1": "testcertificate-v1",
}

# pyld's resolver cache holds one entry per context URL and per distinct embedded context;
# a verifier fed hostile documents could create many, so the cache is bounded.
_RESOLVER_CACHE_SIZE: Final = 256


def bundled_context_path(name: str) -> Path:
    """Path of a shipped context file, e.g. ``bundled_context_path("vaccination-v1")``."""
    if name not in BUNDLED_CONTEXTS:
        raise ConfigurationError(
            f"no bundled JSON-LD context named {name!r}; known: {sorted(BUNDLED_CONTEXTS)}"
        )
    return Path(str(resources.files(__package__ or "certdist.signing") / "contexts")) / (
        name + ".jsonld"
    )


class ContextLoader:
    """A pyld document loader that serves only local context files.

    ``aliases`` maps extra URLs to a context file: a path, or the name of a bundled file
    (see :data:`BUNDLED_CONTEXTS`), e.g.
    ``{"https://example.gov/credentials/vaccination/v1": "vaccination-v1"}``. Alias files
    are read when the loader is built, so a broken configuration fails at start-up with
    :class:`~certdist.errors.ConfigurationError`, not on the first certificate.

    Calling the loader with a URL it does not serve raises
    :class:`~certdist.errors.VerificationError`; :meth:`canonize` reports that as the reason
    a document cannot be canonicalised.
    """

    def __init__(self, aliases: Mapping[str, str | os.PathLike[str]] | None = None) -> None:
        files: dict[str, Path] = {
            url: bundled_context_path(name) for url, name in STANDARD_URLS.items()
        }
        for url, target in (aliases or {}).items():
            if not isinstance(url, str) or not url:
                raise ConfigurationError("JSON-LD context alias URLs must be non-empty strings")
            if isinstance(target, str) and target in BUNDLED_CONTEXTS:
                path = bundled_context_path(target)
            else:
                path = Path(target).resolve()
                _parse_context_file(path)  # fail now, not on first use
            if url in STANDARD_URLS and path != files[url]:
                raise ConfigurationError(
                    f"{url} is a standard JSON-LD context and cannot be mapped to another file"
                )
            files[url] = path
        self._files: Final = files
        self._resolver_cache = _BoundedCache(_RESOLVER_CACHE_SIZE)
        self._sealed_memo: dict[int, list[Any]] = {}
        self._lock = threading.Lock()

    def urls(self) -> frozenset[str]:
        """Every context URL this loader serves."""
        return frozenset(self._files)

    def path(self, url: str) -> Path:
        """The file behind a served URL (raises VerificationError for unknown URLs)."""
        try:
            return self._files[url]
        except KeyError:
            _unknown_context(url)

    def document(self, url: str) -> dict[str, Any]:
        """A private, mutable copy of the context document served for ``url``."""
        thawed: dict[str, Any] = _thaw(_parse_context_file(self.path(url)))
        return thawed

    def __call__(self, url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """pyld's document-loader protocol: the remote document for ``url``."""
        parsed = _parse_context_file(self.path(url))
        return {
            "contextUrl": None,
            "documentUrl": url,
            # Unsealed parts are copied: pyld rewrites relative URLs in a context's
            # ``@context`` list in place. Sealed parts cannot change, so they are shared.
            "document": _unshare(parsed),
            # "static" lets pyld keep the processed context across operations.
            "tag": "static",
        }

    def canonize(self, document: Mapping[str, Any]) -> str:
        """URDNA2015 canonical N-Quads of ``document``, in the jsonld-signatures v6 way.

        Like jsonld-signatures, a property that the contexts do not define is an error
        rather than silently left out of what is signed. ``base`` is ``None`` so relative
        ids stay relative, as in jsonld.js. Raises
        :class:`~certdist.errors.VerificationError` with the reason.
        """
        from certdist.signing import canonical  # pyld, imported on first use (~10 MB)

        with self._lock:
            return canonical.normalize(
                document,
                loader=self,
                resolver_cache=self._resolver_cache,
                sealed_memo=self._sealed_memo,
                is_sealed=_is_sealed,
                on_property_dropped=_reject_dropped_property,
            )


@functools.cache
def default_loader() -> ContextLoader:
    """The process-wide loader with the standard URLs only (no deployment aliases)."""
    return ContextLoader()


# --- parsing and sealing ---------------------------------------------------------------------


class _SealedDict(dict[str, Any]):
    """A dict that cannot change after construction.

    It stays a ``dict`` (pyld tests ``isinstance(x, dict)``); every mutator raises, so a
    future pyld that tried to edit a shared context would fail loudly instead of silently
    changing what later signatures mean.
    """

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("sealed JSON-LD context objects are read-only")

    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse
    clear = _refuse
    pop = _refuse
    popitem = _refuse
    setdefault = _refuse
    update = _refuse

    def __copy__(self) -> _SealedDict:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> _SealedDict:
        return self


# Every sealed object ever made, by id. Holding them keeps their ids from being reused, which
# is what makes identity a safe memo key. Bounded by the number of context files parsed.
_SEALED: dict[int, _SealedDict] = {}


def _seal(value: Any) -> Any:
    """Copy parsed JSON, sealing every object whose whole subtree can be made immutable.

    Lists stay lists (pyld tests ``isinstance(x, list)``), so an object containing a list,
    at any depth, stays an ordinary dict. So does one with ``@import`` or a string-valued
    ``@context``: pyld edits those in place while resolving them.
    """
    if isinstance(value, list):
        return [_seal(item) for item in value]
    if not isinstance(value, dict):
        return value
    items = {key: _seal(item) for key, item in value.items()}
    if _sealable(items):
        sealed = _SealedDict(items)
        _SEALED[id(sealed)] = sealed
        return sealed
    return items


def _sealable(items: Mapping[str, Any]) -> bool:
    if "@import" in items or isinstance(items.get("@context"), str):
        return False
    return all(
        isinstance(item, _SealedDict) or not isinstance(item, (dict, list))
        for item in items.values()
    )


def _unshare(value: Any) -> Any:
    """Copy the unsealed dicts and lists of a parsed context; share the sealed ones."""
    if isinstance(value, _SealedDict):
        return value
    if isinstance(value, dict):
        return {key: _unshare(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unshare(item) for item in value]
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_thaw(item) for item in value]
    return value


@functools.cache
def _parse_context_file(path: Path) -> dict[str, Any]:
    """Read, check and seal one context file (once per process and path)."""
    try:
        parsed = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigurationError(
            f"cannot read JSON-LD context file {path}: {error.strerror}"
        ) from None
    except ValueError as error:
        raise ConfigurationError(
            f"JSON-LD context file {path} is not valid JSON: {error}"
        ) from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("@context"), (dict, list)):
        raise ConfigurationError(
            f"JSON-LD context file {path} must be an object with an @context entry"
        )
    sealed: dict[str, Any] = _seal(parsed)
    return sealed


# --- pyld plumbing ---------------------------------------------------------------------------


class _BoundedCache(OrderedDict[str, Any]):
    """The ``get`` / ``[]=`` mapping pyld's resolver caches into, evicting the oldest."""

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)


def _is_sealed(context: Any) -> bool:
    """Whether ``context`` is one of our sealed objects (its resolution can be memoised by
    identity)."""
    return type(context) is _SealedDict and _SEALED.get(id(context)) is context


class _DroppedProperty(VerificationError):
    """Raised from pyld's expansion when a property is not defined by any context."""


def _reject_dropped_property(expanded: str | None) -> None:
    what = f"property {expanded!r}" if expanded else "a property"
    raise _DroppedProperty(
        f"{what} is not defined by the credential's JSON-LD contexts, so a signature would "
        "not cover it"
    )


def _unknown_context(url: str) -> NoReturn:
    raise VerificationError(
        f"JSON-LD context {url!r} is not available locally (certdist never fetches contexts "
        "from the network); configure an alias for it"
    )
