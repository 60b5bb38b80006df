"""Foreign SMART Health Card issuers' revocation lists fetched from their URL: a real HTTP
server on loopback plays the SMART example issuer (its JWKS with ``crlVersion``, its
``/.well-known/crl/<kid>.json``)."""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from certdist.config import ForeignShcIssuer, Settings, VerifierSettings
from certdist.errors import RevocationUnknown, VerificationError
from certdist.services.common.clock import FixedClock
from certdist.services.common.remote_keys import Fetch, RemoteKeySet, http_fetcher
from certdist.services.verification import Status, build_trust_store
from certdist.services.verification.remote import RemoteRevocationLists, parse_revocation_list
from certdist.wiring import Services
from tests.support.loopback import QuietHandler, serving
from tests.support.services import ServicesFactory
from tests.support.verifier_samples import SHC_ISSUER, SHC_KID

OTHER_KID = "EBKOr72QQDcTBUuVzAzkfBTGew0ZA16GuWty64nS-sw"  # its JWK has no crlVersion
CRL_PATH = f"/.well-known/crl/{SHC_KID}.json"
#: Example 03 expired in 2024: checked before that, its revocation decides.
BEFORE_EXPIRY = FixedClock(datetime(2024, 1, 1, tzinfo=UTC))


@dataclass
class Issuer:
    """What the example issuer serves (path -> body) and which paths were asked for."""

    base: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def publish(self, jwks: dict[str, Any], crl: dict[str, Any] | bytes) -> None:
        self.files["/.well-known/jwks.json"] = json.dumps(jwks).encode()
        self.files[CRL_PATH] = crl if isinstance(crl, bytes) else json.dumps(crl).encode()

    def crl_requests(self) -> int:
        return self.requests.count(CRL_PATH)


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    state = Issuer()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            body = state.files.get(self.path)
            self.answer(200 if body is not None else 404, body or b"")

    with serving(Handler) as base:
        state.base = base
        yield state


def example_jwks(testdata: Path, crl_version: int | None = 1) -> dict[str, Any]:
    path = testdata / "shc" / "examples" / "issuer" / ".well-known" / "jwks.json"
    document: dict[str, Any] = json.loads(path.read_text())
    for key in document["keys"]:
        if key["kid"] == SHC_KID:
            key.pop("crlVersion", None)
            if crl_version is not None:
                key["crlVersion"] = crl_version
    return document


def example_crl(testdata: Path, *, ctr: int = 1, without: str | None = None) -> dict[str, Any]:
    """The example issuer's list at ``ctr``, optionally without the entries of a rid."""
    path = testdata / "shc" / "examples" / "issuer" / ".well-known" / "crl" / f"{SHC_KID}.json"
    document: dict[str, Any] = json.loads(path.read_text())
    if without is not None:
        document["rids"] = [r for r in document["rids"] if r.split(".")[0] != without]
    document["ctr"] = ctr
    return document


def card(testdata: Path, example: str) -> bytes:
    return (testdata / "shc" / "examples" / f"example-{example}-d-jws.txt").read_bytes()


def card_rid(testdata: Path, example: str) -> str:
    path = testdata / "shc" / "examples" / f"example-{example}-c-jws-payload-minified.json"
    rid: str = json.loads(path.read_text())["vc"]["rid"]
    return rid


def remote_settings(
    issuer: Issuer, *, iss: str = SHC_ISSUER, crl_base_url: str | None = None, **options: Any
) -> VerifierSettings:
    """The verifier trusting ``iss`` with keys and lists served by ``issuer``."""
    return VerifierSettings(
        shc_issuers=[
            ForeignShcIssuer(
                iss=iss,
                jwks_url=issuer.base + "/.well-known/jwks.json",
                crl_base_url=crl_base_url or issuer.base + "/.well-known/crl",
            )
        ],
        **options,
    )


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- end to end: settings, HTTP, the verifier ---------------------------------------------------


