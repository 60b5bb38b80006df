"""Share links: a citizen lets someone else open one certificate, for a while.

* The token is 256 bits from ``secrets`` and is stored only as a keyed hash; the owner sees it
  once, when the link is made. The owner (a mobile number) is stored as a keyed hash too.
* A link dies when it expires, when its owner revokes it, when its certificate is corrected
  or revoked (it is no longer live), or after 5 wrong passcodes over its whole life. A dead
  link answers exactly like one that never existed (``NotFound``).
* Passcodes are hashed with scrypt (slow on purpose: the hash does not give the passcode
  away to someone holding a copy of the table). Each guess first reserves one of the
  remaining attempts with an atomic conditional UPDATE and only then is checked, so however
  many guesses arrive at once, no more than 5 are ever checked.
* The visitor's view is minimal: name, year of birth, status, QR, PDF — never the phone
  number or identity numbers. Every opening and download is in the owner's access log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from certdist.domain.models import CertificateRecord
from certdist.domain.roles import Permission, Principal
from certdist.domain.sharing import LinkAccess, ShareKind, ShareLink
from certdist.errors import FieldError, InvalidInput, NotFound, PasscodeRejected
from certdist.formats.qr_image import qr_png
from certdist.services.common import Clock, KeyedHasher, RateLimiter, new_record_id
from certdist.services.distribution import Artifact, DistributionService
from certdist.storage.repository import CertificateRepository
from certdist.storage.share_links import SqlShareLinks

#: Wrong passcodes a link survives over its whole life.
PASSCODE_FAILURE_CAP = 5
PASSCODE_MIN, PASSCODE_MAX = 4, 64
#: How long a correct passcode unlocks the link in that browser.
UNLOCK_LIFETIME = timedelta(minutes=30)
_DAY = 24 * 3600

# scrypt cost: 2^15 × 8 × 128 bytes = 32 MiB and about 70 ms per check (measured here).
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024

_TOKEN_PURPOSE = "share-link-token"  # noqa: S105 - a hash purpose label, not a secret
_OWNER_PURPOSE = "share-link-owner"
_UNLOCK_PURPOSE = "share-link-unlock"
_FORM_PURPOSE = "share-link-form"
#: Link ids are ``new_record_id()`` UUIDs; nothing else is looked up (PostgreSQL refuses a
#: NUL byte in a query with an error, not an empty answer).
_LINK_ID = re.compile(r"[0-9a-f\-]{36}")


class Expiry(StrEnum):
    HOUR = "1h"
    DAY = "1d"
    WEEK = "7d"
    MONTH = "30d"

    @property
    def lifetime(self) -> timedelta:
        return {
            Expiry.HOUR: timedelta(hours=1),
            Expiry.DAY: timedelta(days=1),
            Expiry.WEEK: timedelta(days=7),
            Expiry.MONTH: timedelta(days=30),
        }[self]


class LinkState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    LOCKED = "locked"  # too many wrong passcodes
    CERTIFICATE_REPLACED = "certificate-replaced"  # corrected or revoked since


@dataclass(frozen=True)
class CreatedLink:
    link: ShareLink
    token: str  # shown to the owner once, never stored
    url: str


@dataclass(frozen=True)
class LinkOverview:
    """What the owner sees of one link."""

    link: ShareLink
    state: LinkState
    accesses: list[LinkAccess] = field(default_factory=list)


@dataclass(frozen=True)
class SharedView:
    """What a visitor sees: nothing that identifies the holder beyond name and birth year."""

    link_id: str
    kind: ShareKind
    name: str
    birth_year: int | None
    status: str  # "valid": only live certificates are ever shown
    certificate_id: str
    expires_at: datetime


def check_passcode_length(passcode: str | None) -> None:
    if passcode is not None and not PASSCODE_MIN <= len(passcode) <= PASSCODE_MAX:
        raise InvalidInput(
            "invalid passcode",
            [FieldError("passcode", f"must be {PASSCODE_MIN} to {PASSCODE_MAX} characters long")],
        )


def hash_passcode(passcode: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(passcode, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return "$".join(
        ["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)]
    )


def passcode_matches(passcode: str, stored: str) -> bool:
    scheme, n, r, p, salt, digest = stored.split("$")
    if scheme != "scrypt":
        return False
    computed = _scrypt(passcode, _unb64(salt), int(n), int(r), int(p))
    return hmac.compare_digest(computed, _unb64(digest))


def _scrypt(passcode: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        passcode.encode(), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=32
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def visitor(link: ShareLink) -> Principal:
    """Who a download through a link is audited as: the link, since its visitor is anonymous."""
    return Principal(
        subject=f"share-link:{link.id}",
        username=f"share-link:{link.id}",
        roles=frozenset(),
        issuer="share-link",
    )


class SharingService:
    def __init__(
        self,
        links: SqlShareLinks,
        certificates: CertificateRepository,
        distribution: DistributionService,
        hasher: KeyedHasher,
        rate_limiter: RateLimiter,
        clock: Clock,
        *,
        public_url: str,
        links_per_day: int,
    ) -> None:
        self._links = links
        self._certificates = certificates
        self._distribution = distribution
        self._hasher = hasher
        self._limiter = rate_limiter
        self._clock = clock
        self._public_url = public_url.rstrip("/")
        self._links_per_day = links_per_day

    # --- the owner ------------------------------------------------------------------------

    def owner_key(self, mobile: str) -> str:
        """The keyed hash that stands for the owner's mobile number in storage and limits."""
        return self._hasher.digest(_OWNER_PURPOSE, mobile)

    def create(
        self,
        owner_mobile: str,
        certificate_id: str,
        *,
        kind: ShareKind = ShareKind.FULL,
        expiry: Expiry = Expiry.WEEK,
        passcode: str | None = None,
    ) -> CreatedLink:
        """A new link to one of the owner's live certificates (``NotFound`` for anyone
        else's, as if it did not exist)."""
        record = self.owned_live(certificate_id, owner_mobile)
        check_passcode_length(passcode)
        owner = self.count_creation(owner_mobile)
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        link = ShareLink(
            id=new_record_id(),
            token_hash=self._hasher.digest(_TOKEN_PURPOSE, token),
            owner_hash=owner,
            certificate_id=record.certificate_id,
            pre_enrollment_code=record.pre_enrollment_code,
            kind=kind,
            passcode_hash=hash_passcode(passcode) if passcode else None,
            failed_attempts=0,
            created_at=now,
            expires_at=now + expiry.lifetime,
        )
        self._links.create(link)
        return CreatedLink(link=link, token=token, url=self.url_for(token))

    def count_creation(self, owner_mobile: str) -> str:
        """Count one new link against the owner's daily limit (every kind shares it); the
        owner's key."""
        owner = self.owner_key(owner_mobile)
        self._limiter.hit(
            "share-link-create", owner, limit=self._links_per_day, window_seconds=_DAY
        )
        return owner

    def links_of(self, owner_mobile: str) -> list[LinkOverview]:
        """The owner's links, newest first, each with its state and access log."""
        links = self._links.for_owner(self.owner_key(owner_mobile))
        accesses = self._links.accesses([link.id for link in links])
        return [LinkOverview(link, self.state(link), accesses[link.id]) for link in links]

    def revoke(self, owner_mobile: str, link_id: str) -> None:
        if not _LINK_ID.fullmatch(link_id):
            raise NotFound("no such share link")
        if not self._links.revoke(link_id, self.owner_key(owner_mobile), at=self._clock.now()):
            raise NotFound("no such share link")

    # --- the visitor ----------------------------------------------------------------------

    def url_for(self, token: str) -> str:
        return f"{self._public_url}/s/{token}"

    def resolve(self, token: str) -> ShareLink:
        """The live link for ``token``; ``NotFound`` for unknown and dead links alike."""
        link = self._links.by_token_hash(self._hasher.digest(_TOKEN_PURPOSE, token))
        if link is None or self.state(link) is not LinkState.ACTIVE:
            raise NotFound("no such share link")
        return link

    def try_passcode(self, token: str, passcode: str) -> ShareLink:
        """Check a passcode guess. ``PasscodeRejected`` when wrong (the guess counts),
        ``NotFound`` once the link is dead (including by its last wrong guess)."""
        return self.check_passcode(self.resolve(token), passcode)

    def check_passcode(
        self, link: ShareLink, passcode: str, *, recipient: str | None = None
    ) -> ShareLink:
        """Check a guess for a live ``link``: ``PasscodeRejected`` (with the attempts left)
        when wrong, ``NotFound`` when no attempt is left."""
        if link.passcode_hash is None:
            return link
        if not self._links.reserve_guess(link.id, cap=PASSCODE_FAILURE_CAP):
            raise NotFound("no such share link")
        if passcode_matches(passcode[:PASSCODE_MAX], link.passcode_hash):
            self._links.refund_guess(link.id)
            return link
        self.record(link, "wrong-passcode", recipient=recipient)
        after = self._links.by_id(link.id)
        used = after.failed_attempts if after else PASSCODE_FAILURE_CAP
        raise PasscodeRejected(PASSCODE_FAILURE_CAP - used)

    def unlock_grant(self, link: ShareLink, browser: str) -> str:
        """A value that proves, until it expires, that this browser gave the right passcode.
        ``browser`` is a random value the browser holds in a cookie of its own."""
        expires = int((self._clock.now() + UNLOCK_LIFETIME).timestamp())
        return f"{expires}.{self._grant_mac(link.id, browser, expires)}"

    def grant_valid(self, link: ShareLink, browser: str, grant: str | None) -> bool:
        if link.passcode_hash is None:
            return True
        if not grant or not browser:
            return False
        expires_text, _, mac = grant.partition(".")
        # The cookie is the client's text: ASCII digits only (``"²".isdigit()`` is true, and
        # int() refuses it), and bytes for compare_digest (which refuses non-ASCII str).
        if not (expires_text.isascii() and expires_text.isdigit()):
            return False
        if int(expires_text) <= self._clock.now().timestamp():
            return False
        expected = self._grant_mac(link.id, browser, int(expires_text))
        return hmac.compare_digest(mac.encode(), expected.encode())

    def form_token(self, browser: str) -> str:
        """The anti-forgery value of the passcode form, bound to the browser's own cookie:
        a page on another site cannot submit the form in someone else's browser."""
        return self._hasher.digest(_FORM_PURPOSE, browser)

    def view(self, link: ShareLink) -> SharedView:
        """The minimal view of the link's certificate; recorded as an opening."""
        record = self.live_record(link)
        self.record(link, "opened")
        return SharedView(
            link_id=link.id,
            kind=link.kind,
            name=record.name,
            birth_year=record.dob.year if record.dob else None,
            status="valid",
            certificate_id=record.certificate_id,
            expires_at=link.expires_at,
        )

    def document(self, link: ShareLink, format_name: str) -> Artifact:
        """The certificate as ``pdf`` (full links only) or ``qr``; recorded."""
        if format_name not in ("pdf", "qr") or (
            format_name == "pdf" and link.kind is not ShareKind.FULL
        ):
            raise NotFound("this link does not share that document")
        record = self.live_record(link)
        bundle = self._distribution.bundle_for_recipient(record.certificate_id, record.mobile)
        artifact = self._distribution.render(
            bundle, format_name, caller=visitor(link), permission=Permission.RECIPIENT
        )
        self.record(link, format_name)
        return artifact

    def link_qr(self, token: str) -> bytes:
        """The link itself as a QR code (PNG), to pass it from phone to phone."""
        self.resolve(token)
        return qr_png(self.url_for(token).encode(), ec="M", module_px=6)

    # --- shared with SMART Health Links ---------------------------------------------------

    def owned_live(self, certificate_id: str, owner_mobile: str) -> CertificateRecord:
        record = self._certificates.get(certificate_id)
        if record is None or not record.is_live or record.mobile != owner_mobile:
            raise NotFound("no such certificate")
        return record

    def live_record(self, link: ShareLink) -> CertificateRecord:
        record = self._certificates.get(link.certificate_id)
        if record is None or not record.is_live or not record.mobile:
            raise NotFound("no such share link")
        if not self._hasher.matches(_OWNER_PURPOSE, record.mobile, link.owner_hash):
            raise NotFound("no such share link")
        return record

    def state(self, link: ShareLink) -> LinkState:
        if link.revoked_at is not None:
            return LinkState.REVOKED
        if link.expires_at <= self._clock.now():
            return LinkState.EXPIRED
        if link.failed_attempts >= PASSCODE_FAILURE_CAP:
            return LinkState.LOCKED
        try:
            self.live_record(link)
        except NotFound:
            return LinkState.CERTIFICATE_REPLACED
        return LinkState.ACTIVE

    def record(self, link: ShareLink, event: str, *, recipient: str | None = None) -> None:
        self._links.record_access(
            LinkAccess(
                id=new_record_id(),
                link_id=link.id,
                at=self._clock.now(),
                event=event,
                recipient=recipient,
            )
        )

    def _grant_mac(self, link_id: str, browser: str, expires: int) -> str:
        return self._hasher.digest(_UNLOCK_PURPOSE, f"{link_id}|{browser}|{expires}")
