"""Fetching issuers' documents over HTTP (deadline, size limit, no redirects) and a JWKS kept
fresh; used by the token verifier and the certificate verifier."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.error import HTTPError

import pytest
from jwcrypto import jwk

from certdist.errors import AuthenticationFailed
from certdist.services.common.remote_keys import RemoteKeySet, http_fetcher
from tests.support.loopback import QuietHandler, serving

KEYSET = jwk.JWKSet()
KEYSET.add(jwk.JWK.generate(kty="EC", crv="P-256", kid="k1"))
SERVED = {
    "/jwks.json": KEYSET.export(private_keys=False).encode(),
    "/big": b"x" * 5000,
}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            if self.path == "/moved":
                self.answer(302, headers={"Location": "/jwks.json"})
                return
            body = SERVED.get(self.path)
            self.answer(200 if body is not None else 404, body or b"")

    with serving(Handler) as base:
        yield base


def test_the_fetcher_reads_within_its_limits_and_refuses_the_rest(base_url: str) -> None:
    fetch = http_fetcher(timeout_seconds=5, max_bytes=4096)
    assert fetch(base_url + "/jwks.json") == SERVED["/jwks.json"]
    with pytest.raises(ValueError, match="larger than 4096"):
        fetch(base_url + "/big")
    with pytest.raises(HTTPError, match="302"):  # a redirect could lead anywhere
        fetch(base_url + "/moved")
    with pytest.raises(HTTPError, match="404"):
        fetch(base_url + "/missing")
    with pytest.raises(ValueError, match="http"):
        fetch("file:///etc/passwd")


def test_a_key_set_is_fetched_once_and_again_only_for_an_unknown_key(base_url: str) -> None:
    asked: list[str] = []
    fetch = http_fetcher(timeout_seconds=5, max_bytes=4096)
    now = [0.0]

    def counting(url: str) -> bytes:
        asked.append(url)
        return fetch(url)

    keys = RemoteKeySet(
        base_url + "/jwks.json",
        counting,
        unavailable=lambda: AuthenticationFailed("no keys"),
        monotonic=lambda: now[0],
    )
    assert keys.keys().get_key("k1") is not None
    now[0] += 10_000  # without max_age_seconds, age alone never fetches again
    keys.keys()
    assert len(asked) == 1
    keys.keys(refresh=True)
    keys.keys(refresh=True)  # within min_refresh_seconds of the last try
    assert len(asked) == 2


def test_no_keys_at_all_raises_the_callers_error(base_url: str) -> None:
    keys = RemoteKeySet(
        base_url + "/missing",
        http_fetcher(timeout_seconds=5, max_bytes=4096),
        unavailable=lambda: AuthenticationFailed("the token issuer's keys are unavailable"),
    )
    with pytest.raises(AuthenticationFailed, match="unavailable"):
        keys.keys()