def test_a_card_in_the_fetched_list_is_revoked(
    make_services: ServicesFactory, testdata: Path, issuer: Issuer
) -> None:
    issuer.publish(example_jwks(testdata), example_crl(testdata))
    services = make_services(verifier=remote_settings(issuer), clock=BEFORE_EXPIRY)
    outcome = services.verifier.check(card(testdata, "03"))
    assert (outcome.status, outcome.code) == (Status.REVOKED, "revoked")
    assert outcome.certificate is not None
    assert outcome.certificate.name == "Johnny Revoked"
    assert issuer.crl_requests() == 1
    services.verifier.check(card(testdata, "03"))
    assert issuer.crl_requests() == 1  # cached while crlVersion stays


def test_a_card_not_in_the_fetched_list_is_valid(
    make_services: ServicesFactory, testdata: Path, issuer: Issuer
) -> None:
    issuer.publish(example_jwks(testdata), example_crl(testdata, without=card_rid(testdata, "03")))
    services = make_services(verifier=remote_settings(issuer), clock=BEFORE_EXPIRY)
    outcome = services.verifier.check(card(testdata, "03"))
    assert (outcome.status, outcome.code) == (Status.VALID, "valid")
    assert issuer.crl_requests() == 1


@pytest.mark.parametrize(
    ("entry", "code"),
    [("{rid}", "revoked"), ("{rid}.{after}", "revoked"), ("{rid}.{before}", "valid")],
)
def test_a_fetched_list_applies_the_rid_rules_to_a_current_card(
    make_services: ServicesFactory, testdata: Path, issuer: Issuer, entry: str, code: str
) -> None:
    """``rid.<time>`` revokes only cards issued (nbf) before that time."""
    nbf = json.loads(
        (testdata / "shc" / "examples" / "example-00-c-jws-payload-minified.json").read_text()
    )["nbf"]
    rid = entry.format(rid=card_rid(testdata, "00"), after=int(nbf) + 1, before=int(nbf) - 1)
    crl = example_crl(testdata)
    issuer.publish(example_jwks(testdata), {**crl, "rids": [*crl["rids"], rid]})
    services = make_services(verifier=remote_settings(issuer))
    assert services.verifier.check(card(testdata, "00")).code == code


def test_the_default_list_url_is_under_the_issuer(
    services: Services, testdata: Path, tmp_path: Path
) -> None:
    asked: list[str] = []
    served = {
        SHC_ISSUER + "/.well-known/jwks.json": example_jwks(testdata),
        f"{SHC_ISSUER}/.well-known/crl/{SHC_KID}.json": example_crl(testdata),
    }

    def fetch(url: str) -> bytes:
        asked.append(url)
        return json.dumps(served[url]).encode()

    verifier = VerifierSettings(shc_issuers=[ForeignShcIssuer(iss=SHC_ISSUER + "/")])
    settings = Settings(data_dir=tmp_path / "unused", verifier=verifier)
    trust = build_trust_store(settings.verifier, settings.public_url, services.keys, fetch=fetch)
    assert trust.shc_keys(SHC_ISSUER, SHC_KID)
    assert trust.shc_revocations(SHC_ISSUER, SHC_KID).lists[0]["ctr"] == 1
    assert asked == list(served)


# --- a raised crlVersion ------------------------------------------------------------------------


def test_a_raised_crl_version_is_fetched_after_the_jwks_max_age(
    make_services: ServicesFactory, testdata: Path, issuer: Issuer
) -> None:
    rid = card_rid(testdata, "03")
    issuer.publish(example_jwks(testdata, crl_version=1), example_crl(testdata, without=rid))
    services = make_services(verifier=remote_settings(issuer), clock=BEFORE_EXPIRY)
    ticks = Ticks()
    services.verifier.trust = build_trust_store(
        services.settings.verifier, services.settings.public_url, services.keys, monotonic=ticks
    )
    assert services.verifier.check(card(testdata, "03")).status is Status.VALID
    issuer.publish(example_jwks(testdata, crl_version=2), example_crl(testdata, ctr=2))
    ticks.now += 60 * 60 - 1  # the JWKS is not due yet: the list held is current for it
    assert services.verifier.check(card(testdata, "03")).status is Status.VALID
    assert issuer.crl_requests() == 1
    ticks.now += 1  # shc_jwks_max_age_minutes (60) after the first fetch
    outcome = services.verifier.check(card(testdata, "03"))
    assert (outcome.status, outcome.code) == (Status.REVOKED, "revoked")
    assert issuer.crl_requests() == 2


