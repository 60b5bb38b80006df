"""The DigiLocker issuer (pull) API: Pull URI finds a citizen's certificate, Pull Doc serves it.

Order of checks, cheapest and least trusting first:

1. the body size (``BodyLimit`` middleware, 413);
2. the HMAC of the **whole** raw body with the API key (constant-time) — 401 otherwise, so
   an unauthenticated body never reaches the XML parser;
3. the XML (defusedxml: no DTD, no entities) — 400 when malformed;
4. ``ts`` within the allowed skew, and ``txn`` not seen before for this operation;
5. the lookup: Pull URI needs the tracking id (beneficiary id), the mobile number **and**
   the date of birth to match, and the name too when DigiLocker sends one
   (:func:`certdist.domain.digilocker.names_match`); Pull Doc needs a URI that Pull URI issued
   to the same DigiLocker account.

From step 4 on, every refusal is a well-formed response with ``Status="0"`` that says
nothing about why (the reason goes to the audit and the log, without personal data). Every
call, answered or refused, is one row of the integration audit; delivered documents also go
to the download audit through the distribution service.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, TypeVar

import phonenumbers

from certdist.config import DIGILOCKER_DEV_API_KEY, DigilockerSettings
from certdist.domain.digilocker import (
    IssuedPerson,
    PullAnswer,
    PullFormat,
    PullUriRequest,
    document_uri,
    names_match,
    parse_dob,
    parse_timestamp,
    within_skew,
)
from certdist.domain.models import VACCINATION
from certdist.domain.phone import normalize_mobile
from certdist.domain.requests import PRE_ENROLLMENT_CODE_PATTERN
from certdist.domain.roles import Permission, Principal
from certdist.errors import AuthenticationFailed, ConfigurationError, InvalidInput, NotFound
from certdist.formats import digilocker_xml
from certdist.formats.registry import CertificateBundle
from certdist.services.common import Clock, KeyedHasher
from certdist.services.distribution import DistributionService
from certdist.services.integrations.calls import record_call
from certdist.storage.integrations import IssuedUri, SqlIntegrationRepository
from certdist.storage.repository import CertificateRepository

log = logging.getLogger(__name__)

CHANNEL_PULL_URI = "digilocker-pull-uri"
CHANNEL_PULL_DOC = "digilocker-pull-doc"
_ACCOUNT_PURPOSE = "digilocker-account"
_ANONYMOUS = "-"
_CODE = re.compile(PRE_ENROLLMENT_CODE_PATTERN)
_Request = TypeVar("_Request")

HmacEncoding = Literal["base64-hex", "base64-raw"]


@dataclass(frozen=True)
class DigilockerOptions:
    api_key: bytes
    hmac_encoding: HmacEncoding
    issuer_id: str
    doc_type: str
    tracking_id_element: str
    mobile_element: str
    max_clock_skew_seconds: int
    naive_ts_offset_minutes: int
    phone_region: str


class _Refused(Exception):
    """A pull that gets ``Status="0"``; ``reason`` is an audit code, never personal data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DigilockerService:
    def __init__(
        self,
        distribution: DistributionService,
        certificates: CertificateRepository,
        integrations: SqlIntegrationRepository,
        hasher: KeyedHasher,
        clock: Clock,
        options: DigilockerOptions,
    ) -> None:
        self._distribution = distribution
        self._certificates = certificates
        self._integrations = integrations
        self._hasher = hasher
        self._clock = clock
        self._options = options

    # --- authentication ---------------------------------------------------------------------

    def signature(self, body: bytes) -> str:
        """The HMAC header value DigiLocker sends with ``body``."""
        return sign_body(self._options.api_key, body, self._options.hmac_encoding)

    def _authenticate(self, body: bytes, header: str | None) -> None:
        presented = (header or "").strip().encode("latin-1", errors="replace")
        expected = self.signature(body).encode("ascii")
        if not presented or not hmac.compare_digest(expected, presented):
            raise AuthenticationFailed("the request's HMAC header does not verify")

    # --- Pull URI ---------------------------------------------------------------------------

    def pull_uri(self, body: bytes, hmac_header: str | None) -> bytes:
        """The PullURIResponse document for a signed PullURIRequest body."""
        request = self._authenticated(CHANNEL_PULL_URI, body, hmac_header, self._parse_uri)
        account = self._account(request.digilocker_id)
        answer = PullAnswer(ts=request.ts, txn=request.txn)
        certificate_id = None
        try:
            self._check_fresh(CHANNEL_PULL_URI, request.ts, request.txn, request.digilocker_id)
            if request.doc_type and request.doc_type != self._options.doc_type:
                raise _Refused("other-doc-type")
            bundle = self._find(request.tracking_id)
            record = bundle.latest
            certificate_id = record.certificate_id
            self._match_person(bundle, request.mobile, request.dob, request.full_name)
            uri = document_uri(self._options.issuer_id, self._options.doc_type, certificate_id)
            pdf, data = self._documents(bundle, uri, request.format, account)
            self._integrations.record_issued(
                IssuedUri(
                    account=account,
                    uri=uri,
                    certificate_id=certificate_id,
                    pre_enrollment_code=record.pre_enrollment_code,
                    issued_at=self._clock.now(),
                )
            )
            answer = PullAnswer(
                ts=request.ts,
                txn=request.txn,
                ok=True,
                doc_type=self._options.doc_type,
                digilocker_id=request.digilocker_id,
                uri=uri,
                person=self._person(bundle),
                pdf=pdf,
                data=data,
            )
            outcome = "issued"
        except _Refused as refusal:
            outcome = refusal.reason
        self._audit(CHANNEL_PULL_URI, account, request.txn, outcome, certificate_id)
        return digilocker_xml.pull_uri_response(answer)

    # --- Pull Doc ---------------------------------------------------------------------------

    def pull_doc(self, body: bytes, hmac_header: str | None) -> bytes:
        """The PullDocResponse document for a signed PullDocRequest body."""
        request = self._authenticated(
            CHANNEL_PULL_DOC, body, hmac_header, digilocker_xml.parse_pull_doc_request
        )
        account = self._account(request.digilocker_id)
        answer = PullAnswer(ts=request.ts, txn=request.txn)
        certificate_id = None
        try:
            self._check_fresh(CHANNEL_PULL_DOC, request.ts, request.txn, request.digilocker_id)
            issued = self._integrations.issued(account, request.uri) if request.uri else None
            if issued is None:
                raise _Refused("not-issued-to-account")
            certificate_id = issued.certificate_id
            bundle = self._issued_bundle(certificate_id)
            pdf, data = self._documents(bundle, issued.uri, request.format, account)
            answer = PullAnswer(
                ts=request.ts, txn=request.txn, ok=True, uri=issued.uri, pdf=pdf, data=data
            )
            outcome = "delivered"
        except _Refused as refusal:
            outcome = refusal.reason
        self._audit(CHANNEL_PULL_DOC, account, request.txn, outcome, certificate_id)
        return digilocker_xml.pull_doc_response(answer)

    # --- steps ------------------------------------------------------------------------------

    def _authenticated(
        self,
        channel: str,
        body: bytes,
        hmac_header: str | None,
        parse: Callable[[bytes], _Request],
    ) -> _Request:
        """Authenticate, then parse; audit the call when either fails, and re-raise."""
        try:
            self._authenticate(body, hmac_header)
        except AuthenticationFailed:
            self._audit(channel, _ANONYMOUS, None, "bad-signature", None)
            raise
        try:
            return parse(body)
        except InvalidInput:
            self._audit(channel, _ANONYMOUS, None, "malformed", None)
            raise

    def _parse_uri(self, body: bytes) -> PullUriRequest:
        return digilocker_xml.parse_pull_uri_request(
            body,
            tracking_id_element=self._options.tracking_id_element,
            mobile_element=self._options.mobile_element,
        )

    def _account(self, digilocker_id: str) -> str:
        return self._hasher.digest(_ACCOUNT_PURPOSE, digilocker_id) if digilocker_id else _ANONYMOUS

    def _check_fresh(self, operation: str, ts: str, txn: str, digilocker_id: str) -> None:
        if not digilocker_id:
            raise _Refused("no-digilocker-id")
        if not txn:
            raise _Refused("no-txn")
        stamp = parse_timestamp(ts, self._options.naive_ts_offset_minutes)
        now = self._clock.now()
        skew = self._options.max_clock_skew_seconds
        if stamp is None or not within_skew(stamp, now, skew):
            raise _Refused("stale-ts")
        # A request can pass the ts check for 2 x skew; remember its txn at least that long.
        expires_at = now + timedelta(seconds=2 * skew + 60)
        if not self._integrations.claim_transaction(operation, txn, now=now, expires_at=expires_at):
            raise _Refused("replayed-txn")

    def _find(self, tracking_id: str) -> CertificateBundle:
        if not tracking_id or not _CODE.fullmatch(tracking_id):
            raise _Refused("not-found")
        try:
            return self._distribution.bundle(tracking_id, VACCINATION)
        except NotFound:
            raise _Refused("not-found") from None

    def _match_person(self, bundle: CertificateBundle, mobile: str, dob: str, name: str) -> None:
        record = bundle.latest
        try:
            presented = normalize_mobile(mobile, self._options.phone_region) if mobile else ""
        except ValueError:
            presented = ""
        if not presented or not hmac.compare_digest(
            (record.mobile or "").encode(), presented.encode()
        ):
            raise _Refused("mobile-mismatch")
        parsed_dob = parse_dob(dob)
        if parsed_dob is None or record.dob is None or parsed_dob != record.dob:
            raise _Refused("dob-mismatch")
        if name and not names_match(record.name, name):
            raise _Refused("name-mismatch")

    def _issued_bundle(self, certificate_id: str) -> CertificateBundle:
        record = self._certificates.get(certificate_id)
        if record is None or not record.is_live or not record.mobile:
            raise _Refused("not-live")
        try:
            # The account proved this mobile number when the URI was issued to it.
            return self._distribution.bundle_for_recipient(certificate_id, record.mobile)
        except NotFound:
            raise _Refused("not-live") from None

    def _documents(
        self, bundle: CertificateBundle, uri: str, wanted: PullFormat, account: str
    ) -> tuple[bytes | None, bytes | None]:
        caller = Principal(
            subject=account,
            username=f"digilocker:{account[:16]}",
            roles=frozenset(),
            issuer="digilocker",
        )
        pdf = data = None
        if wanted.wants_pdf:
            pdf = self._distribution.render(
                bundle, "pdf", caller=caller, permission=Permission.DIGILOCKER
            ).content
        if wanted.wants_xml:
            # Rendered through the distribution service so the download audit records the
            # signed credential as delivered; its bytes are the record's signed text.
            self._distribution.render(
                bundle, "json", caller=caller, permission=Permission.DIGILOCKER
            )
            issuance_date = str(bundle.credential.get("issuanceDate", ""))
            data = digilocker_xml.certificate_data(bundle.latest, uri, issuance_date)
        return pdf, data

    def _person(self, bundle: CertificateBundle) -> IssuedPerson:
        record = bundle.latest
        return IssuedPerson(
            name=record.name, dob=record.dob, gender=record.gender, phone=_national(record.mobile)
        )

    def _audit(
        self, channel: str, account: str, txn: str | None, outcome: str, certificate_id: str | None
    ) -> None:
        record_call(
            self._integrations,
            self._clock,
            channel=channel,
            actor=account,
            txn=txn,
            outcome=outcome,
            certificate_id=certificate_id,
        )
        log.info(
            "digilocker pull",
            extra={"channel": channel, "outcome": outcome, "account": account[:12]},
        )


