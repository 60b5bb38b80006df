"""One-time codes by SMS for the citizen portal (rules: docs/architecture.md, “Security rules”).

* A code is 6 digits from ``secrets``, lives ``otp_ttl_seconds`` (5 minutes) and allows
  ``otp_guesses_per_code`` (3) guesses; asking again replaces it.
* Counters per phone number (codes sent, guesses) and per client address count in fixed
  windows in the shared state; a new code never resets them. A global daily budget caps the
  SMS the service sends.
* Only a keyed hash of the code is stored (bound to the phone and the challenge), compared in
  constant time; codes and numbers are never logged (keyed hashes only).
* A number with no certificate gets exactly the same treatment — limits, a stored challenge,
  the same answer — only no SMS leaves. SMS are handed to ``dispatch`` (a background thread
  in the service), so the answer does not wait for the gateway either way.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from certdist.config import PortalSettings
from certdist.domain.phone import normalize_mobile
from certdist.errors import AuthenticationFailed, DeliveryFailed, FieldError, InvalidInput
from certdist.services.common import Clock, KeyedHasher, RateLimiter
from certdist.services.messaging import OtpTexts, SmsSender
from certdist.storage.state import SharedState

log = logging.getLogger(__name__)

CODE_DIGITS = 6
Dispatch = Callable[[Callable[[], None]], None]


def run_now(job: Callable[[], None]) -> None:
    """A ``Dispatch`` that runs the job at once (tests, the CLI)."""
    job()


@dataclass(frozen=True)
class _Challenge:
    id: str
    code_hash: str
    deliverable: bool

    def encode(self) -> bytes:
        return json.dumps({"id": self.id, "h": self.code_hash, "d": self.deliverable}).encode()

    @classmethod
    def decode(cls, raw: bytes) -> _Challenge:
        data = json.loads(raw)
        return cls(id=str(data["id"]), code_hash=str(data["h"]), deliverable=bool(data["d"]))


class OtpService:
    def __init__(
        self,
        *,
        state: SharedState,
        limiter: RateLimiter,
        hasher: KeyedHasher,
        sender: SmsSender,
        texts: OtpTexts,
        is_registered: Callable[[str], bool],
        clock: Clock,
        limits: PortalSettings,
        phone_region: str,
        dispatch: Dispatch = run_now,
    ) -> None:
        self._state = state
        self._limiter = limiter
        self._hasher = hasher
        self._sender = sender
        self._texts = texts
        self._is_registered = is_registered
        self._clock = clock
        self._limits = limits
        self._region = phone_region
        self._dispatch = dispatch

    @property
    def limits(self) -> PortalSettings:
        return self._limits

    def normalize(self, raw_mobile: str) -> str:
        """E.164 of a number typed by a person; ``InvalidInput`` naming the field otherwise."""
        try:
            return normalize_mobile(raw_mobile, self._region)
        except ValueError as exc:
            raise InvalidInput(
                "not a mobile number", [FieldError("mobile", "enter a valid mobile number")]
            ) from exc

    def request_code(self, raw_mobile: str, *, client_ip: str, language: str) -> str:
        """Send a new code to the number if it has certificates; returns the E.164 number.

        Raises ``InvalidInput`` (not a number) or ``RateLimited``; never says whether the
        number is registered."""
        mobile = self.normalize(raw_mobile)
        phone_key = self._hasher.digest("phone", mobile)
        limits = self._limits
        self._count(
            "otp-send", phone_key, client_ip, limits.otp_sends_per_phone, limits.otp_sends_per_ip
        )
        # Counted for every request, registered or not, so that running out of budget
        # answers everyone alike instead of revealing which numbers would get an SMS.
        self._limiter.hit(
            "sms-budget",
            self._clock.now().date().isoformat(),
            limit=limits.sms_daily_budget,
            window_seconds=24 * 3600,
        )
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        challenge_id = secrets.token_hex(8)
        challenge = _Challenge(
            id=challenge_id,
            code_hash=self._code_hash(phone_key, challenge_id, code),
            deliverable=self._is_registered(mobile),
        )
        self._state.put(self._key(phone_key), challenge.encode(), limits.otp_ttl_seconds)
        log.info("one-time code issued", extra={"phone": phone_key[:16]})
        if challenge.deliverable:
            text = self._texts.render(
                code, language=language, minutes=max(1, limits.otp_ttl_seconds // 60)
            )
            self._dispatch(lambda: self._send(mobile, text, phone_key))
        return mobile

    def _count(
        self, action: str, phone_key: str, client_ip: str, per_phone: int, per_ip: int
    ) -> None:
        """One more ``action`` (code sent, code guessed) against the address's and the
        number's limits; ``RateLimited`` past either."""
        limits = self._limits
        self._limiter.hit(
            f"{action}-ip",
            self._hasher.digest("ip", client_ip),
            limit=per_ip,
            window_seconds=limits.otp_ip_window_seconds,
        )
        self._limiter.hit(
            f"{action}-phone",
            phone_key,
            limit=per_phone,
            window_seconds=limits.otp_phone_window_seconds,
        )

    def verify(self, mobile: str, code: str, *, client_ip: str) -> None:
        """Accept the code once; ``AuthenticationFailed`` when it is wrong, used up or
        expired, ``RateLimited`` past the guess limits, ``InvalidInput`` when not 6 digits."""
        entered = "".join(code.split())
        if len(entered) != CODE_DIGITS or not entered.isascii() or not entered.isdigit():
            raise InvalidInput(
                "not a code", [FieldError("code", f"enter the {CODE_DIGITS}-digit code")]
            )
        phone_key = self._hasher.digest("phone", mobile)
        limits = self._limits
        self._count(
            "otp-guess",
            phone_key,
            client_ip,
            limits.otp_guesses_per_phone,
            limits.otp_guesses_per_ip,
        )
        raw = self._state.get(self._key(phone_key))
        if raw is None:
            raise _wrong_code()
        challenge = _Challenge.decode(raw)
        tries = self._state.incr(f"otp-tries:{phone_key}:{challenge.id}", limits.otp_ttl_seconds)
        matches = hmac.compare_digest(
            self._code_hash(phone_key, challenge.id, entered), challenge.code_hash
        )
        if tries > limits.otp_guesses_per_code or not matches or not challenge.deliverable:
            log.info("one-time code refused", extra={"phone": phone_key[:16]})
            raise _wrong_code()
        # One-time: of two concurrent right answers only the one that removes it wins.
        consumed = self._state.pop(self._key(phone_key))
        if consumed is None or _Challenge.decode(consumed).id != challenge.id:
            raise _wrong_code()
        log.info("one-time code accepted", extra={"phone": phone_key[:16]})

    def _code_hash(self, phone_key: str, challenge_id: str, code: str) -> str:
        return self._hasher.digest("otp", f"{phone_key}:{challenge_id}:{code}")

    @staticmethod
    def _key(phone_key: str) -> str:
        return f"otp:{phone_key}"

    def _send(self, mobile: str, text: str, phone_key: str) -> None:
        try:
            self._sender.send(mobile, text)
        except DeliveryFailed:
            log.warning("one-time code not delivered", extra={"phone": phone_key[:16]})
        except Exception:
            log.exception("one-time code not delivered", extra={"phone": phone_key[:16]})


def _wrong_code() -> AuthenticationFailed:
    return AuthenticationFailed("the code is wrong or has expired")