def test_a_list_older_than_the_announced_version_is_unknown(testdata: Path, issuer: Issuer) -> None:
    issuer.publish(example_jwks(testdata, crl_version=3), example_crl(testdata, ctr=2))
    ticks = Ticks()
    lists = RemoteRevocationLists(
        issuer.base + "/.well-known/crl", _fetch(), retry_seconds=60, monotonic=ticks
    )
    answer = lists.revocations(SHC_KID, 3)
    assert answer.unknown is not None
    assert answer.lists[0]["ctr"] == 2  # kept: what it names stays revoked
    lists.revocations(SHC_KID, 3)
    assert issuer.crl_requests() == 1  # not asked again before retry_seconds
    ticks.now += 60
    issuer.publish(example_jwks(testdata, crl_version=3), example_crl(testdata, ctr=3))
    assert lists.revocations(SHC_KID, 3).unknown is None
    assert issuer.crl_requests() == 2


# --- lists that cannot be had -------------------------------------------------------------------


@pytest.mark.parametrize(
    "crl",
    [
        b"not json",
        b"[1, 2]",
        b'{"kid": "another", "method": "rid", "ctr": 1, "rids": []}',
        json.dumps({"kid": SHC_KID, "method": "other", "ctr": 1, "rids": []}).encode(),
        json.dumps({"kid": SHC_KID, "method": "rid", "ctr": "1", "rids": []}).encode(),
        json.dumps({"kid": SHC_KID, "method": "rid", "ctr": 1, "rids": [1]}).encode(),
        b"\xff\xfe",
        b"[" * 100_000 + b"]" * 100_000,  # nested past the recursion limit
    ],
)
def test_a_garbage_list_gives_revocation_unknown(
    make_services: ServicesFactory, testdata: Path, issuer: Issuer, crl: bytes
) -> None:
    issuer.publish(example_jwks(testdata), crl)
    services = make_services(verifier=remote_settings(issuer))
    outcome = services.verifier.check(card(testdata, "00"))
    assert (outcome.status, outcome.code) == (Status.INVALID, "revocation-unknown")
    assert "revocation list could not be checked" in outcome.reason
    assert outcome.certificate is not None  # the signature held
    with pytest.raises(RevocationUnknown):
        services.verifier.verify(card(testdata, "00"))


def test_an_oversized_list_gives_revocation_unknown(
    make_services: ServicesFactory, testdata: Path, issuer: Issuer
) -> None:
    crl = example_crl(testdata)
    crl["rids"] += [f"padding{n:05d}" for n in range(500)]
    issuer.publish(example_jwks(testdata), crl)
    services = make_services(verifier=remote_settings(issuer, shc_fetch_max_bytes=4096))
    assert len(issuer.files[CRL_PATH]) > 4096
    assert services.verifier.check(card(testdata, "00")).code == "revocation-unknown"


def test_an_unreachable_list_gives_revocation_unknown_and_is_retried_later(
    make_services: ServicesFactory, testdata: Path, issuer: Issuer
) -> None:
    issuer.publish(example_jwks(testdata), example_crl(testdata))
    del issuer.files[CRL_PATH]  # 404
    services = make_services(verifier=remote_settings(issuer))
    ticks = Ticks()
    services.verifier.trust = build_trust_store(
        services.settings.verifier, services.settings.public_url, services.keys, monotonic=ticks
    )
    assert services.verifier.check(card(testdata, "00")).code == "revocation-unknown"
    assert services.verifier.check(card(testdata, "00")).code == "revocation-unknown"
    assert issuer.crl_requests() == 1  # a failed fetch is not repeated at once
    issuer.publish(example_jwks(testdata), example_crl(testdata))
    ticks.now += 60  # shc_fetch_retry_seconds
    assert services.verifier.check(card(testdata, "00")).status is Status.VALID
    assert issuer.crl_requests() == 2


