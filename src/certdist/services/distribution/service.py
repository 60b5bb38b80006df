"""Serving certificates: the latest one of a beneficiary, in any registered format.

Every delivered document is written to the append-only download audit. Rendered bytes are
cached per process under a content key (format version + the ids of the certificates shown),
so a correction or revocation, which changes which certificates are live, changes the key:
nothing needs invalidating, and every worker process agrees on the ETag.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from certdist.domain.latest import LatestRule, latest
from certdist.domain.models import VACCINATION, CertificateRecord, Download
from certdist.domain.phone import normalize_mobile
from certdist.domain.roles import Permission, Principal
from certdist.errors import InvalidInput, NotFound
from certdist.formats.registry import CertificateBundle, CertificateFormat, FormatRegistry
from certdist.services.common import NO_METRICS, Clock, Metrics, new_record_id
from certdist.storage.repository import CertificateRepository, DownloadAudit


@dataclass(frozen=True)
class Artifact:
    content: bytes
    etag: str
    media_type: str
    filename: str


@dataclass(frozen=True)
class BeneficiarySummary:
    pre_enrollment_code: str
    name: str
    gender: str
    dob: date | None


class _Piece:
    __slots__ = ("uses", "value")

    def __init__(self, value: bytes) -> None:
        self.value = value
        self.uses = 0


class RenderCache:
    """A byte-bounded LRU of rendered documents, keyed by content fingerprint.

    PDFs are held as their objects, each identical object once: every certificate PDF embeds
    the same font subsets and page template, 49 of its 53 KB (measured on the vaccination
    certificate), so a cached PDF costs ~4 KB instead of 53 KB and the default 8 MiB holds
    ~2,000 of them instead of ~150 (before, a hot set of 500 thrashed even 16 MiB: 1.09 ms of
    server CPU per "cached" download, most of them re-rendered). The bound counts each stored
    byte once: shared objects when first stored, and freed when the last document using them
    leaves.
    Joining the ~28 pieces back on a hit copies the 53 KB once (microseconds).
    """

    _SPLIT = b"endobj\n"

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._items: OrderedDict[str, tuple[bytes, ...]] = OrderedDict()
        self._pieces: dict[bytes, _Piece] = {}
        self._size = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        """Bytes held (each shared piece counted once)."""
        return self._size

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            pieces = self._items.get(key)
            if pieces is None:
                return None
            self._items.move_to_end(key)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def put(self, key: str, value: bytes) -> None:
        if len(value) > self._max:
            return
        pieces = self._split(value)
        with self._lock:
            if key in self._items:
                return
            stored = []
            for piece in pieces:
                shared = self._pieces.get(piece)
                if shared is None:
                    self._pieces[piece] = shared = _Piece(piece)
                    self._size += len(piece)
                shared.uses += 1
                stored.append(shared.value)  # the one copy, not this document's equal bytes
            self._items[key] = tuple(stored)
            while self._size > self._max and self._items:
                _, dropped = self._items.popitem(last=False)
                for piece in dropped:
                    shared = self._pieces[piece]
                    shared.uses -= 1
                    if shared.uses == 0:
                        del self._pieces[piece]
                        self._size -= len(piece)

    @classmethod
    def _split(cls, value: bytes) -> list[bytes]:
        if not value.startswith(b"%PDF-"):
            return [value]
        pieces = value.split(cls._SPLIT)
        return [piece + cls._SPLIT for piece in pieces[:-1]] + [pieces[-1]]


class DistributionService:
    def __init__(
        self,
        certificates: CertificateRepository,
        audit: DownloadAudit,
        formats: FormatRegistry,
        clock: Clock,
        *,
        latest_rules: Mapping[str, LatestRule],
        cache: RenderCache,
        phone_region: str,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._metrics = metrics
        self._certificates = certificates
        self._audit = audit
        self._formats = formats
        self._clock = clock
        self._rules = dict(latest_rules)
        self._cache = cache
        self._phone_region = phone_region

    @property
    def entity_types(self) -> list[str]:
        return sorted(self._rules)

    def bundle(self, pre_enrollment_code: str, entity_type: str = VACCINATION) -> CertificateBundle:
        """The beneficiary's latest live certificate of that type; ``NotFound`` if none."""
        rule = self._rules.get(entity_type)
        if rule is None:
            raise NotFound(f"unknown entity type {entity_type!r}")
        records = [
            r
            for r in self._certificates.for_beneficiary(pre_enrollment_code)
            if r.entity_type == entity_type
        ]
        return self._bundle_of(latest(records, rule), records, rule)

    def bundle_for_recipient(self, certificate_id: str, mobile: str | None) -> CertificateBundle:
        """A certificate by id, only if it is live and registered to the caller's number."""
        record = self._certificates.get(certificate_id)
        if (
            record is None
            or not record.is_live
            or not mobile
            or record.mobile != self._normalized(mobile)
        ):
            raise NotFound("no such certificate")
        rule = self._rules.get(record.entity_type, LatestRule.NEWEST)
        siblings = [
            r
            for r in self._certificates.for_beneficiary(record.pre_enrollment_code)
            if r.entity_type == record.entity_type
        ]
        return self._bundle_of(record, siblings, rule)

    def exists(self, pre_enrollment_code: str, entity_type: str = VACCINATION) -> bool:
        try:
            self.bundle(pre_enrollment_code, entity_type)
        except NotFound:
            return False
        return True

    def etag(self, bundle: CertificateBundle, format_name: str) -> str:
        return bundle.fingerprint(self._formats.get(format_name).version)

    def render(
        self,
        bundle: CertificateBundle,
        format_name: str,
        *,
        caller: Principal,
        permission: Permission,
    ) -> Artifact:
        """The document in that format, audited as delivered to ``caller``."""
        artifact = self.render_if_cached(bundle, format_name, caller=caller, permission=permission)
        if artifact is not None:
            return artifact
        fmt = self._formats.get(format_name)
        content = fmt.render(bundle)
        self._cache.put(bundle.fingerprint(fmt.version), content)
        return self.deliver(bundle, fmt, content, caller=caller, permission=permission)

    def render_if_cached(
        self,
        bundle: CertificateBundle,
        format_name: str,
        *,
        caller: Principal,
        permission: Permission,
    ) -> Artifact | None:
        """Like :meth:`render` when this process has the document already, else None."""
        fmt = self._formats.get(format_name)
        content = self._cache.get(bundle.fingerprint(fmt.version))
        if content is None:
            return None
        return self.deliver(bundle, fmt, content, caller=caller, permission=permission)

    def deliver(
        self,
        bundle: CertificateBundle,
        fmt: CertificateFormat,
        content: bytes,
        *,
        caller: Principal,
        permission: Permission,
    ) -> Artifact:
        """Audit a document (rendered here, or outside the cache because it depends on the
        request, like an EU DCC with names the person supplied) and wrap it as an
        :class:`Artifact`."""
        record = bundle.latest
        self.record_view(bundle, fmt.name, caller=caller, permission=permission)
        self._metrics.document_delivered(fmt.name)
        return Artifact(
            content=content,
            etag=bundle.fingerprint(fmt.version),
            media_type=fmt.media_type,
            filename=f"certificate-{record.certificate_id}.{fmt.extension}",
        )

    def record_view(
        self, bundle: CertificateBundle, label: str, *, caller: Principal, permission: Permission
    ) -> None:
        """Audit a certificate shown as a page rather than sent as a document (``label`` is
        what the audit's format column says, e.g. ``print-view``)."""
        self._audit.record(
            Download(
                id=new_record_id(),
                at=self._clock.now(),
                actor=caller.username,
                issuer=caller.issuer,
                permission=permission.value,
                certificate_id=bundle.latest.certificate_id,
                pre_enrollment_code=bundle.latest.pre_enrollment_code,
                format=label,
            )
        )

    def beneficiaries(self, phone: str, dob: date) -> list[BeneficiarySummary]:
        """For facility print staff: who on this phone number has this date of birth."""
        found: dict[str, BeneficiarySummary] = {}
        for record in self._certificates.for_mobile(self._normalized(phone)):
            if record.dob == dob and record.pre_enrollment_code not in found:
                found[record.pre_enrollment_code] = BeneficiarySummary(
                    record.pre_enrollment_code, record.name, record.gender, record.dob
                )
        return sorted(found.values(), key=lambda b: b.pre_enrollment_code)

    def _bundle_of(
        self,
        chosen: CertificateRecord | None,
        records: Sequence[CertificateRecord],
        rule: LatestRule,
    ) -> CertificateBundle:
        if chosen is None:
            raise NotFound("no certificate for this beneficiary")
        return CertificateBundle.of(chosen, records, rule)

    def _normalized(self, phone: str) -> str:
        try:
            return normalize_mobile(phone, self._phone_region)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
