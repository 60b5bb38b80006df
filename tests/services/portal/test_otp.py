"""One-time codes (docs/portal-login.md): life, guesses, replacement, limits, budget, equal
answers, hash-only storage, and both sides of the lock-out policy: what a stranger can do to a
number, and what the owner can still do meanwhile. The state store runs in memory and in the
database (SQLite, PostgreSQL)."""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from certdist.config import PortalSettings
from certdist.errors import AuthenticationFailed, InvalidInput, RateLimited, StorageUnavailable
from certdist.services.common.clock import FixedClock
from certdist.services.common.hashing import KeyedHasher
from certdist.services.common.ratelimit import RateLimiter
from certdist.services.messaging.sms import OtpTexts, RecordingSms
from certdist.services.portal.otp import OtpService
from certdist.storage import Database
from certdist.storage.redis_state import RedisSharedState
from certdist.storage.schema import shared_state
from certdist.storage.state import MemorySharedState, Now, SharedState, SqlSharedState

REGISTERED = "+919000000001"
OTHER_REGISTERED = "+919000000002"
UNREGISTERED = "+919000000099"
IP = "203.0.113.7"


@dataclass
class Rig:
    otp: OtpService
    sms: RecordingSms
    clock: FixedClock
    state: SharedState

    def code_sent_to(self, mobile: str) -> str:
        text = self.sms.last_to(mobile)
        assert text is not None, "no SMS was sent"
        found = re.search(r"#(\d+)$", text)
        assert found is not None
        return found.group(1)

    def wrong_code(self, mobile: str) -> str:
        right = self.code_sent_to(mobile)
        wrong = "0" * len(right)
        return wrong if right != wrong else "1" * len(right)


MakeRig = Callable[..., Rig]


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def state_kind(request: pytest.FixtureRequest) -> Iterator[Callable[[Now], SharedState]]:
    """A state store: in memory, or in a migrated SQLite or PostgreSQL database."""
    if request.param == "memory":
        yield MemorySharedState
        return
    url_fixture = (
        "sqlite_database_url" if request.param == "sqlite" else "postgresql_module_database_url"
    )
    database = Database(request.getfixturevalue(url_fixture), deadline_seconds=10)
    database.migrate()
    yield lambda now: SqlSharedState(database.transactions, now)
    database.dispose()


@pytest.fixture
def make_rig(state_kind: Callable[[Now], SharedState]) -> MakeRig:
    def make(**limits: int) -> Rig:
        # A day of its own: the SMS budget counts per day for all numbers, and the PostgreSQL
        # database is shared by the module's tests.
        day = timedelta(days=secrets.randbelow(100_000))
        clock = FixedClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC) + day)
        state = state_kind(clock.now)
        sms = RecordingSms()
        otp = OtpService(
            state=state,
            limiter=RateLimiter(state),
            # A secret per rig: tests sharing a PostgreSQL database never share counters.
            hasher=KeyedHasher(secrets.token_bytes(32)),
            sender=sms,
            texts=OtpTexts({"en": "Code {code}, {minutes} min", "hi": "कोड {code}"}, "en", "x.in"),
            is_registered=lambda mobile: mobile in (REGISTERED, OTHER_REGISTERED),
            clock=clock,
            limits=PortalSettings(**limits),
            phone_region="IN",
        )
        return Rig(otp, sms, clock, state)

    return make


def test_a_code_is_six_digits_sent_with_the_webotp_line(make_rig: MakeRig) -> None:
    rig = make_rig()
    assert rig.otp.request_code("90000 00001", client_ip=IP, language="hi") == REGISTERED
    (to, text), *_ = rig.sms.sent
    assert to == REGISTERED
    code = rig.code_sent_to(REGISTERED)
    assert text == f"कोड {code}\n\n@x.in #{code}"


