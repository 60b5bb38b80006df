"""Credential JSON as DIVOC's JavaScript verifiers will read it, or a clear refusal.

A signature is only as good as the agreement between signer and verifier on what was signed.
DIVOC's verifiers run jsonld.js 2 with rdf-canonize 1; certdist canonicalises with pyld. The
Node tests (``tests/signing/test_ldproof_node.py``) compare the two, and these are the cases
where they part, each settled here before canonicalisation:

* ``2.0``: JavaScript has no separate float type, so it is the integer ``2`` -> made an int;
* integers beyond 2**53 cannot be held exactly in JavaScript -> refused;
* fractions below 1e-6 print as ``1e-7`` in JavaScript, and jsonld.js (which looks for a
  "." in that text) then takes them for integers -> refused;
* a tab: pyld writes ``\\t`` in N-Quads, rdf-canonize 1 keeps it raw -> refused (every other
  character, control characters included, comes out the same);
* lone surrogates are not text -> refused.

One more rule is about coverage rather than agreement: an object whose ``id`` is not an
absolute IRI (``""``, ``"1234"``, ``"did:x 1"``) is dropped from the RDF by *both* stacks, so
none of its fields would be signed -> refused, as is a relative ``issuer``.

Errors name the location (``credentialSubject.id``), never the value, which may be personal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final

from certdist.errors import InvalidInput, VerificationError

__all__ = ["plain_json"]

_MAX_SAFE_INTEGER: Final = 2**53 - 1
_SMALLEST_PLAIN_FRACTION: Final = 1e-6
# What pyld and jsonld.js accept as an absolute IRI (or blank node id), anchored at the very
# end: Python's "$" would also accept a trailing newline, which JavaScript's does not.
_ABSOLUTE_IRI: Final = re.compile(r"([A-Za-z][A-Za-z0-9+-.]*|_):[^\s]*\Z")
_ID_KEYS: Final = frozenset({"id", "@id", "issuer"})

ErrorType = type[InvalidInput] | type[VerificationError]


def plain_json(value: Any, error: ErrorType, where: str = "") -> Any:
    """A fresh copy of ``value`` in plain JSON types, per the rules in the module docstring.

    The copy is what gets canonicalised and, when signing, returned: a caller that later
    changes its own dict cannot change a signed credential.
    """
    return _copy(value, error, where, check_ids=True)


def _copy(value: Any, error: ErrorType, where: str, *, check_ids: bool) -> Any:
    if isinstance(value, str):
        return _text(value, error, where)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return _integer(value, error, where)
    if isinstance(value, float):
        return _number(value, error, where)
    if isinstance(value, Mapping):
        copied: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise error(f"{where or 'object'}: object keys must be strings")
            path = f"{where}.{key}" if where else key
            if check_ids and key in _ID_KEYS and isinstance(item, str):
                _require_absolute(item, error, path)
            # inside a context, "id" maps terms ("id": "@id"), it does not name a node
            copied[str.__str__(key)] = _copy(
                item, error, path, check_ids=check_ids and key != "@context"
            )
        return copied
    if isinstance(value, (list, tuple)):
        return [
            _copy(item, error, f"{where}.{index}", check_ids=check_ids)
            for index, item in enumerate(value)
        ]
    raise error(f"{where or 'value'}: {type(value).__name__} is not a JSON value")


def _text(value: str, error: ErrorType, where: str) -> str:
    if "\t" in value:
        raise error(
            f"{where or 'value'}: tab characters are not allowed (pyld and DIVOC's "
            "JavaScript canonicaliser write them differently, so signatures would differ)"
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise error(f"{where or 'value'}: text is not valid Unicode") from None
    return str.__str__(value)


def _integer(value: int, error: ErrorType, where: str) -> int:
    if abs(value) > _MAX_SAFE_INTEGER:
        raise error(f"{where or 'value'}: integer too large for JavaScript verifiers")
    return int(value)


def _number(value: float, error: ErrorType, where: str) -> int | float:
    if not math.isfinite(value):
        raise error(f"{where or 'value'}: numbers must be finite")
    if value.is_integer():
        return _integer(int(value), error, where)
    if abs(value) < _SMALLEST_PLAIN_FRACTION:
        raise error(f"{where or 'value'}: number too close to zero for JavaScript verifiers")
    return value


def _require_absolute(value: str, error: ErrorType, where: str) -> None:
    if not _ABSOLUTE_IRI.match(value):
        raise error(
            f"{where}: must be an absolute URI (such as did:...), otherwise the object's "
            "fields would not be covered by the signature"
        )