def test_a_closed_port_gives_revocation_unknown(
    make_services: ServicesFactory, testdata: Path, issuer: Issuer
) -> None:
    issuer.publish(example_jwks(testdata), example_crl(testdata))
    # The discard port: nothing listens there.
    services = make_services(
        verifier=remote_settings(issuer, crl_base_url="http://127.0.0.1:9/crl")
    )
    assert services.verifier.check(card(testdata, "00")).code == "revocation-unknown"


def test_a_redirect_is_not_followed(testdata: Path, issuer: Issuer) -> None:
    fetch = _fetch()
    with pytest.raises(urllib.error.HTTPError, match="404"):
        fetch(issuer.base + "/nowhere")
    issuer.publish(example_jwks(testdata), example_crl(testdata))

    class Redirecting(QuietHandler):
        def do_GET(self) -> None:
            self.answer(302, headers={"Location": issuer.base + CRL_PATH})

    with serving(Redirecting) as base, pytest.raises(urllib.error.HTTPError, match="302"):
        fetch(base + "/crl.json")
    assert issuer.crl_requests() == 0


# --- what is never fetched ----------------------------------------------------------------------


def test_no_list_is_fetched_for_a_key_without_crl_version(
    make_services: ServicesFactory, testdata: Path, issuer: Issuer
) -> None:
    issuer.publish(example_jwks(testdata, crl_version=None), example_crl(testdata))
    services = make_services(verifier=remote_settings(issuer), clock=BEFORE_EXPIRY)
    assert services.verifier.check(card(testdata, "03")).status is Status.VALID
    assert issuer.crl_requests() == 0
    assert issuer.requests == ["/.well-known/jwks.json"]


def test_nothing_is_fetched_for_an_issuer_not_configured(
    make_services: ServicesFactory, testdata: Path, issuer: Issuer
) -> None:
    issuer.publish(example_jwks(testdata), example_crl(testdata))
    services = make_services(verifier=remote_settings(issuer, iss="https://another-issuer.example"))
    assert services.verifier.check(card(testdata, "00")).code == "unknown-key"
    assert issuer.requests == []


def test_a_list_file_wins_over_the_url(
    make_services: ServicesFactory, testdata: Path, issuer: Issuer, tmp_path: Path
) -> None:
    issuer.publish(example_jwks(testdata, crl_version=5), b"never read")
    crl_file = tmp_path / "crl.json"
    crl_file.write_text(json.dumps(example_crl(testdata)))
    settings = VerifierSettings(
        shc_issuers=[
            ForeignShcIssuer(
                iss=SHC_ISSUER,
                jwks_url=issuer.base + "/.well-known/jwks.json",
                crl_files=[crl_file],
            )
        ]
    )
    services = make_services(verifier=settings, clock=BEFORE_EXPIRY)
    assert services.verifier.check(card(testdata, "03")).code == "revoked"
    assert issuer.crl_requests() == 0


def test_an_issuer_with_a_jwks_file_fetches_no_list(
    make_services: ServicesFactory, testdata: Path
) -> None:
    jwks = testdata / "shc" / "examples" / "issuer" / ".well-known" / "jwks.json"
    issuer = ForeignShcIssuer(iss=SHC_ISSUER, jwks_file=jwks)
    assert issuer.crl_base() is None  # an offline configuration unless crl_base_url is set
    services = make_services(verifier=VerifierSettings(shc_issuers=[issuer]), clock=BEFORE_EXPIRY)
    assert services.verifier.check(card(testdata, "03")).status is Status.VALID


@pytest.mark.parametrize("kid", ["../jwks", "a?b", "", "x" * 129])
def test_a_kid_that_cannot_name_a_list_is_never_fetched(kid: str) -> None:
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        return b""

    answer = RemoteRevocationLists("https://issuer.example/crl", fetch).revocations(kid, 1)
    assert answer.unknown is not None
    assert asked == []


# --- the JWKS ---------------------------------------------------------------------------------


