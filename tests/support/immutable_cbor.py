"""Decoded CBOR the way cbor2 6 hands it out, whichever cbor2 is installed.

cbor2 6 decodes the content of a tag (a tagged COSE_Sign1, for one) and every map key into
immutable containers: arrays become ``tuple`` and maps ``cbor2.frozendict``, where cbor2 5
gave ``list`` and ``dict``. :func:`immutable_loads` goes further and freezes every container
it decodes (maps as ``types.MappingProxyType``, a read-only ``Mapping`` that is not a
``dict``), so a test that patches ``cbor2.loads`` with it fails under cbor2 5 too wherever the
code still insists on ``list`` or ``dict``.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

import cbor2

_LOADS = cbor2.loads


def frozen(value: Any) -> Any:
    """``value`` with every list turned into a tuple and every map into a read-only mapping."""
    if isinstance(value, cbor2.CBORTag):
        return cbor2.CBORTag(value.tag, frozen(value.value))
    if isinstance(value, Mapping):
        return types.MappingProxyType({key: frozen(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(frozen(item) for item in value)
    return value


def immutable_loads(data: bytes, **options: Any) -> Any:
    """A stand-in for ``cbor2.loads``: install it with ``monkeypatch.setattr(cbor2, "loads",
    immutable_loads)``."""
    return frozen(_LOADS(data, **options))