def sign_body(api_key: bytes, body: bytes, encoding: HmacEncoding) -> str:
    """``x-digilocker-hmac`` for ``body``: base64 of the hex (or raw) HMAC-SHA256."""
    mac = hmac.new(api_key, body, hashlib.sha256)
    digest = mac.hexdigest().encode("ascii") if encoding == "base64-hex" else mac.digest()
    return base64.b64encode(digest).decode("ascii")


def _national(e164: str | None) -> str:
    """DigiLocker shows phone numbers without the country code (``9876543210``)."""
    if not e164:
        return ""
    try:
        return str(phonenumbers.parse(e164, None).national_number)
    except phonenumbers.NumberParseException:
        return ""


def load_api_key(section: DigilockerSettings, *, production: bool) -> bytes | None:
    """The configured key (file first), the public development key in development mode, or
    None when the endpoints are disabled. Production without a key never gets here:
    ``Settings.check`` refuses it."""
    if not section.enabled:
        return None
    if section.api_key_file is not None:
        try:
            key = section.api_key_file.read_bytes().strip()
        except OSError as exc:
            raise ConfigurationError(
                f"digilocker.api_key_file cannot be read ({exc.strerror})"
            ) from None
        if not key:
            raise ConfigurationError("digilocker.api_key_file is empty")
        return key
    if section.api_key is not None:
        value = section.api_key.get_secret_value().encode("utf-8")
        if not value.strip():
            raise ConfigurationError("digilocker.api_key is empty")
        return value
    if production:
        raise ConfigurationError("digilocker is enabled but has no api_key_file")
    return DIGILOCKER_DEV_API_KEY.encode("utf-8")
