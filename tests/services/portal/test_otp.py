"""One-time codes (DESIGN §4): life, guesses, replacement, limits, budget, equal answers,
hash-only storage. The state store runs in memory and in the database (SQLite, PostgreSQL)."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from certdist.config import PortalSettings
from certdist.errors import AuthenticationFailed, InvalidInput, RateLimited
from certdist.services.common.clock import FixedClock
from certdist.services.common.hashing import KeyedHasher
from certdist.services.common.ratelimit import RateLimiter
from certdist.services.messaging.sms import OtpTexts, RecordingSms
from certdist.services.portal.otp import OtpService
from certdist.storage import Database
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
        found = re.search(r"#(\d{6})$", text)
        assert found is not None
        return found.group(1)

    def wrong_code(self, mobile: str) -> str:
        right = self.code_sent_to(mobile)
        return "000000" if right != "000000" else "111111"


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


def test_sends_per_phone_are_limited_until_the_window_ends(make_rig: MakeRig) -> None:
    rig = make_rig(otp_sends_per_phone=3)
    for _ in range(3):
        rig.otp.request_code(REGISTERED, client_ip=IP, language="en")
    with pytest.raises(RateLimited) as refused:
        rig.otp.request_code(REGISTERED, client_ip="198.51.100.1", language="en")
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
