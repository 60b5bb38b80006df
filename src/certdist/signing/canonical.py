"""URDNA2015 canonicalisation through pyld, the part of :mod:`certdist.signing.contexts`
that needs pyld.

Imported on the first canonicalisation, not with the rest of the signing package: pyld and
what it imports (lxml, cachetools, frozendict) cost ~10 MB per process (measured with
/proc/self/status), and a server worker that only hands out stored certificates never
canonicalises one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from pyld import jsonld
from pyld.context_resolver import ContextResolver

from certdist.errors import VerificationError


class _MemoisingResolver(ContextResolver):  # type: ignore[misc]
    """pyld's resolver, memoising the resolution of sealed embedded contexts by identity."""

    def __init__(
        self,
        shared_cache: MutableMapping[str, Any],
        loader: Any,
        memo: dict[int, Any],
        is_sealed: Callable[[Any], bool],
    ) -> None:
        super().__init__(shared_cache, loader)
        self._memo = memo
        self._is_sealed = is_sealed

    def resolve(self, active_ctx: Any, context: Any, base: Any, cycles: Any = None) -> Any:
        if self._is_sealed(context):
            resolved = self._memo.get(id(context))
            if resolved is None:
                resolved = super().resolve(active_ctx, context, base, cycles)
                self._memo[id(context)] = resolved
            return list(resolved)
        return super().resolve(active_ctx, context, base, cycles)


def normalize(
    document: Mapping[str, Any],
    *,
    loader: Any,
    resolver_cache: MutableMapping[str, Any],
    sealed_memo: dict[int, Any],
    is_sealed: Callable[[Any], bool],
    on_property_dropped: Callable[[str | None], None],
) -> str:
    """URDNA2015 N-Quads of ``document``; contexts come from ``loader`` (a pyld document
    loader). Raises :class:`~certdist.errors.VerificationError` with the reason."""
    options = {
        "algorithm": "URDNA2015",
        "format": "application/n-quads",
        "documentLoader": loader,
        "base": None,
        "contextResolver": _MemoisingResolver(resolver_cache, loader, sealed_memo, is_sealed),
    }
    processor = jsonld.JsonLdProcessor(on_property_dropped=on_property_dropped)
    # Errors are re-raised without their pyld cause: pyld's messages carry the values
    # involved, and a logged traceback must not.
    try:
        result = processor.normalize(document, options)
    except VerificationError as error:  # our own, raised from inside pyld
        raise VerificationError(str(error)) from None
    except jsonld.JsonLdError as error:
        raise _explain(error) from None
    if not isinstance(result, str):  # pragma: no cover - pyld contract
        raise VerificationError("JSON-LD canonicalisation returned no N-Quads")
    return result


def _explain(error: BaseException) -> VerificationError:
    """The most specific reason in a pyld error chain, without pyld's value details."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for link in chain:
        if isinstance(link, VerificationError):
            return VerificationError(str(link))
    innermost = next(
        (link for link in reversed(chain) if isinstance(link, jsonld.JsonLdError)), error
    )
    message = str(innermost.args[0]) if innermost.args else type(innermost).__name__
    code = getattr(innermost, "code", None)
    return VerificationError(f"not valid JSON-LD: {message}" + (f" ({code})" if code else ""))
