"""Portal sessions in the shared state (rules: docs/architecture.md, “Security rules”),
so every server process sees them.

* A session id is ``secrets.token_urlsafe(32)`` (256 bits); only its keyed hash is a state
  key, so a leak of the state store reveals no usable cookie.
* A new id at every login (the old one, if any, is deleted): no session fixation.
* Idle timeout (30 minutes without a request) and absolute timeout (12 hours after login),
  both checked against the injected clock; the stored entry also expires then.
* Each session has its own CSRF token, checked on every form post. Before login there is no
  session: the login forms use a pre-session cookie and a token derived from it with the
  keyed hasher (a signed double-submit), and the number waiting for its code is remembered
  under that pre-session.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from certdist.errors import PermissionDenied
from certdist.services.common import Clock, KeyedHasher
from certdist.storage.state import SharedState

#: A session's last-seen time is written back at most this often (one write per minute,
#: not one per request); the idle timeout is therefore exact to within this.
TOUCH_SECONDS = 60
#: How long a started login (number entered, code not yet entered) is remembered.
PENDING_LOGIN_SECONDS = 15 * 60


@dataclass(frozen=True)
class PortalSession:
    id: str  # the cookie value; never stored
    mobile: str  # E.164
    csrf_token: str
    created_at: datetime
    last_seen: datetime
    confirmed: frozenset[str] = frozenset()  # beneficiaries whose year of birth was confirmed

    def encode(self) -> bytes:
        return json.dumps(
            {
                "mobile": self.mobile,
                "csrf": self.csrf_token,
                "created": self.created_at.isoformat(),
                "seen": self.last_seen.isoformat(),
                "confirmed": sorted(self.confirmed),
            }
        ).encode()

    @classmethod
    def decode(cls, session_id: str, raw: bytes) -> PortalSession:
        data = json.loads(raw)
        return cls(
            id=session_id,
            mobile=str(data["mobile"]),
            csrf_token=str(data["csrf"]),
            created_at=datetime.fromisoformat(data["created"]),
            last_seen=datetime.fromisoformat(data["seen"]),
            confirmed=frozenset(data.get("confirmed", ())),
        )


class SessionService:
    def __init__(
        self,
        state: SharedState,
        hasher: KeyedHasher,
        clock: Clock,
        *,
        idle_seconds: int,
        absolute_seconds: int,
    ) -> None:
        self._state = state
        self._hasher = hasher
        self._clock = clock
        self._idle = timedelta(seconds=idle_seconds)
        self._absolute = timedelta(seconds=absolute_seconds)

    # --- sessions --------------------------------------------------------------------------

    def start(self, mobile: str, *, replacing: str | None = None) -> PortalSession:
        """A new session for a number that just proved itself; ``replacing`` (the id the
        browser sent, if any) is deleted, so an id planted before login is worthless."""
        if replacing:
            self.end(replacing)
        now = self._clock.now()
        session = PortalSession(
            id=secrets.token_urlsafe(32),
            mobile=mobile,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
        )
        self._save(session)
        return session

    def get(self, session_id: str | None) -> PortalSession | None:
        """The live session for a cookie value, or None (unknown, idle or too old)."""
        if not session_id or len(session_id) > 128:
            return None
        raw = self._state.get(self._key(session_id))
        if raw is None:
            return None
        session = PortalSession.decode(session_id, raw)
        now = self._clock.now()
        if now >= session.created_at + self._absolute or now >= session.last_seen + self._idle:
            self.end(session_id)
            return None
        if now - session.last_seen >= timedelta(seconds=TOUCH_SECONDS):
            session = replace(session, last_seen=now)
            self._save(session)
        return session

    def confirm_beneficiary(self, session: PortalSession, pre_enrollment_code: str) -> None:
        self._save(replace(session, confirmed=session.confirmed | {pre_enrollment_code}))

    def end(self, session_id: str) -> None:
        """Logout: the server forgets the session, whatever the browser keeps."""
        self._state.delete(self._key(session_id))

    def check_csrf(self, session: PortalSession, submitted: str | None) -> None:
        # Bytes: compare_digest refuses non-ASCII str, and the form field may hold any text.
        if not submitted or not hmac.compare_digest(
            submitted.encode(), session.csrf_token.encode()
        ):
            raise PermissionDenied("the form's security token is missing or out of date")

    # --- before login ----------------------------------------------------------------------

    @staticmethod
    def new_pre_session() -> str:
        return secrets.token_urlsafe(32)

    def pre_session_csrf(self, pre_session: str) -> str:
        return self._hasher.digest("csrf-pre-session", pre_session)

    def check_pre_session_csrf(self, pre_session: str | None, submitted: str | None) -> None:
        if (
            not pre_session
            or not submitted
            or not hmac.compare_digest(
                self.pre_session_csrf(pre_session).encode(), submitted.encode()
            )
        ):
            raise PermissionDenied("the form's security token is missing or out of date")

    def remember_login(self, pre_session: str, mobile: str) -> None:
        self._state.put(self._login_key(pre_session), mobile.encode(), PENDING_LOGIN_SECONDS)

    def pending_login(self, pre_session: str | None) -> str | None:
        if not pre_session or len(pre_session) > 128:
            return None
        raw = self._state.get(self._login_key(pre_session))
        return None if raw is None else raw.decode()

    def forget_login(self, pre_session: str) -> None:
        self._state.delete(self._login_key(pre_session))

    # --- storage ---------------------------------------------------------------------------

    def _save(self, session: PortalSession) -> None:
        expires = min(session.created_at + self._absolute, session.last_seen + self._idle)
        ttl = (expires - self._clock.now()).total_seconds()
        if ttl > 0:
            self._state.put(self._key(session.id), session.encode(), ttl)

    def _key(self, session_id: str) -> str:
        return "session:" + self._hasher.digest("session", session_id)

    def _login_key(self, pre_session: str) -> str:
        return "login:" + self._hasher.digest("pre-session", pre_session)