def test_the_right_code_is_accepted_once(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    code = rig.code_sent_to(REGISTERED)
    rig.otp.verify(REGISTERED, code, client_ip=IP)
    with pytest.raises(AuthenticationFailed):
        rig.otp.verify(REGISTERED, code, client_ip=IP)


def test_a_code_expires_after_five_minutes(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    code = rig.code_sent_to(REGISTERED)
    rig.clock.advance(timedelta(seconds=301))
    with pytest.raises(AuthenticationFailed):
        rig.otp.verify(REGISTERED, code, client_ip=IP)


def test_a_code_still_works_just_before_it_expires(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    rig.clock.advance(timedelta(seconds=295))
    rig.otp.verify(REGISTERED, rig.code_sent_to(REGISTERED), client_ip=IP)


def test_three_wrong_guesses_kill_the_code(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            rig.otp.verify(REGISTERED, rig.wrong_code(REGISTERED), client_ip=IP)
    with pytest.raises(AuthenticationFailed):
        rig.otp.verify(REGISTERED, rig.code_sent_to(REGISTERED), client_ip=IP)


def test_two_wrong_guesses_leave_the_third_one(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            rig.otp.verify(REGISTERED, rig.wrong_code(REGISTERED), client_ip=IP)
    rig.otp.verify(REGISTERED, rig.code_sent_to(REGISTERED), client_ip=IP)


def test_a_new_code_replaces_the_old_one(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    old = rig.code_sent_to(REGISTERED)
    rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    new = rig.code_sent_to(REGISTERED)
    if old != new:  # one chance in a million that they are equal
        with pytest.raises(AuthenticationFailed):
            rig.otp.verify(REGISTERED, old, client_ip=IP)
    rig.otp.verify(REGISTERED, new, client_ip=IP)


def test_a_resend_does_not_reset_the_guess_limit_of_the_phone(make_rig: MakeRig) -> None:
    rig = make_rig(otp_guesses_per_phone=5)
    rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            rig.otp.verify(REGISTERED, rig.wrong_code(REGISTERED), client_ip=IP)
    rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            rig.otp.verify(REGISTERED, rig.wrong_code(REGISTERED), client_ip=IP)
    with pytest.raises(RateLimited) as refused:
        rig.otp.verify(REGISTERED, rig.code_sent_to(REGISTERED), client_ip=IP)
    assert 0 < refused.value.retry_after <= 3601


def test_sends_per_browser_are_limited_until_the_window_ends(make_rig: MakeRig) -> None:
    rig = make_rig(otp_sends_per_phone=3)
    for _ in range(3):
        rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    with pytest.raises(RateLimited) as refused:
        rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    assert 3000 < refused.value.retry_after <= 3601
    assert len(rig.sms.sent) == 3
    rig.otp.request_code(OTHER_REGISTERED, client_ip=IP, language="en")  # other phones go on
    rig.clock.advance(timedelta(seconds=3601))
    rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    assert len(rig.sms.sent) == 5


def test_sends_from_one_address_are_limited_across_phones(make_rig: MakeRig) -> None:
    rig = make_rig(otp_sends_per_ip=2)
    rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    rig.otp.request_code(UNREGISTERED, client_ip=IP, language="en")
    with pytest.raises(RateLimited):
        rig.otp.request_code(OTHER_REGISTERED, client_ip=IP, language="en")
    rig.otp.request_code(OTHER_REGISTERED, client_ip="198.51.100.1", language="en")


def test_guesses_from_one_address_are_limited_across_phones(make_rig: MakeRig) -> None:
    rig = make_rig(otp_guesses_per_ip=4)
    for mobile in (REGISTERED, OTHER_REGISTERED):
        rig.otp.request_code(mobile, client_ip=IP, language="en")
        for _ in range(2):
            with pytest.raises(AuthenticationFailed):
                rig.otp.verify(mobile, rig.wrong_code(mobile), client_ip=IP)
    rig.otp.request_code(UNREGISTERED, client_ip=IP, language="en")
    with pytest.raises(RateLimited):
        rig.otp.verify(OTHER_REGISTERED, rig.code_sent_to(OTHER_REGISTERED), client_ip=IP)


def test_the_daily_sms_budget_stops_every_number_alike(make_rig: MakeRig) -> None:
    rig = make_rig(sms_daily_budget=2)
    rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    rig.otp.request_code(UNREGISTERED, client_ip="198.51.100.1", language="en")
    for mobile in (OTHER_REGISTERED, UNREGISTERED):
        with pytest.raises(RateLimited):
            rig.otp.request_code(mobile, client_ip="198.51.100.2", language="en")
    rig.clock.advance(timedelta(days=1))
    rig.otp.request_code(OTHER_REGISTERED, client_ip="198.51.100.3", language="en")


def test_an_unregistered_number_gets_the_same_answers_but_no_sms(make_rig: MakeRig) -> None:
    rig = make_rig()
    answers = []
    for mobile in (REGISTERED, UNREGISTERED):
        answers.append(rig.otp.request_code(mobile, client_ip=IP, language="en")[-4:])
        with pytest.raises(AuthenticationFailed) as wrong:
            rig.otp.verify(
                mobile, "123456" if mobile == UNREGISTERED else rig.wrong_code(mobile), client_ip=IP
            )
        answers.append(str(wrong.value))
    assert answers == ["0001", "the code is wrong or has expired", "0099", answers[1]]
    assert [to for to, _ in rig.sms.sent] == [REGISTERED]


def test_an_unregistered_number_is_limited_like_a_registered_one(make_rig: MakeRig) -> None:
    rig = make_rig(otp_sends_per_phone=2)
    for _ in range(2):
        rig.otp.request_code(UNREGISTERED, client_ip=IP, language="en")
    with pytest.raises(RateLimited):
        rig.otp.request_code(UNREGISTERED, client_ip=IP, language="en")


def test_bad_input_is_refused_without_counting(make_rig: MakeRig) -> None:
    rig = make_rig(otp_guesses_per_phone=1)
    with pytest.raises(InvalidInput) as bad_number:
        rig.otp.request_code("12ab", client_ip=IP, language="en")
    assert bad_number.value.errors[0].location == "mobile"
    rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    for typo in ("12345", "1234567", "12a456", "١٢٣٤٥٦"):
        with pytest.raises(InvalidInput):
            rig.otp.verify(REGISTERED, typo, client_ip=IP)
    rig.otp.verify(REGISTERED, " ".join(rig.code_sent_to(REGISTERED)), client_ip=IP)


def test_only_keyed_hashes_are_stored(database: Database) -> None:
    clock = FixedClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    state = SqlSharedState(database.transactions, clock.now)
    sms = RecordingSms()
    otp = OtpService(
        state=state,
        limiter=RateLimiter(state),
        hasher=KeyedHasher(b"s" * 32),
        sender=sms,
        texts=OtpTexts({"en": "{code}"}, "en", "x.in"),
        is_registered=lambda mobile: True,
        clock=clock,
        limits=PortalSettings(),
        phone_region="IN",
    )
    otp.request_code(REGISTERED, client_ip=IP, language="en")
    code = sms.sent[0][1].split()[0]
    with database.transactions.read() as connection:
        rows = connection.execute(select(shared_state)).mappings().all()
    stored = " ".join(f"{row['key']} {row['value']!r}" for row in rows)
    assert len(rows) >= 4  # the challenge and the counters
    for secret in (code, REGISTERED, REGISTERED[3:], IP):
        assert secret not in stored


def test_codes_and_numbers_are_never_logged(
    make_rig: MakeRig, caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig()
    with caplog.at_level(logging.DEBUG):
        rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
        code = rig.code_sent_to(REGISTERED)
        with pytest.raises(AuthenticationFailed):
            rig.otp.verify(REGISTERED, rig.wrong_code(REGISTERED), client_ip=IP)
        rig.otp.verify(REGISTERED, code, client_ip=IP)
    assert caplog.records, "the service logs its decisions"
    for record in caplog.records:
        logged = f"{record.getMessage()} {record.__dict__}"
        for secret in (code, REGISTERED[3:], IP):
            assert secret not in logged


# --- the lock-out policy: the stranger's side and the owner's -------------------------------

OWNER_DEVICE = "owner-browser-" + "o" * 16
OWNER_IP = "198.51.100.20"


def _stranger(index: int) -> dict[str, str]:
    """A different address and browser each time: an attacker with many of both."""
    return {
        "client_ip": f"192.0.2.{index % 250 + 1}",
        "device": f"stranger-{index:04d}-" + "s" * 12,
    }


def _log_in_owner(rig: Rig) -> None:
    rig.otp.request_code(REGISTERED, client_ip=OWNER_IP, language="en", device=OWNER_DEVICE)
    code = rig.code_sent_to(REGISTERED)
    rig.otp.verify(REGISTERED, code, client_ip=OWNER_IP, device=OWNER_DEVICE)
    rig.otp.recognise(REGISTERED, OWNER_DEVICE)


def test_a_stranger_who_runs_out_locks_out_only_his_own_browser(make_rig: MakeRig) -> None:
    rig = make_rig(otp_sends_per_phone=3, otp_guesses_per_phone=3)
    stranger = {"client_ip": IP, "device": "stranger-browser-" + "s" * 10}
    for _ in range(3):
        rig.otp.request_code(REGISTERED, language="en", **stranger)
    with pytest.raises(RateLimited):
        rig.otp.request_code(REGISTERED, language="en", **stranger)
    # The owner, on a browser never seen before, still gets and uses a code.
    owner = {"client_ip": OWNER_IP, "device": "new-owner-browser-" + "n" * 8}
    rig.otp.request_code(REGISTERED, language="en", **owner)
    rig.otp.verify(REGISTERED, rig.code_sent_to(REGISTERED), **owner)


def test_a_stranger_cannot_replace_or_use_up_the_owners_code(make_rig: MakeRig) -> None:
    rig = make_rig()
    owner = {"client_ip": OWNER_IP, "device": OWNER_DEVICE}
    rig.otp.request_code(REGISTERED, language="en", **owner)
    owners_code = rig.code_sent_to(REGISTERED)
    stranger = _stranger(1)
    rig.otp.request_code(REGISTERED, language="en", **stranger)  # a new code, but his own
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            rig.otp.verify(REGISTERED, "0" * len(owners_code), **stranger)
    rig.otp.verify(REGISTERED, owners_code, **owner)


def test_strangers_together_meet_a_back_off_capped_at_five_minutes(make_rig: MakeRig) -> None:
    rig = make_rig(otp_number_free_guesses=4, otp_long_code_after=1000)
    waits = []
    for index in range(40):
        try:
            rig.otp.verify(REGISTERED, "123456", **_stranger(index))
        except AuthenticationFailed:
            continue  # a guess that was let through (and was wrong)
        except RateLimited as refused:
            waits.append(refused.retry_after)
            rig.clock.advance(timedelta(seconds=refused.retry_after))
    assert waits, "the number-wide allowance never ran out"
    assert max(waits) <= 301  # never the old hour's lock
    assert waits[0] <= 31  # the first wait is short, then it doubles
    assert waits[-1] > 200  # and it grows towards the cap


def test_the_allowance_holds_against_guesses_in_parallel(make_rig: MakeRig) -> None:
    rig = make_rig(otp_number_free_guesses=3, otp_long_code_after=1000)

    def guess(index: int) -> str:
        try:
            rig.otp.verify(REGISTERED, "123456", **_stranger(index))
        except AuthenticationFailed:
            return "guessed"
        except RateLimited:
            return "refused"
        return "accepted"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(guess, range(24)))
    # Three free guesses, then one per back-off period: the clock stands still here.
    assert outcomes.count("guessed") == 4
    assert outcomes.count("refused") == 20


def test_the_owners_recognised_browser_is_never_slowed_by_strangers(make_rig: MakeRig) -> None:
    rig = make_rig(otp_number_free_guesses=2, otp_number_free_sends=2, otp_long_code_after=2)
    _log_in_owner(rig)
    for index in range(30):  # strangers exhaust every number-wide allowance
        with contextlib.suppress(RateLimited):
            rig.otp.request_code(REGISTERED, language="en", **_stranger(index))
        with contextlib.suppress(RateLimited, AuthenticationFailed):
            rig.otp.verify(REGISTERED, "123456", **_stranger(index))
    with pytest.raises(RateLimited):
        rig.otp.verify(REGISTERED, "123456", **_stranger(99))
    owner = {"client_ip": OWNER_IP, "device": OWNER_DEVICE}
    rig.otp.request_code(REGISTERED, language="en", **owner)
    code = rig.code_sent_to(REGISTERED)
    assert len(code) == 6  # the recognised browser keeps short codes
    rig.otp.verify(REGISTERED, code, **owner)


def test_the_owner_on_a_new_browser_waits_at_most_the_cap(make_rig: MakeRig) -> None:
    rig = make_rig(otp_number_free_sends=2, otp_backoff_max_seconds=300)
    for index in range(30):
        with contextlib.suppress(RateLimited):
            rig.otp.request_code(UNREGISTERED, language="en", **_stranger(index))
    owner = {"client_ip": OWNER_IP, "device": "owner-new-browser-" + "n" * 8}
    with pytest.raises(RateLimited) as refused:
        rig.otp.request_code(UNREGISTERED, language="en", **owner)
    assert refused.value.retry_after <= 301
    rig.clock.advance(timedelta(seconds=refused.value.retry_after))
    rig.otp.request_code(UNREGISTERED, language="en", **owner)


def test_a_number_guessed_at_gets_ten_digit_codes(make_rig: MakeRig) -> None:
    rig = make_rig(otp_long_code_after=2)
    for index in range(2):
        with pytest.raises(AuthenticationFailed):
            rig.otp.verify(REGISTERED, "123456", **_stranger(index))
    browser = {"client_ip": OWNER_IP, "device": "another-browser-" + "a" * 10}
    rig.otp.request_code(REGISTERED, language="en", **browser)
    code = rig.code_sent_to(REGISTERED)
    assert len(code) == 10
    assert rig.otp.code_state(REGISTERED, **browser).digits == 10
    with pytest.raises(AuthenticationFailed):
        rig.otp.verify(REGISTERED, code[:6], **browser)  # six digits are not that code
    rig.otp.verify(REGISTERED, code, **browser)


def test_a_code_of_another_length_is_refused_as_input(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    with pytest.raises(InvalidInput):
        rig.otp.verify(REGISTERED, "1234567", client_ip=IP)


# --- the state store away: the limits on guessing fail closed ------------------------------


class _SwitchableCounters(MemorySharedState):
    """A store whose counters can be made unreachable, as a Redis outage makes them."""

    down = False

    def incr(self, key: str, ttl_seconds: float) -> int:
        if self.down:
            raise StorageUnavailable("down")
        return super().incr(key, ttl_seconds)

    def count(self, key: str) -> int:
        if self.down:
            raise StorageUnavailable("down")
        return super().count(key)


def _otp(state: SharedState, limiter_state: SharedState, sms: RecordingSms) -> OtpService:
    clock = FixedClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    return OtpService(
        state=state,
        limiter=RateLimiter(limiter_state),
        hasher=KeyedHasher(b"s" * 32),
        sender=sms,
        texts=OtpTexts({"en": "#{code}"}, "en", "x.in"),
        is_registered=lambda mobile: True,
        clock=clock,
        limits=PortalSettings(),
        phone_region="IN",
    )


def test_no_guess_is_checked_while_the_limits_cannot_be_counted() -> None:
    now = FixedClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC)).now
    counters = _SwitchableCounters(now)
    sms = RecordingSms()
    otp = _otp(MemorySharedState(now), counters, sms)
    otp.request_code(REGISTERED, client_ip=IP, language="en")
    code = sms.sent[-1][1].removeprefix("#").split()[0]
    counters.down = True
    # Many guesses, the right one among them: every one refused before the code is looked at.
    for guess in [f"{n:06d}" for n in range(50)] + [code]:
        with pytest.raises(StorageUnavailable, match="cannot be checked"):
            otp.verify(REGISTERED, guess, client_ip=IP)
    with pytest.raises(StorageUnavailable):
        otp.request_code(REGISTERED, client_ip=IP, language="en")
    counters.down = False
    otp.verify(REGISTERED, code, client_ip=IP)  # the refused attempts used nothing up


def test_an_unreachable_redis_refuses_codes_and_guesses() -> None:
    # Nothing listens on port 1 of the loopback: every call is refused at once.
    redis = RedisSharedState("redis://127.0.0.1:1/0", deadline_seconds=1)
    otp = _otp(redis, redis, RecordingSms())
    with pytest.raises(StorageUnavailable):
        otp.request_code(REGISTERED, client_ip=IP, language="en")
    with pytest.raises(StorageUnavailable):
        otp.verify(REGISTERED, "123456", client_ip=IP)
