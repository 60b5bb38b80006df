"""What the OpenID4VCI exchange keeps between its requests, in the shared state (Redis or
the database, never one process's memory), each entry living only as long as it may be used.

* ``offer:<id>`` — the Credential Offer behind a ``credential_offer_uri``;
* ``code:<digest>`` — a pre-authorized code's :class:`Grant`, found by a keyed digest of the
  code (a copy of the store does not hand out usable codes); redeemed with ``pop``, so of
  two concurrent token requests at most one wins;
* ``tx-fail:<digest>`` — wrong transaction codes counted against a pre-authorized code;
* ``token:<digest>`` — an access token's :class:`Grant`;
* ``issued:<digest>`` — credentials issued with an access token (at most a batch);
* ``nonce:<c_nonce>`` — an unused ``c_nonce``; spent with ``pop``, also atomic across
  processes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

from certdist.domain.roles import Permission, Principal
from certdist.services.common import KeyedHasher
from certdist.storage.state import SharedState

PREFIX: Final = "oid4vci:"


@dataclass(frozen=True)
class Grant:
    """One certificate's credential, granted by whoever made the offer: the beneficiary and
    kind (the latest live certificate of that kind is issued, so a correction made meanwhile
    is what the wallet gets), the configuration offered, and the offer's maker for the
    download audit. ``tx_code`` is the keyed digest of the transaction code (code grants)."""

    pre_enrollment_code: str
    entity_type: str
    configuration_id: str
    actor: str
    actor_issuer: str
    permission: str
    tx_code: str = ""
    offer_id: str = ""

    def principal(self) -> Principal:
        return Principal(
            subject=self.actor, username=self.actor, roles=frozenset(), issuer=self.actor_issuer
        )

    @property
    def audit_permission(self) -> Permission:
        return Permission(self.permission)


class GrantStore:
    """The entries above, as JSON in :class:`SharedState`."""

    def __init__(self, state: SharedState, hasher: KeyedHasher) -> None:
        self._state = state
        self._hasher = hasher

    def digest(self, secret: str) -> str:
        return self._hasher.digest("openid4vci", secret)

    def put_offer(self, offer_id: str, offer: Mapping[str, object], ttl: float) -> None:
        self._state.put(f"{PREFIX}offer:{offer_id}", json.dumps(offer).encode(), ttl)

    def offer(self, offer_id: str) -> dict[str, Any] | None:
        raw = self._state.get(f"{PREFIX}offer:{offer_id}")
        return json.loads(raw) if raw is not None else None

    def forget_offer(self, offer_id: str) -> None:
        self._state.delete(f"{PREFIX}offer:{offer_id}")

    def put_grant(self, kind: str, secret: str, grant: Grant, ttl: float) -> None:
        self._state.put(self._key(kind, secret), json.dumps(asdict(grant)).encode(), ttl)

    def grant(self, kind: str, secret: str) -> Grant | None:
        return _grant(self._state.get(self._key(kind, secret)))

    def take_grant(self, kind: str, secret: str) -> Grant | None:
        """The grant, deleted in the same step (None when another request took it first)."""
        return _grant(self._state.pop(self._key(kind, secret)))

    def forget_grant(self, kind: str, secret: str) -> None:
        self._state.delete(self._key(kind, secret))

    def count(self, kind: str, secret: str, ttl: float) -> int:
        """Add one to a counter kept beside the grant and return it."""
        return self._state.incr(self._key(kind, secret), ttl)

    def remaining(self, kind: str, secret: str) -> float | None:
        return self._state.ttl(self._key(kind, secret))

    def put_nonce(self, nonce: str, ttl: float) -> None:
        self._state.put(f"{PREFIX}nonce:{nonce}", b"1", ttl)

    def spend_nonce(self, nonce: str) -> bool:
        """True for the one request that spends a live nonce; False if unknown or spent."""
        return self._state.pop(f"{PREFIX}nonce:{nonce}") is not None

    def _key(self, kind: str, secret: str) -> str:
        return f"{PREFIX}{kind}:{self.digest(secret)}"


def _grant(raw: bytes | None) -> Grant | None:
    return Grant(**json.loads(raw)) if raw is not None else None
