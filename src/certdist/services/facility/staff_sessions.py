"""Facility staff sessions: who signed in, with which roles, until when.

Kept in the shared state store like citizen sessions (several server processes), with the
same rules (docs/architecture.md, “Security rules”): a 256-bit id known only to the browser
(the store holds its keyed hash), a new id at every sign-in, an idle and an absolute
timeout, a CSRF token per session.
Staff roles are copied from the provider's token at sign-in; a session never outlives the
absolute timeout, so a role removed at the provider stops working by then.

A session also remembers the beneficiaries its searches found: the desk prints only those,
so a staff member cannot page through the register by typing beneficiary ids (searches, by
phone and date of birth, are rate-limited; ids are often sequential).
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from certdist.domain.roles import Principal
from certdist.errors import PermissionDenied
from certdist.services.common import Clock, KeyedHasher
from certdist.storage.state import SharedState

IDLE_SECONDS = 30 * 60
FOUND_KEPT = 100  # the newest beneficiaries found in a session, enough for a day's queue


@dataclass(frozen=True)
class StaffSession:
    id: str  # the cookie value; never stored
    principal: Principal
    csrf_token: str
    expires_at: datetime  # the absolute timeout


class StaffSessions:
    def __init__(
        self, state: SharedState, hasher: KeyedHasher, clock: Clock, *, absolute_seconds: int
    ) -> None:
        self._state = state
        self._hasher = hasher
        self._clock = clock
        self._absolute = timedelta(seconds=absolute_seconds)

    def start(self, principal: Principal, *, replacing: str | None = None) -> StaffSession:
        if replacing:
            self.end(replacing)
        session = StaffSession(
            id=secrets.token_urlsafe(32),
            principal=principal,
            csrf_token=secrets.token_urlsafe(32),
            expires_at=self._clock.now() + self._absolute,
        )
        self._store(session)
        return session

    def get(self, session_id: str | None) -> StaffSession | None:
        """The live session for a cookie value; each use restarts the idle timeout."""
        if not session_id or len(session_id) > 128:
            return None
        raw = self._state.get(self._key(session_id))
        if raw is None:
            return None
        data = json.loads(raw)
        principal = Principal(
            subject=data["subject"],
            username=data["username"],
            roles=frozenset(data["roles"]),
            issuer=data["issuer"],
        )
        session = StaffSession(
            session_id, principal, data["csrf"], datetime.fromisoformat(data["expires"])
        )
        if self._clock.now() >= session.expires_at:
            self.end(session_id)
            return None
        self._store(session)
        return session

    def end(self, session_id: str) -> None:
        self._state.delete(self._key(session_id))
        self._state.delete(self._found_key(session_id))

    def remember_found(self, session: StaffSession, codes: Iterable[str]) -> None:
        """Add beneficiaries a search found to the ones this session may open."""
        new = list(dict.fromkeys(codes))
        if not new:
            return
        kept = [code for code in self._found(session) if code not in new]
        found = [*new, *kept][:FOUND_KEPT]
        left = (session.expires_at - self._clock.now()).total_seconds()
        if left > 0:
            self._state.put(self._found_key(session.id), json.dumps(found).encode(), left)

    def was_found(self, session: StaffSession, code: str) -> bool:
        return code in self._found(session)

    def _found(self, session: StaffSession) -> list[str]:
        raw = self._state.get(self._found_key(session.id))
        found: list[str] = json.loads(raw) if raw else []
        return found

    @staticmethod
    def check_csrf(session: StaffSession, submitted: str | None) -> None:
        # Bytes: compare_digest refuses non-ASCII str, and the form field may hold any text.
        if not submitted or not hmac.compare_digest(
            submitted.encode(), session.csrf_token.encode()
        ):
            raise PermissionDenied("the form's security token is missing or out of date")

    def _store(self, session: StaffSession) -> None:
        left = (session.expires_at - self._clock.now()).total_seconds()
        payload = {
            "subject": session.principal.subject,
            "username": session.principal.username,
            "roles": sorted(session.principal.roles),
            "issuer": session.principal.issuer,
            "csrf": session.csrf_token,
            "expires": session.expires_at.isoformat(),
        }
        self._state.put(
            self._key(session.id), json.dumps(payload).encode(), min(left, IDLE_SECONDS)
        )

    def _key(self, session_id: str) -> str:
        return "staff-session:" + self._hasher.digest("staff-session", session_id)

    def _found_key(self, session_id: str) -> str:
        return "staff-found:" + self._hasher.digest("staff-session", session_id)
