"""Operations: what ``GET /readyz`` and ``GET /metrics`` report about this process and the
shared infrastructure it depends on (docs/operations.md)."""

from certdist.services.operations.service import Operations, wire

__all__ = ["Operations", "wire"]
