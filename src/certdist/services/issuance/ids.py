"""Certificate ids: DIVOC's twelve digits, random so they cannot be guessed or enumerated."""

from __future__ import annotations

import secrets
from typing import Protocol

CERTIFICATE_ID_DIGITS = 12


class CertificateIdGenerator(Protocol):
    def new_certificate_id(self) -> str: ...


class RandomCertificateIds:
    """Numeric ids like DIVOC's, from the OS CSPRNG so they cannot be guessed or enumerated."""

    def new_certificate_id(self) -> str:
        low = 10 ** (CERTIFICATE_ID_DIGITS - 1)
        return str(low + secrets.randbelow(9 * low))


class SequentialCertificateIds:
    """Predictable ids for tests."""

    def __init__(self, start: int = 100000000001) -> None:
        self._next = start

    def new_certificate_id(self) -> str:
        value = self._next
        self._next += 1
        return str(value)
