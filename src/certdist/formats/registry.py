"""One small protocol for every certificate format, and the registry that finds them by name.

A format turns a :class:`CertificateBundle` (the certificate to serve and, for vaccinations,
the latest certificate of every dose) into bytes. Its ``version`` changes whenever the same
bundle would render differently (a template, font or option change), so ``version`` plus the
ids of the certificates in the bundle identify the output: that is the ETag and cache key.

A format also says which kinds of certificate (entity types) it renders: a document that
re-encodes the signed credential renders every kind (``entity_types`` is ``None``), a
wallet format only the kinds its standard can express (a DDCC:VS bundle is about
vaccination status, so a lab test has none). Whoever lists formats for a certificate asks
:meth:`FormatRegistry.for_kind`, so nobody is offered a link that cannot work.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from certdist.domain.latest import LatestRule, latest_per_dose
from certdist.domain.models import CertificateRecord
from certdist.errors import NotFound


@dataclass(frozen=True)
class CertificateBundle:
    latest: CertificateRecord
    doses: tuple[CertificateRecord, ...] = ()

    @classmethod
    def of(
        cls, chosen: CertificateRecord, records: Sequence[CertificateRecord], rule: LatestRule
    ) -> CertificateBundle:
        """The bundle a document shows for ``chosen`` among a beneficiary's ``records``: with
        the by-dose rule, every dose's latest certificate, and ``chosen`` even when a newer
        certificate of its own dose exists."""
        if rule is not LatestRule.BY_DOSE:
            return cls(latest=chosen)
        doses = tuple(latest_per_dose(records))
        if chosen not in doses:
            doses = (chosen, *doses)
        return cls(latest=chosen, doses=doses)

    @cached_property
    def credential(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.latest.certificate)
        return parsed

    @cached_property
    def dose_credentials(self) -> list[dict[str, Any]]:
        return [json.loads(record.certificate) for record in self.doses]

    def fingerprint(self, version: str) -> str:
        """A strong ETag value: certificates are immutable, so their ids name the content."""
        ids = ",".join([self.latest.certificate_id, *(r.certificate_id for r in self.doses)])
        return hashlib.sha256(f"{version}|{ids}".encode()).hexdigest()[:32]


class CertificateFormat(Protocol):
    name: str
    media_type: str
    extension: str

    @property
    def version(self) -> str: ...

    @property
    def entity_types(self) -> frozenset[str] | None:
        """The entity types this format renders; ``None``: every kind."""
        ...

    def render(self, bundle: CertificateBundle) -> bytes: ...


class FormatRegistry:
    def __init__(self, formats: Iterable[CertificateFormat]) -> None:
        self._formats = {f.name: f for f in formats}

    def get(self, name: str) -> CertificateFormat:
        try:
            return self._formats[name]
        except KeyError:
            raise NotFound(f"no certificate format named {name!r}") from None

    def names(self) -> list[str]:
        return sorted(self._formats)

    def for_kind(self, entity_type: str) -> list[CertificateFormat]:
        """The formats that render certificates of ``entity_type``, by name."""
        return [f for name, f in sorted(self._formats.items()) if renders(f, entity_type)]


def renders(fmt: CertificateFormat, entity_type: str) -> bool:
    """Whether ``fmt`` renders certificates of ``entity_type``."""
    kinds = fmt.entity_types
    return kinds is None or entity_type in kinds
