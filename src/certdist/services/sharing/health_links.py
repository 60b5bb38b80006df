"""SMART Health Links (HL7 "SMART Health Cards and Links" IG, SMART Health Links section): a
share link that a receiving application resolves by itself.

A link is a ``shlink:/`` URI holding base64url JSON ``{url, key, exp, flag, label, v}``. The
receiver POSTs ``{recipient, passcode?, embeddedLengthMax?}`` to ``url`` and gets a manifest of
files, each a compact JWE (``dir``, ``A256GCM``, ``cty``) encrypted with ``key``; with the
``U`` flag it GETs the one file at ``url`` instead.

It is a share link underneath (``ShareKind.HEALTH_LINK``): the same table, owner, expiry,
withdrawal, lifetime passcode cap, access log and death when the certificate is corrected
or revoked. The manifest token (the last path segment of ``url``, 256 random bits) is stored
only as a keyed hash.

**The key.** The files are made when they are asked for (the specification wants embedded
files up to date, and an ``L`` link's files follow the certificate), so the server must be
able to encrypt with the key after the link is made. It therefore never stores the key at
all: the key is an HMAC of the link's id under the service's secret, recomputed when
needed. A copy of the database alone yields no key (the secret is not in it), which is
what encrypting a stored key with that secret would give, with no column to leak; it
also means that replacing the secret kills every SMART Health Link, as it does the portal's
share tokens. The key leaves the server once, inside the URI given to the owner.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from certdist.domain.phone import normalize_mobile
from certdist.domain.roles import Permission
from certdist.domain.sharing import LinkAccess, ShareKind, ShareLink
from certdist.errors import FieldError, InvalidInput, NotFound
from certdist.formats.registry import FormatRegistry, renders
from certdist.services.common import Clock, KeyedHasher, new_record_id
from certdist.services.distribution import DistributionService
from certdist.services.sharing.links import (
    Expiry,
    LinkState,
    SharingService,
    check_passcode_length,
    hash_passcode,
    visitor,
)
from certdist.signing import jwe
from certdist.storage.share_links import SqlShareLinks
from certdist.storage.state import SharedState

#: A ``location`` URL lives this long (the specification allows at most an hour) and once.
LOCATION_LIFETIME = timedelta(minutes=10)
LABEL_MAX = 80  # the specification's limit
RECIPIENT_MAX = 200
SMART_HEALTH_CARD = "application/smart-health-card"
FHIR_JSON = "application/fhir+json"
JOSE = "application/jose"

_KEY_PURPOSE = "shl-key"
_TOKEN_PURPOSE = "shl-manifest-token"  # noqa: S105 - a hash purpose label, not a secret
_TICKET_PURPOSE = "shl-file-ticket"
_FLAGS = re.compile(r"L?P?U?")
# Each file: the manifest's content type and the registry's format that renders it.
_FILES = ((SMART_HEALTH_CARD, "shc-file"), (FHIR_JSON, "fhir"))


@dataclass(frozen=True)
class CreatedHealthLink:
    link: ShareLink
    uri: str  # ``shlink:/…``: holds the key; shown to the owner, never stored
    url: str  # the manifest URL inside it


@dataclass(frozen=True)
class HealthLinkOverview:
    link: ShareLink
    state: LinkState
    accesses: list[LinkAccess]


@dataclass(frozen=True)
class EncryptedFile:
    content_type: str
    jwe: str


class HealthLinkService:
    def __init__(
        self,
        sharing: SharingService,
        links: SqlShareLinks,
        distribution: DistributionService,
        formats: FormatRegistry,
        state: SharedState,
        hasher: KeyedHasher,
        clock: Clock,
        *,
        public_url: str,
        phone_region: str,
    ) -> None:
        self._sharing = sharing
        self._links = links
        self._distribution = distribution
        self._formats = formats
        self._state = state
        self._hasher = hasher
        self._clock = clock
        self._public_url = public_url.rstrip("/")
        self._phone_region = phone_region

    def owner(self, mobile: str | None) -> str:
        """The owner's number in E.164, as certificates store it; an API client's token may
        carry it in any form the portal's login accepts."""
        try:
            return normalize_mobile(mobile or "", self._phone_region)
        except ValueError as exc:
            raise NotFound("no such certificate") from exc

    # --- the owner ------------------------------------------------------------------------

    def create(
        self,
        owner_mobile: str,
        certificate_id: str,
        *,
        flags: str = "",
        label: str | None = None,
        passcode: str | None = None,
        expiry: Expiry = Expiry.WEEK,
    ) -> CreatedHealthLink:
        """A new SMART Health Link to one of the owner's live certificates."""
        _check_options(flags, label, passcode)
        record = self._sharing.owned_live(certificate_id, owner_mobile)
        owner = self._sharing.count_creation(owner_mobile)
        token = secrets.token_urlsafe(32)  # 256 bits, 43 characters
        now = self._clock.now()
        link = ShareLink(
            id=new_record_id(),
            token_hash=self._hasher.digest(_TOKEN_PURPOSE, token),
            owner_hash=owner,
            certificate_id=record.certificate_id,
            pre_enrollment_code=record.pre_enrollment_code,
            kind=ShareKind.HEALTH_LINK,
            passcode_hash=hash_passcode(passcode) if passcode else None,
            failed_attempts=0,
            created_at=now,
            expires_at=now + expiry.lifetime,
            flags=flags,
            label=label,
        )
        self._links.create(link)
        url = f"{self._public_url}/shl/{token}"
        payload: dict[str, Any] = {"url": url, "key": _b64(self._key(link))}
        payload["exp"] = int(link.expires_at.timestamp())
        if flags:
            payload["flag"] = flags
        if label:
            payload["label"] = label
        payload["v"] = 1
        minified = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        return CreatedHealthLink(link=link, uri="shlink:/" + _b64(minified.encode()), url=url)

    def viewer_url(self, uri: str) -> str:
        """The service's viewer page holding ``uri`` in its fragment (the specification's
        ``https://viewer.example/#shlink:/…`` form): a browser never sends the fragment, so
        the key reaches no server when the link is opened."""
        return f"{self._public_url}/shl#{uri}"

    def links_of(self, owner_mobile: str) -> list[HealthLinkOverview]:
        """The owner's SMART Health Links, newest first, with state and access log."""
        return [
            HealthLinkOverview(o.link, o.state, o.accesses)
            for o in self._sharing.links_of(owner_mobile)
            if o.link.kind is ShareKind.HEALTH_LINK
        ]

    def overview(self, owner_mobile: str, link_id: str) -> HealthLinkOverview:
        for found in self.links_of(owner_mobile):
            if found.link.id == link_id:
                return found
        raise NotFound("no such SMART Health Link")

    def revoke(self, owner_mobile: str, link_id: str) -> None:
        self.overview(owner_mobile, link_id)  # only this kind, only the owner's
        self._sharing.revoke(owner_mobile, link_id)

    # --- the receiving application --------------------------------------------------------

    def manifest(
        self,
        token: str,
        *,
        recipient: str,
        passcode: str | None,
        embedded_length_max: int | None,
    ) -> list[dict[str, str]]:
        """The manifest's ``files``: embedded when no limit is asked for or the file fits
        in it, else a short-lived single-use ``location``."""
        who = _recipient(recipient)  # a bad request costs no passcode attempt
        link = self._sharing.check_passcode(self._resolve(token), passcode or "", recipient=who)
        self._sharing.record(link, "shl-manifest", recipient=who)
        files: list[dict[str, str]] = []
        for encrypted in self._files(link):
            if embedded_length_max is None or len(encrypted.jwe) <= embedded_length_max:
                files.append({"contentType": encrypted.content_type, "embedded": encrypted.jwe})
            else:
                files.append(
                    {
                        "contentType": encrypted.content_type,
                        "location": self._ticket(link, encrypted),
                    }
                )
        return files

    def direct_file(self, token: str, *, recipient: str) -> EncryptedFile:
        """The one file of a ``U`` link (its SMART Health Card)."""
        who = _recipient(recipient)
        link = self._resolve(token)
        if "U" not in link.flags:
            raise NotFound("this SMART Health Link has no direct file")
        self._sharing.record(link, "shl-direct", recipient=who)
        return self._files(link)[0]

    def located_file(self, ticket: str) -> EncryptedFile:
        """The file a manifest's ``location`` names; each location opens once."""
        stored = self._state.pop(self._ticket_key(ticket)) if len(ticket) < 100 else None
        if stored is None:
            raise NotFound("no such file, or its location was used or expired")
        link_id, content_type = stored.decode().split(" ", 1)
        link = self._links.by_id(link_id)
        if link is None or self._sharing.state(link) is not LinkState.ACTIVE:
            raise NotFound("no such SMART Health Link")
        self._sharing.record(link, "shl-file")
        for encrypted in self._files(link):
            if encrypted.content_type == content_type:
                return encrypted
        raise NotFound("no such file")

    # --- helpers --------------------------------------------------------------------------

    def _resolve(self, token: str) -> ShareLink:
        link = (
            self._links.by_token_hash(self._hasher.digest(_TOKEN_PURPOSE, token))
            if len(token) < 100
            else None
        )
        if link is None or self._sharing.state(link) is not LinkState.ACTIVE:
            raise NotFound("no such SMART Health Link")
        return link

    def _files(self, link: ShareLink) -> list[EncryptedFile]:
        record = self._sharing.live_record(link)
        bundle = self._distribution.bundle_for_recipient(record.certificate_id, record.mobile)
        key = self._key(link)
        files = []
        for content_type, format_name in _FILES:
            if not renders(self._formats.get(format_name), record.entity_type):
                continue  # a DDCC:VS bundle describes vaccinations only
            artifact = self._distribution.render(
                bundle, format_name, caller=visitor(link), permission=Permission.RECIPIENT
            )
            files.append(
                EncryptedFile(content_type, jwe.encrypt(key, artifact.content, content_type))
            )
        return files

    def _ticket(self, link: ShareLink, encrypted: EncryptedFile) -> str:
        ticket = secrets.token_urlsafe(32)
        value = f"{link.id} {encrypted.content_type}".encode()
        self._state.put(self._ticket_key(ticket), value, LOCATION_LIFETIME.total_seconds())
        return f"{self._public_url}/shl/files/{ticket}"

    def _ticket_key(self, ticket: str) -> str:
        return "shl-file:" + self._hasher.digest(_TICKET_PURPOSE, ticket)

    def _key(self, link: ShareLink) -> bytes:
        return bytes.fromhex(self._hasher.digest(_KEY_PURPOSE, link.id))


def _check_options(flags: str, label: str | None, passcode: str | None) -> None:
    problems = []
    if not flags.isascii() or not _FLAGS.fullmatch(flags):
        problems.append(FieldError("flag", "letters L, P and U, each at most once, in that order"))
    elif "P" in flags and "U" in flags:
        problems.append(FieldError("flag", "U cannot be combined with P"))
    elif ("P" in flags) != (passcode is not None):
        problems.append(FieldError("passcode", "required with flag P, and only with it"))
    if label is not None and not 0 < len(label) <= LABEL_MAX:
        problems.append(FieldError("label", f"1 to {LABEL_MAX} characters"))
    if problems:
        raise InvalidInput("invalid SMART Health Link", problems)
    check_passcode_length(passcode)


def _recipient(recipient: str) -> str:
    cleaned = " ".join(recipient.split())
    if not 0 < len(cleaned) <= RECIPIENT_MAX:
        raise InvalidInput(
            "invalid request", [FieldError("recipient", f"1 to {RECIPIENT_MAX} characters")]
        )
    return cleaned


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")
