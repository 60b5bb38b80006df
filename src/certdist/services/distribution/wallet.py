"""Health-wallet formats as a service: their keys and issuers, recipient scoping, JWKS, and
the SMART Health Card revocation list.

Everything here is built once per process by ``distribution.wire`` and never changes
afterwards: each request carries its own bundle and names, and nothing about one request is
kept for another (DIVOC kept the EU certificate request in shared mutable state and served
one person's certificate to another).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, Generic, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certdist.config import SiteSection, WalletSettings
from certdist.domain.models import TEST, VACCINATION
from certdist.domain.phone import normalize_mobile
from certdist.domain.roles import Permission, Principal
from certdist.errors import InvalidInput, NotFound
from certdist.formats import sd_jwt_vc_types
from certdist.formats.eu_dcc import DccIssuer, DccNames, DccProfile, DccVaccine
from certdist.formats.fhir import FhirDocumentIssuer
from certdist.formats.lab_test import LabResult, LabTestCodes, LabTestType
from certdist.formats.pdf import PdfRenderer
from certdist.formats.registry import (
    CertificateBundle,
    CertificateFormat,
    FormatRegistry,
    renders,
)
from certdist.formats.sd_jwt_vc import SdJwtVcIssuer
from certdist.formats.shc import Coding, ShcIssuer, revocation_id
from certdist.formats.wallet_formats import (
    EuDccPdfFormat,
    EuDccQrFormat,
    FhirFormat,
    ShcFileFormat,
    ShcPdfFormat,
    ShcQrFormat,
)
from certdist.services.common import Clock, KeyedHasher, sd_jwt_rid_seal
from certdist.services.distribution.service import Artifact, DistributionService
from certdist.signing.dsc import (
    DocumentSigners,
    UploadSigner,
    ensure_local_signers,
    load_signers,
    load_upload_signer,
)
from certdist.signing.jose import p256_jwk, thumbprint
from certdist.signing.keys import KeyStore, KeyUse
from certdist.storage.repository import CertificateRepository, WithdrawnCertificate

log = logging.getLogger(__name__)

#: The keyed-hash purpose of SMART Health Card revocation ids.
SHC_RID_PURPOSE: Final = "shc-rid"
#: The most rids one revocation list holds (about 14 bytes each in the JSON).
MAX_REVOCATION_ENTRIES: Final = 100_000
#: The kinds of certificate the wallet serves, in the order a beneficiary's is looked for:
#: DIVOC's wallet routes served the vaccination certificate, so it comes first.
WALLET_KINDS: Final = (VACCINATION, TEST)
_KIND_NAMES: Final = {VACCINATION: "vaccination", TEST: "lab-test"}
K = TypeVar("K")


@dataclass(frozen=True)
class WalletIssuers:
    """The signers of the wallet formats, built once from settings and keys."""

    shc: ShcIssuer
    dcc: DccIssuer
    fhir: FhirDocumentIssuer
    document_signers: DocumentSigners
    #: SD-JWT VCs (signed with the SMART Health Card key; issued by OpenID4VCI later).
    sd_jwt_vc: SdJwtVcIssuer
    #: The gateway upload certificate and key, when configured (they sign revocation batches).
    upload_signer: UploadSigner | None = None


def open_document_signers(
    wallet: WalletSettings, site: SiteSection, keys: KeyStore, clock: Clock
) -> DocumentSigners:
    """Configured DSC certificates (production), or the local CSCA and DSCs (embedded)."""
    if wallet.dcc_dsc_certificate_files:
        return load_signers(wallet.dcc_dsc_certificate_files, keys)
    return ensure_local_signers(site.keys_dir, keys, country=wallet.dcc_country, now=clock.now())


def shc_revocation_ids(hasher: KeyedHasher) -> Callable[[str], str]:
    """Certificate id → the ``rid`` of its SMART Health Card (a keyed hash of the id)."""

    def rid(certificate_id: str) -> str:
        return revocation_id(bytes.fromhex(hasher.digest(SHC_RID_PURPOSE, certificate_id)))

    return rid


def lab_test_codes(wallet: WalletSettings) -> LabTestCodes:
    """The configured lab-test mappings (``wallet.lab_test_*``, ``wallet.dcc_test_devices``)."""
    return LabTestCodes.of(
        types={k: LabTestType(dcc=v.dcc, loinc=v.loinc) for k, v in wallet.lab_test_types.items()},
        results={
            k: LabResult(dcc=v.dcc, snomed=v.snomed) for k, v in wallet.lab_test_results.items()
        },
        diseases=wallet.lab_test_diseases,
        devices=wallet.dcc_test_devices,
    )


def build_wallet_issuers(
    wallet: WalletSettings,
    site: SiteSection,
    keys: KeyStore,
    clock: Clock,
    *,
    hasher: KeyedHasher,
    vaccine_codes: Mapping[str, Mapping[str, str]],
) -> WalletIssuers:
    """``vaccine_codes``: the top-level vaccine table, whose ICD-11 codes FHIR bundles carry."""
    signers = open_document_signers(wallet, site, keys, clock)
    shc_key = keys.active(KeyUse.SHC)
    lab_tests = lab_test_codes(wallet)
    profile = DccProfile(
        country=wallet.dcc_country,
        certificate_issuer=wallet.dcc_certificate_issuer,
        validity=timedelta(days=wallet.dcc_validity_days),
        vaccines={
            name.lower(): DccVaccine(vp=codes.vp, mp=codes.mp, ma=codes.ma)
            for name, codes in wallet.dcc_vaccines.items()
        },
        lab_tests=lab_tests,
    )
    return WalletIssuers(
        shc=ShcIssuer(
            site.public_url,
            shc_key,
            {
                name: [Coding(c.system, c.code) for c in codings]
                for name, codings in wallet.shc_vaccine_codes.items()
            },
            revocation_id=shc_revocation_ids(hasher),
            lab_tests=lab_tests,
        ),
        dcc=DccIssuer(profile, signers.active, clock.now),
        fhir=FhirDocumentIssuer(
            issuer=site.public_url,
            country=wallet.dcc_country,
            icd11_codes={
                name: codes["icd11Code"]
                for name, codes in vaccine_codes.items()
                if "icd11Code" in codes
            },
            key=shc_key,
        ),
        document_signers=signers,
        sd_jwt_vc=SdJwtVcIssuer(
            site.public_url,
            shc_key,
            revocation_ref=sd_jwt_rid_seal(hasher).seal,
            now=clock.now,
        ),
        upload_signer=(
            None
            if wallet.dcc_upload_certificate_file is None or wallet.dcc_upload_key_file is None
            else load_upload_signer(wallet.dcc_upload_certificate_file, wallet.dcc_upload_key_file)
        ),
    )


def wallet_formats(issuers: WalletIssuers, renderer: PdfRenderer) -> list[CertificateFormat]:
    return [
        ShcQrFormat(issuers.shc),
        ShcPdfFormat(issuers.shc, renderer),
        ShcFileFormat(issuers.shc),
        EuDccQrFormat(issuers.dcc),
        EuDccPdfFormat(issuers.dcc, renderer),
        FhirFormat(issuers.fhir),
    ]


def shc_jwks(keys: KeyStore, *, crl_version: int | None = None) -> dict[str, Any]:
    """The SMART Health Card issuer keys, active and retired (cards they signed still
    verify), as a JWK set; each ``kid`` is the key's RFC 7638 thumbprint. ``crl_version``
    (the revocation list's ``ctr``) says that each key has a revocation list."""
    published = []
    for info in keys.public_keys():
        if info.use is not KeyUse.SHC:
            continue
        public = serialization.load_pem_public_key(info.pem.encode())
        if isinstance(public, ec.EllipticCurvePublicKey):
            jwk: dict[str, Any] = {
                **p256_jwk(public),
                "kid": thumbprint(public),
                "use": "sig",
                "alg": "ES256",
            }
            if crl_version is not None:
                jwk["crlVersion"] = crl_version
            published.append(jwk)
    return {"keys": published}


class WithdrawnList(Generic[K]):
    """The vaccination and lab-test certificates that were revoked or superseded by a
    correction (the newest ``limit``), each with its key in a published list (``key_of``).

    Withdrawals only ever add to the list, so the count of withdrawn certificates (an
    index-only count) tells whether the list read last is still whole; a verifier checking
    many certificates then reads the list once per withdrawal, not once per certificate.
    """

    def __init__(
        self,
        certificates: CertificateRepository,
        key_of: Callable[[str], K],
        *,
        limit: int = MAX_REVOCATION_ENTRIES,
        name: str = "revocation list",
    ) -> None:
        self._certificates = certificates
        self._limit = limit
        self._name = name
        # Certificate ids never change their key: remember the keys of the list's entries.
        self._key_of = functools.lru_cache(maxsize=limit)(key_of)
        self._cached: tuple[int, list[tuple[K, WithdrawnCertificate]]] | None = None
        self._lock = threading.Lock()

    def total(self) -> int:
        """How many certificates were ever withdrawn (more than the list holds past ``limit``)."""
        return sum(self._certificates.withdrawn(kind, limit=0).total for kind in WALLET_KINDS)

    def entries(self) -> tuple[int, list[tuple[K, WithdrawnCertificate]]]:
        """:meth:`total`, and the newest withdrawn certificates with their keys."""
        total = self.total()
        with self._lock:
            cached = self._cached
        if cached is not None and cached[0] == total:
            return cached
        loaded = self._load()
        with self._lock:
            self._cached = loaded
        return loaded

    def find(self, key: K) -> WithdrawnCertificate | None:
        _, entries = self.entries()
        return next((entry for listed, entry in entries if listed == key), None)

    def _load(self) -> tuple[int, list[tuple[K, WithdrawnCertificate]]]:
        total, newest = 0, list[WithdrawnCertificate]()
        for kind in WALLET_KINDS:
            withdrawn = self._certificates.withdrawn(kind, limit=self._limit - len(newest))
            total += withdrawn.total
            newest.extend(withdrawn.newest)
        if total > len(newest):
            log.warning(
                "the %s holds only the newest withdrawals",
                self._name,
                extra={"listed": len(newest), "withdrawn": total},
            )
        return total, [(self._key_of(e.certificate_id), e) for e in newest]


class ShcRevocationList:
    """Our SMART Health Card revocation list: the rids of the vaccination and lab-test
    certificates that were revoked or superseded by a correction.

    Every card names the latest certificate it was built from (``rid`` of its id), so
    withdrawing that certificate withdraws the card. The rids do not depend on the
    signing key: every key's list is the same. ``ctr`` is one more than the number of
    withdrawn certificates, so it grows with every withdrawal (and an empty list is 1).
    """

    def __init__(
        self,
        certificates: CertificateRepository,
        revocation_id: Callable[[str], str],
        *,
        limit: int = MAX_REVOCATION_ENTRIES,
    ) -> None:
        self._list = WithdrawnList(
            certificates,
            revocation_id,
            limit=limit,
            name="SMART Health Card revocation list",
        )

    def version(self) -> int:
        """The list's ``ctr`` (the ``crlVersion`` in the JWK set)."""
        return self._list.total() + 1

    def document(self, kid: str) -> dict[str, Any]:
        """``/.well-known/crl/<kid>.json``."""
        total, entries = self._list.entries()
        return {
            "kid": kid,
            "method": "rid",
            "ctr": total + 1,
            "rids": [rid for rid, _ in entries],
        }

    def withdrawn(self, rid: str) -> WithdrawnCertificate | None:
        """The withdrawn certificate whose cards carry ``rid``, if any (the verifier's check)."""
        return self._list.find(rid)


class WalletService:
    """Serves the wallet formats of a beneficiary's latest vaccination certificate, or of
    their latest lab-test certificate when they have no vaccination certificate."""

    def __init__(
        self,
        distribution: DistributionService,
        issuers: WalletIssuers,
        keys: KeyStore,
        *,
        revocations: ShcRevocationList,
        renderer: PdfRenderer,
        phone_region: str,
    ) -> None:
        self._distribution = distribution
        self._keys = keys
        self.revocations = revocations
        self._phone_region = phone_region
        self.issuers = issuers
        self._eu_qr = EuDccQrFormat(issuers.dcc)
        self._eu_pdf = EuDccPdfFormat(issuers.dcc, renderer)
        self._formats = FormatRegistry(wallet_formats(issuers, renderer))

    def bundle(
        self,
        pre_enrollment_code: str,
        *,
        caller: Principal,
        permission: Permission,
        format_name: str | None = None,
    ) -> CertificateBundle:
        """The latest certificate of the first kind of :data:`WALLET_KINDS` the beneficiary
        has (of those the named wallet format renders); a recipient gets only one registered
        to the mobile number of their token (NotFound otherwise, whether or not it exists).
        ``InvalidInput`` when the beneficiary's certificates are all of kinds the format
        cannot express."""
        wanted: tuple[str, ...] = WALLET_KINDS
        if format_name is not None:
            fmt = self._formats.get(format_name)
            wanted = tuple(kind for kind in WALLET_KINDS if renders(fmt, kind))
        for kind in wanted:
            bundle = self._owned_bundle(pre_enrollment_code, kind, caller, permission)
            if bundle is not None:
                return bundle
        for kind in WALLET_KINDS:
            if kind not in wanted and self._owned_bundle(
                pre_enrollment_code, kind, caller, permission
            ):
                raise InvalidInput(
                    f"the {format_name} format is not issued for "
                    f"{_KIND_NAMES.get(kind, kind)} certificates"
                )
        raise NotFound("no certificate for this beneficiary")

    def _owned_bundle(
        self, code: str, kind: str, caller: Principal, permission: Permission
    ) -> CertificateBundle | None:
        try:
            bundle = self._distribution.bundle(code, kind)
        except NotFound:
            return None
        if permission is Permission.RECIPIENT and not self._owned_by(bundle, caller):
            return None
        return bundle

    def eu_dcc(
        self,
        bundle: CertificateBundle,
        names: DccNames,
        *,
        pdf: bool,
        caller: Principal,
        permission: Permission,
    ) -> Artifact:
        """An EU DCC with the names the person supplied: rendered for this request only."""
        fmt: EuDccQrFormat | EuDccPdfFormat = self._eu_pdf if pdf else self._eu_qr
        content = fmt.render_named(bundle, names)
        return self._distribution.deliver(
            bundle, fmt, content, caller=caller, permission=permission
        )

    def jwks(self) -> dict[str, Any]:
        return shc_jwks(self._keys, crl_version=self.revocations.version())

    def jwt_vc_issuer(self) -> dict[str, Any]:
        """The JWT VC issuer metadata of the SD-JWT VC draft: our ``issuer`` identifier and
        the keys its credentials are signed with (the SMART Health Card keys)."""
        return {"issuer": self.issuers.sd_jwt_vc.issuer, "jwks": shc_jwks(self._keys)}

    def type_metadata(self, kind: str) -> dict[str, Any]:
        """The SD-JWT VC Type Metadata of ``kind`` (vaccination or test), whose ``vct`` is
        the URL it is served at (``NotFound`` for another kind)."""
        if kind not in sd_jwt_vc_types.TYPES:
            raise NotFound("no SD-JWT VC type of this kind")
        return sd_jwt_vc_types.type_metadata(kind, self.issuers.sd_jwt_vc.vct(kind))

    def revocation_list(self, kid: str) -> dict[str, Any]:
        """The revocation list of one of our SMART Health Card keys (NotFound for others)."""
        if kid not in {key["kid"] for key in shc_jwks(self._keys)["keys"]}:
            raise NotFound("no SMART Health Card key with this kid")
        return self.revocations.document(kid)

    def _owned_by(self, bundle: CertificateBundle, caller: Principal) -> bool:
        if not caller.mobile or not bundle.latest.mobile:
            return False
        try:
            return normalize_mobile(caller.mobile, self._phone_region) == bundle.latest.mobile
        except ValueError:
            return False
