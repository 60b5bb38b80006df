"""One-time codes by SMS for the citizen portal. The policy and its numbers are in
docs/portal-login.md; in short:

* A code is 6 digits from ``secrets`` (10 once the number has drawn wrong guesses lately),
  lives ``otp_ttl_seconds`` and allows ``otp_guesses_per_code`` guesses.
* Every browser (its device cookie; its address when it sends no cookie) has its own code
  and its own counters for each number, so what a stranger does to a number never touches
  the owner's code or counters.
* Number-wide, strangers together get a daily allowance of sends and guesses and then one
  attempt per back-off period (doubling, capped at a few minutes, never a long lock); a
  browser that logged in as the number before is recognised and passes.
* Per client address, across numbers, and a global daily SMS budget, counted in fixed windows.
* Only a keyed hash of the code is stored (bound to the number, the browser and the
  challenge), compared in constant time; codes and numbers are never logged.
* Every limit here fails closed: when the state store (Redis) cannot be reached, codes are
  neither sent nor checked (``StorageUnavailable``, a 503), so guessing is never unlimited.
* A number with no certificate gets exactly the same treatment — limits, a stored challenge,
  the same answer — only no SMS leaves. SMS are handed to ``dispatch`` (a background thread
  in the service), so the answer does not wait for the gateway either way.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from certdist.config import PortalSettings
from certdist.domain.phone import normalize_mobile
from certdist.errors import (
    AuthenticationFailed,
    DeliveryFailed,
    FieldError,
    InvalidInput,
    RateLimited,
)
from certdist.services.common import NO_METRICS, Clock, KeyedHasher, Metrics, RateLimiter
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
    digits: int = CODE_DIGITS

    def encode(self) -> bytes:
        data = {"id": self.id, "h": self.code_hash, "d": self.deliverable, "n": self.digits}
        return json.dumps(data).encode()

    @classmethod
    def decode(cls, raw: bytes) -> _Challenge:
        data = json.loads(raw)
        return cls(
            id=str(data["id"]),
            code_hash=str(data["h"]),
            deliverable=bool(data["d"]),
            digits=int(data.get("n", CODE_DIGITS)),
        )


@dataclass(frozen=True)
class CodeState:
    digits: int
    tries_left: int  # guesses left on this browser's code (0: none, or no live code)
    resend_in_seconds: int  # 0: a new code may be asked for now


@dataclass(frozen=True)
class _Window:
    """One fixed rate-limit window: its scope and key, how many attempts, how long."""

    scope: str
    key: str
    limit: int
    seconds: int


@dataclass(frozen=True)
class _Caller:
    """Who asks: the number (keyed hash), the browser (keyed hash of its device cookie, or of
    its address without one), the address, and whether the browser logged in as the number
    before."""

    phone: str
    client: str
    address: str
    recognised: bool


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
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._metrics = metrics
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

    def request_code(
        self, raw_mobile: str, *, client_ip: str, language: str, device: str | None = None
    ) -> str:
        """Send a new code to the number if it has certificates; returns the E.164 number.
        ``device``: the browser's device cookie, if it sent one.

        Raises ``InvalidInput`` (not a number) or ``RateLimited``; never says whether the
        number is registered."""
        mobile = self.normalize(raw_mobile)
        caller = self._caller(mobile, client_ip, device)
        limits = self._limits
        with self._lockouts_counted("send"):
            self._count("send", caller)
            self._number_wide("send", caller, free=limits.otp_number_free_sends)
            # Counted for every request, registered or not, so that running out of budget
            # answers everyone alike instead of revealing which numbers would get an SMS.
            self._limiter.hit(
                "sms-budget",
                self._clock.now().date().isoformat(),
                limit=limits.sms_daily_budget,
                window_seconds=24 * 3600,
                fail_closed=True,
            )
        digits = self._digits(caller)
        code = f"{secrets.randbelow(10**digits):0{digits}d}"
        challenge_id = secrets.token_hex(8)
        challenge = _Challenge(
            id=challenge_id,
            code_hash=self._code_hash(caller, challenge_id, code),
            deliverable=self._is_registered(mobile),
            digits=digits,
        )
        self._state.put(self._key(caller), challenge.encode(), limits.otp_ttl_seconds)
        log.info("one-time code issued", extra={"phone": caller.phone[:16]})
        if challenge.deliverable:
            text = self._texts.render(
                code, language=language, minutes=max(1, limits.otp_ttl_seconds // 60)
            )
            self._dispatch(lambda: self._send(mobile, text, caller.phone))
        return mobile

    def _caller(self, mobile: str, client_ip: str, device: str | None) -> _Caller:
        phone = self._hasher.digest("phone", mobile)
        address = self._hasher.digest("ip", client_ip)
        if device:
            client = self._hasher.digest("device", device)
            recognised = self._state.get(self._known_key(phone, client)) is not None
        else:
            client, recognised = address, False
        return _Caller(phone=phone, client=client, address=address, recognised=recognised)

    def _windows(self, action: str, caller: _Caller) -> list[_Window]:
        """The fixed windows an ``action`` (``send`` or ``guess``) counts in: the address's,
        across numbers, and this browser's for this number."""
        limits = self._limits
        send = action == "send"
        return [
            _Window(
                f"otp-{action}-ip",
                caller.address,
                limits.otp_sends_per_ip if send else limits.otp_guesses_per_ip,
                limits.otp_ip_window_seconds,
            ),
            _Window(
                f"otp-{action}-phone",
                f"{caller.phone}:{caller.client}",
                limits.otp_sends_per_phone if send else limits.otp_guesses_per_phone,
                limits.otp_phone_window_seconds,
            ),
        ]

    def _count(self, action: str, caller: _Caller) -> None:
        """One more ``action`` in each of its windows; ``RateLimited`` past any. These limits
        fail closed: a guess (or a code, which invites guesses) that cannot be counted is
        refused with ``StorageUnavailable``, never let through uncounted."""
        for window in self._windows(action, caller):
            self._limiter.hit(
                window.scope,
                window.key,
                limit=window.limit,
                window_seconds=window.seconds,
                fail_closed=True,
            )

    def _number_wide(self, action: str, caller: _Caller, *, free: int) -> None:
        """The number-wide budget of browsers not recognised for the number: ``free``
        attempts (``action``: send or guess) a day, then one attempt per back-off period, which
        doubles from ``otp_backoff_base_seconds`` with every attempt up to
        ``otp_backoff_max_seconds``. Both counts are atomic increments, so parallel requests
        cannot slip through together."""
        if caller.recognised:
            return
        limits = self._limits
        done = self._state.incr(f"otp-{action}s:{caller.phone}", 24 * 3600)
        if done <= free:
            return
        period = min(
            limits.otp_backoff_max_seconds,
            limits.otp_backoff_base_seconds * 2 ** min(done - free - 1, 20),
        )
        permit = f"otp-permit-{action}:{caller.phone}"
        if self._state.incr(permit, period) > 1:
            wait = int(self._state.ttl(permit) or period) + 1
            raise RateLimited(f"too many attempts; try again in {wait} s", wait)

    @contextmanager
    def _lockouts_counted(self, action: str) -> Iterator[None]:
        try:
            yield
        except RateLimited:
            self._metrics.otp_locked_out(action)
            raise

    def _wrong_guess(self, caller: _Caller) -> AuthenticationFailed:
        log.info("one-time code refused", extra={"phone": caller.phone[:16]})
        self._metrics.otp_failed("wrong_code")
        if not caller.recognised:
            window = self._limits.otp_long_code_window_days * 24 * 3600
            self._state.incr(f"otp-wrong:{caller.phone}", window)
        return _wrong_code()

    def _digits(self, caller: _Caller) -> int:
        """Longer codes for a number strangers have guessed at lately (each guess then has a
        chance of one in 10^10 instead of 10^6); a recognised browser keeps short ones."""
        limits = self._limits
        if caller.recognised:
            return CODE_DIGITS
        wrong = self._state.count(f"otp-wrong:{caller.phone}")
        return limits.otp_long_code_digits if wrong >= limits.otp_long_code_after else CODE_DIGITS

    def code_state(self, mobile: str, *, client_ip: str, device: str | None = None) -> CodeState:
        """What the code page tells this browser: the length of its code, the guesses it has
        left on it, and how long until it may ask for a new one."""
        caller = self._caller(mobile, client_ip, device)
        limits = self._limits
        raw = self._state.get(self._key(caller))
        digits, tries_left = CODE_DIGITS, 0
        if raw is not None:
            challenge = _Challenge.decode(raw)
            tries = self._state.count(f"otp-tries:{caller.phone}:{caller.client}:{challenge.id}")
            digits, tries_left = challenge.digits, max(0, limits.otp_guesses_per_code - tries)
        waits = [
            self._limiter.wait(w.scope, w.key, limit=w.limit, window_seconds=w.seconds)
            for w in self._windows("send", caller)
        ]
        if not caller.recognised:
            sends = self._state.count(f"otp-sends:{caller.phone}")
            if sends >= limits.otp_number_free_sends:
                waits.append(self._state.ttl(f"otp-permit-send:{caller.phone}") or 0.0)
        return CodeState(digits=digits, tries_left=tries_left, resend_in_seconds=int(max(waits)))

    def recognise(self, mobile: str, device: str | None) -> None:
        """Remember that this browser logged in as ``mobile`` (after a right code), so that
        strangers' attempts on the number never slow it down."""
        if not device:
            return
        phone = self._hasher.digest("phone", mobile)
        client = self._hasher.digest("device", device)
        days = self._limits.device_recognition_days
        self._state.put(self._known_key(phone, client), b"1", days * 24 * 3600)

    def verify(self, mobile: str, code: str, *, client_ip: str, device: str | None = None) -> None:
        """Accept the code once; ``AuthenticationFailed`` when it is wrong, used up or
        expired, ``RateLimited`` past the guess limits, ``InvalidInput`` when not a code."""
        entered = "".join(code.split())
        lengths = {CODE_DIGITS, self._limits.otp_long_code_digits}
        if len(entered) not in lengths or not entered.isascii() or not entered.isdigit():
            raise InvalidInput(
                "not a code", [FieldError("code", "enter the code from the SMS (digits only)")]
            )
        caller = self._caller(mobile, client_ip, device)
        limits = self._limits
        with self._lockouts_counted("guess"):
            self._count("guess", caller)
            self._number_wide("guess", caller, free=limits.otp_number_free_guesses)
        raw = self._state.get(self._key(caller))
        if raw is None:
            raise self._wrong_guess(caller)
        challenge = _Challenge.decode(raw)
        tries = self._state.incr(
            f"otp-tries:{caller.phone}:{caller.client}:{challenge.id}", limits.otp_ttl_seconds
        )
        matches = len(entered) == challenge.digits and hmac.compare_digest(
            self._code_hash(caller, challenge.id, entered), challenge.code_hash
        )
        if tries > limits.otp_guesses_per_code or not matches or not challenge.deliverable:
            raise self._wrong_guess(caller)
        # One-time: of two concurrent right answers only the one that removes it wins.
        consumed = self._state.pop(self._key(caller))
        if consumed is None or _Challenge.decode(consumed).id != challenge.id:
            raise _wrong_code()
        log.info("one-time code accepted", extra={"phone": caller.phone[:16]})

    def _code_hash(self, caller: _Caller, challenge_id: str, code: str) -> str:
        return self._hasher.digest("otp", f"{caller.phone}:{caller.client}:{challenge_id}:{code}")

    @staticmethod
    def _key(caller: _Caller) -> str:
        return f"otp:{caller.phone}:{caller.client}"

    @staticmethod
    def _known_key(phone: str, client: str) -> str:
        return f"otp-known:{phone}:{client}"

    def _send(self, mobile: str, text: str, phone_key: str) -> None:
        try:
            self._sender.send(mobile, text)
        except DeliveryFailed:
            log.warning("one-time code not delivered", extra={"phone": phone_key[:16]})
        except Exception:
            log.exception("one-time code not delivered", extra={"phone": phone_key[:16]})
        else:
            self._metrics.otp_sent()
            return
        self._metrics.otp_failed("not_delivered")


def _wrong_code() -> AuthenticationFailed:
    return AuthenticationFailed("the code is wrong or has expired")