def test_an_unknown_kid_refreshes_the_jwks_at_most_once_per_interval(
    testdata: Path, issuer: Issuer
) -> None:
    issuer.publish(example_jwks(testdata), example_crl(testdata))
    ticks = Ticks()
    keys = RemoteKeySet(
        issuer.base + "/.well-known/jwks.json",
        _fetch(),
        unavailable=_keys_unavailable,
        max_age_seconds=3600,
        min_refresh_seconds=60,
        monotonic=ticks,
    )
    keys.keys()
    keys.keys(refresh=True)
    assert issuer.requests.count("/.well-known/jwks.json") == 1
    ticks.now += 60
    keys.keys(refresh=True)
    assert issuer.requests.count("/.well-known/jwks.json") == 2


def test_keys_held_survive_a_failed_refresh(testdata: Path, issuer: Issuer) -> None:
    issuer.publish(example_jwks(testdata), example_crl(testdata))
    ticks = Ticks()
    keys = RemoteKeySet(
        issuer.base + "/.well-known/jwks.json",
        _fetch(),
        unavailable=_keys_unavailable,
        max_age_seconds=60,
        monotonic=ticks,
    )
    assert keys.keys().get_key(SHC_KID) is not None
    issuer.files["/.well-known/jwks.json"] = b"garbage"
    ticks.now += 60
    assert keys.keys().get_key(SHC_KID) is not None
    assert issuer.requests.count("/.well-known/jwks.json") == 2


def test_an_issuer_whose_keys_cannot_be_fetched_is_not_called_a_forgery(
    make_services: ServicesFactory, testdata: Path, issuer: Issuer
) -> None:
    """Nothing is known of the signature yet: "keys-unavailable", never "signature"."""
    services = make_services(
        verifier=remote_settings(issuer)
    )  # nothing published: the JWKS is a 404
    outcome = services.verifier.check(card(testdata, "00"))
    assert (outcome.status, outcome.code) == (Status.INVALID, "keys-unavailable")
    assert outcome.certificate is None
    issuer.publish(example_jwks(testdata), example_crl(testdata, without=card_rid(testdata, "00")))
    services.verifier.trust = build_trust_store(
        services.settings.verifier, services.settings.public_url, services.keys
    )
    assert services.verifier.check(card(testdata, "00")).status is Status.VALID


def test_unreachable_keys_are_an_error(issuer: Issuer) -> None:
    keys = RemoteKeySet(
        issuer.base + "/missing.json", _fetch(), unavailable=_keys_unavailable, max_age_seconds=60
    )
    with pytest.raises(VerificationError, match="could not be fetched"):
        keys.keys()


# --- settings -----------------------------------------------------------------------------------


def test_production_needs_https_revocation_lists() -> None:
    def problems(**issuer: Any) -> list[str]:
        settings = VerifierSettings(shc_issuers=[ForeignShcIssuer(iss=SHC_ISSUER, **issuer)])
        return [p for p in settings.production_problems() if "revocation lists" in p]

    assert problems() == []  # https://<iss>/.well-known/crl
    assert problems(crl_base_url="http://mirror.example/crl") != []
    assert problems(jwks_file=Path("jwks.json")) == []  # files only
    plain = VerifierSettings(shc_issuers=[ForeignShcIssuer(iss="http://issuer.example")])
    assert any(
        "revocation lists of http://issuer.example" in p for p in plain.production_problems()
    )


def test_parse_revocation_list_keeps_only_the_list() -> None:
    body = {"kid": SHC_KID, "method": "rid", "ctr": 4, "rids": ["a.1"], "extra": 1}
    parsed = parse_revocation_list(json.dumps(body).encode(), SHC_KID)
    assert parsed == {"kid": SHC_KID, "method": "rid", "ctr": 4, "rids": ["a.1"]}
    with pytest.raises(ValueError, match="ctr"):
        parse_revocation_list(json.dumps({**body, "ctr": True}).encode(), SHC_KID)


# --- helpers ------------------------------------------------------------------------------------


def _keys_unavailable() -> VerificationError:
    return VerificationError("the card issuer's keys could not be fetched")


def _fetch() -> Fetch:
    return http_fetcher(timeout_seconds=5, max_bytes=1024 * 1024)
