"""SMS: the localised one-time-code text, the outbox backend, and the HTTP gateway client
against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from certdist.cli import main
from certdist.config import Mode, Settings, SmsSettings
from certdist.errors import ConfigurationError, DeliveryFailed
from certdist.services.common.clock import FixedClock
from certdist.services.messaging.sms import (
    DevInboxSms,
    HttpSms,
    HttpSmsConfig,
    OtpTexts,
    RecordingSms,
)
from certdist.storage import Database
from certdist.wiring import build_services
from tests.support.loopback import QuietHandler, serving

TEXT = 'Code 123456 "quoted" \\ हिन्दी\n\n@x.in #123456'


@dataclass
class Gateway:
    """What the fake gateway received, and what it answers (a status per request)."""

    url: str
    answers: list[int] = field(default_factory=list)
    delay_seconds: float = 0.0
    received: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    state = Gateway(url="")

    class Handler(QuietHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            state.received.append((self.command, self.path, dict(self.headers), body))
            time.sleep(state.delay_seconds)
            self.answer(state.answers.pop(0) if state.answers else 200, b"ok")

        do_GET = do_POST = do_PUT = _answer

    with serving(Handler) as base:
        state.url = base + "/send"
        yield state


def _sender(gateway: Gateway, sleeps: list[float], **options: Any) -> HttpSms:
    config = HttpSmsConfig(
        url=gateway.url, headers={"Content-Type": "application/json", "X-Api-Key": "k1"}
    )
    return HttpSms(replace(config, **options), sleep=sleeps.append)


def test_the_json_body_carries_number_and_text_escaped(gateway: Gateway) -> None:
    sleeps: list[float] = []
    _sender(gateway, sleeps).send("+919000000001", TEXT)
    (method, path, headers, body), *_ = gateway.received
    assert (method, path) == ("POST", "/send")
    assert headers["X-Api-Key"] == "k1"
    assert json.loads(body) == {"to": "+919000000001", "text": TEXT}
    assert sleeps == []


def test_a_form_body_is_url_encoded(gateway: Gateway) -> None:
    sender = _sender(
        gateway,
        [],
        body_template="sender=CERTDS&mobile=${to}&message=${text}",
        body_encoding="form",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    sender.send("+919000000001", TEXT)
    form = parse_qs(gateway.received[0][3].decode())
    assert form == {"sender": ["CERTDS"], "mobile": ["+919000000001"], "message": [TEXT]}


def test_get_puts_the_template_in_the_query(gateway: Gateway) -> None:
    sender = _sender(
        gateway, [], method="GET", body_template="to=${to}&text=${text}", body_encoding="form"
    )
    sender.send("+919000000001", "hello 1")
    method, path, _, body = gateway.received[0]
    assert method == "GET"
    assert body == b""
    assert parse_qs(urlsplit(path).query) == {"to": ["+919000000001"], "text": ["hello 1"]}


def test_transient_failures_are_retried_with_backoff(gateway: Gateway) -> None:
    gateway.answers = [503, 429]
    sleeps: list[float] = []
    _sender(gateway, sleeps, retries=2, backoff_seconds=0.5).send("+919000000001", "x")
    assert len(gateway.received) == 3
    assert sleeps == [0.5, 1.0]


def test_giving_up_after_the_retries_raises_delivery_failed(gateway: Gateway) -> None:
    gateway.answers = [500, 502, 504]
    with pytest.raises(DeliveryFailed, match="HTTP 504"):
        _sender(gateway, [], retries=2).send("+919000000001", "x")
    assert len(gateway.received) == 3


def test_a_refusal_is_not_retried(gateway: Gateway) -> None:
    gateway.answers = [401]
    with pytest.raises(DeliveryFailed, match="HTTP 401") as failed:
        _sender(gateway, [], retries=3).send("+919000000001", "secret text")
    assert len(gateway.received) == 1
    assert "+91" not in str(failed.value)
    assert "secret" not in str(failed.value)


def test_a_slow_gateway_times_out_and_is_retried(gateway: Gateway) -> None:
    gateway.delay_seconds = 0.5
    with pytest.raises(DeliveryFailed):
        _sender(gateway, [], retries=1, timeout_seconds=0.1).send("+919000000001", "x")
    assert len(gateway.received) == 2


def test_a_gateway_that_is_not_there_fails_as_transient() -> None:
    sleeps: list[float] = []
    config = HttpSmsConfig(url="http://127.0.0.1:9/send", retries=1, timeout_seconds=1)
    with pytest.raises(DeliveryFailed):
        HttpSms(config, sleep=sleeps.append).send("+919000000001", "x")
    assert len(sleeps) == 1


def test_only_http_urls_are_accepted() -> None:
    with pytest.raises(ConfigurationError):
        HttpSms(HttpSmsConfig(url="file:///etc/passwd"))
    with pytest.raises(ValueError, match="http"):
        SmsSettings(backend="http", http_url="ftp://gateway")


def test_the_text_follows_the_language_and_ends_with_the_webotp_line() -> None:
    texts = OtpTexts({"en": "{code} valid {minutes} min", "hi": "{code} कोड"}, "en", "a.gov.in")
    assert texts.render("012345", language="hi", minutes=5) == "012345 कोड\n\n@a.gov.in #012345"
    assert texts.render("012345", language="ta", minutes=5).startswith("012345 valid 5 min\n")
    with pytest.raises(ConfigurationError):
        OtpTexts({"en": "no placeholder"}, "en", "a.gov.in")
    with pytest.raises(ConfigurationError):
        OtpTexts({"hi": "{code}"}, "en", "a.gov.in")


def test_the_default_texts_exist_in_english_and_hindi() -> None:
    texts = SmsSettings().texts
    assert set(texts) >= {"en", "hi"}
    assert all("{code}" in text for text in texts.values())


def test_the_outbox_keeps_messages_newest_first(database: Database) -> None:
    clock = FixedClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    outbox = database.dev_sms_inbox()
    sender = DevInboxSms(outbox, clock)
    sender.send("+919000000001", "first")
    clock.advance(timedelta(seconds=1))
    sender.send("+919000000002", TEXT)
    latest = outbox.latest(10)
    assert [(m.recipient, m.body) for m in latest] == [
        ("+919000000002", TEXT),
        ("+919000000001", "first"),
    ]
    assert [m.body for m in outbox.latest(10, recipient="+919000000001")] == ["first"]
    assert len(outbox.latest(1)) == 1


def test_production_refuses_the_development_inbox() -> None:
    assert SmsSettings().production_problems()
    assert SmsSettings(backend="outbox").backend == "inbox"  # its former name is still read
    assert not SmsSettings(backend="http", http_url="https://sms.example").production_problems()
    with pytest.raises(ConfigurationError, match="inbox"):
        Settings(mode=Mode.PRODUCTION).check()


def test_the_recording_sender_can_be_told_to_fail() -> None:
    sender = RecordingSms()
    sender.fail_next = 1
    with pytest.raises(DeliveryFailed):
        sender.send("+919000000001", "a")
    sender.send("+919000000001", "b")
    assert sender.sent == [("+919000000001", "b")]


@pytest.mark.parametrize("command", ["inbox", "outbox"])  # "outbox": the former name
def test_the_inbox_is_printed_by_the_command_line(tmp_path: Path, command: str) -> None:
    environment = {
        "CERTDIST_DATA_DIR": str(tmp_path / "data"),
        "CERTDIST_LOG_JSON": "false",
        "CERTDIST_LOG_LEVEL": "WARNING",
    }
    services = build_services(Settings(data_dir=tmp_path / "data", log_json=False))
    try:
        sender = services.messaging.sms
        sender.send("+919000000001", "old one\n\n@x.in #111111")
        time.sleep(0.01)  # the inbox orders by time
        sender.send("+919000000001", "654321 is your code\n\n@x.in #654321")
    finally:
        services.close()
    result = CliRunner().invoke(main, ["sms", command, "--last", "1"], env=environment)
    assert result.exit_code == 0, result.output
    assert "to +919000000001" in result.output
    assert "@x.in #654321" in result.output
    assert "111111" not in result.output
