"""Which certificate a beneficiary is served (DIVOC's rule, made strict).

Only live certificates count: one superseded by a correction or revoked is never served
(DIVOC's Node path served them, and citizens complained). For vaccinations the latest is the
highest dose, then the most recently updated; other entity types may simply take the newest.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from certdist.domain.models import CertificateRecord


class LatestRule(StrEnum):
    BY_DOSE = "by_dose"
    NEWEST = "newest"


def _newest_key(record: CertificateRecord) -> tuple[object, ...]:
    return (record.updated_at, record.created_at, record.certificate_id)


def latest(records: Iterable[CertificateRecord], rule: LatestRule) -> CertificateRecord | None:
    live = [r for r in records if r.is_live]
    if not live:
        return None
    if rule is LatestRule.BY_DOSE:
        return max(live, key=lambda r: (r.dose or 0, *_newest_key(r)))
    return max(live, key=_newest_key)


def latest_per_dose(records: Iterable[CertificateRecord]) -> list[CertificateRecord]:
    """One live certificate per dose (the newest of that dose), highest dose first."""
    best: dict[int, CertificateRecord] = {}
    for record in records:
        if not record.is_live:
            continue
        dose = record.dose or 0
        if dose not in best or _newest_key(record) > _newest_key(best[dose]):
            best[dose] = record
    return [best[dose] for dose in sorted(best, reverse=True)]
