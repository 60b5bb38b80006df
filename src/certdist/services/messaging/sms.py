"""Sending SMS: one small interface, the development outbox, an HTTP gateway client.

``SmsSender.send(to, text)`` takes an E.164 number and the whole message; it raises
``DeliveryFailed`` when the message was not taken and sending again may work. The text of
one-time-code messages comes from :class:`OtpTexts` (one template per language, from
``SmsSettings.texts``), which always ends with the WebOTP line ``@<host> #<code>`` so a
phone can offer the code for autofill on that site only.
"""

from __future__ import annotations

import json
import logging
import string
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from certdist.config import SmsSettings
from certdist.errors import ConfigurationError, DeliveryFailed
from certdist.services.common import Clock
from certdist.storage.dev_sms_inbox import DevSmsInbox, DevSmsMessage

log = logging.getLogger(__name__)


class SmsSender(Protocol):
    def send(self, to: str, text: str) -> None:
        """Hand one message to the network; ``DeliveryFailed`` when it was not taken."""


class OtpTexts:
    """The one-time-code message in the citizen's language (the default one otherwise)."""

    def __init__(self, templates: Mapping[str, str], default_language: str, host: str) -> None:
        if default_language not in templates:
            raise ConfigurationError(f"sms.texts has no text for {default_language!r}")
        for language, template in templates.items():
            if "{code}" not in template:
                raise ConfigurationError(f"sms.texts[{language!r}] must contain {{code}}")
        self._templates = dict(templates)
        self._default = default_language
        self._host = host

    def render(self, code: str, *, language: str, minutes: int) -> str:
        template = self._templates.get(language) or self._templates[self._default]
        body = template.replace("{code}", code).replace("{minutes}", str(minutes))
        # WebOTP (origin-bound one-time codes): the last line names the site and the code.
        return f"{body}\n\n@{self._host} #{code}"


class DevInboxSms:
    """The embedded default: messages are stored, not sent (development only)."""

    def __init__(self, outbox: DevSmsInbox, clock: Clock) -> None:
        self._outbox = outbox
        self._clock = clock

    def send(self, to: str, text: str) -> None:
        self._outbox.add(
            DevSmsMessage(
                id=str(uuid.uuid4()), created_at=self._clock.now(), recipient=to, body=text
            )
        )


@dataclass(frozen=True)
class HttpSmsConfig:
    url: str
    method: Literal["POST", "PUT", "GET"] = "POST"
    headers: Mapping[str, str] | None = None
    body_template: str = '{"to": "${to}", "text": "${text}"}'
    body_encoding: Literal["json", "form"] = "json"
    timeout_seconds: float = 5.0
    retries: int = 2
    backoff_seconds: float = 0.5


#: Gateway answers worth another try: overload, throttling, a proxy in between failing.
_TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class HttpSms:
    """A gateway reached over HTTP(S): the request is built from a template.

    Transient failures (timeouts, connection errors, the statuses above) are retried with
    exponential backoff; other 4xx answers mean the gateway refuses the request as built
    (credentials, template) and are not retried. Either way ``DeliveryFailed`` names only the
    status, never the number or text.
    """

    def __init__(
        self, config: HttpSmsConfig, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        if not config.url.startswith(("http://", "https://")):
            raise ConfigurationError("sms.http_url must be an http:// or https:// URL")
        self._config = config
        self._sleep = sleep

    def send(self, to: str, text: str) -> None:
        request = self._request(to, text)
        attempts = self._config.retries + 1
        for attempt in range(attempts):
            problem = self._attempt(request)
            if problem is None:
                return
            transient, reason = problem
            if not transient or attempt == attempts - 1:
                log.warning("sms gateway refused a message", extra={"reason": reason})
                raise DeliveryFailed(f"the SMS gateway did not take the message ({reason})")
            self._sleep(self._config.backoff_seconds * (2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, request: urllib.request.Request) -> tuple[bool, str] | None:
        """None on success, else (worth retrying, reason)."""
        try:
            # The URL is an operator's setting checked to be http(s) above, not user input.
            with urllib.request.urlopen(request, timeout=self._config.timeout_seconds) as answer:  # noqa: S310
                answer.read()
                return None
        except urllib.error.HTTPError as exc:
            return exc.code in _TRANSIENT_STATUSES, f"HTTP {exc.code}"
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            return True, type(exc).__name__

    def _request(self, to: str, text: str) -> urllib.request.Request:
        config = self._config
        escape = _escape_json if config.body_encoding == "json" else _escape_form
        filled = string.Template(config.body_template).safe_substitute(
            to=escape(to), text=escape(text)
        )
        url: str = config.url
        data: bytes | None = filled.encode("utf-8")
        if config.method == "GET":
            url, data = url + ("&" if "?" in url else "?") + filled, None
        headers = dict(config.headers or {})
        # http(s) only: checked in __init__ (and by the settings).
        return urllib.request.Request(url, data=data, headers=headers, method=config.method)  # noqa: S310


def _escape_json(value: str) -> str:
    """The value as it appears between the quotes of a JSON string."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


def _escape_form(value: str) -> str:
    return urllib.parse.quote_plus(value)


class RecordingSms:
    """The test sender: keeps every message; ``fail_next`` makes the next sends fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail_next = 0

    def send(self, to: str, text: str) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise DeliveryFailed("recording sender told to fail")
        self.sent.append((to, text))

    def last_to(self, to: str) -> str | None:
        for recipient, text in reversed(self.sent):
            if recipient == to:
                return text
        return None


def sms_sender(settings: SmsSettings, inbox: DevSmsInbox | None, clock: Clock) -> SmsSender:
    """The configured gateway, or (development) the inbox behind ``/dev/sms``."""
    if settings.backend == "http":
        if not settings.http_url:
            raise ConfigurationError("sms.http_url is required when sms.backend is 'http'")
        return HttpSms(
            HttpSmsConfig(
                url=settings.http_url,
                method=settings.http_method,
                headers=settings.http_headers,
                body_template=settings.http_body_template,
                body_encoding=settings.http_body_encoding,
                timeout_seconds=settings.http_timeout_seconds,
                retries=settings.http_retries,
                backoff_seconds=settings.http_backoff_seconds,
            )
        )
    assert inbox is not None
    return DevInboxSms(inbox, clock)
