"""Share links: ownership, expiry, revocation, dead certificates, passcodes (with concurrent
guesses), the minimal view, documents and the owner's access log."""

from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
from PIL import Image

from certdist.domain.roles import Permission, Principal
from certdist.errors import AuthenticationFailed, InvalidInput, NotFound, RateLimited
from certdist.services.common.clock import FixedClock
from certdist.services.sharing.links import (
    PASSCODE_FAILURE_CAP,
    UNLOCK_LIFETIME,
    Expiry,
    LinkState,
)
from certdist.storage.share_links import ShareKind
from certdist.wiring import Services
from tests.support.delivery import MOBILE, DeliveryServicesFactory, request
from tests.support.imaging import read_qr_codes

OTHER_MOBILE = "+919000000002"


def issue(services: Services, code: str = "SHR0001") -> str:
    [issued] = services.issuance.certificates.certify([request(code)])
    return issued.certificate_id


def test_a_link_is_made_for_the_owners_live_certificate_only(services: Services) -> None:
    certificate_id = issue(services)
    created = services.sharing.links.create(MOBILE, certificate_id)
    assert created.url == f"https://certs.example/s/{created.token}"
    assert len(created.token) >= 43  # 256 bits, base64url
    assert created.token not in created.link.token_hash
    assert MOBILE not in created.link.owner_hash
    assert created.link.expires_at - created.link.created_at == timedelta(days=7)
    with pytest.raises(NotFound):
        services.sharing.links.create(OTHER_MOBILE, certificate_id)
    with pytest.raises(NotFound):
        services.sharing.links.create(MOBILE, "999999999999")


@pytest.mark.parametrize(
    ("expiry", "lifetime"),
    [
        (Expiry.HOUR, timedelta(hours=1)),
        (Expiry.DAY, timedelta(days=1)),
        (Expiry.WEEK, timedelta(days=7)),
        (Expiry.MONTH, timedelta(days=30)),
    ],
)
def test_links_expire(
    services: Services, clock: FixedClock, expiry: Expiry, lifetime: timedelta
) -> None:
    created = services.sharing.links.create(MOBILE, issue(services), expiry=expiry)
    clock.advance(lifetime - timedelta(seconds=1))
    services.sharing.links.resolve(created.token)
    clock.advance(timedelta(seconds=1))
    with pytest.raises(NotFound):
        services.sharing.links.resolve(created.token)
    [overview] = services.sharing.links.links_of(MOBILE)
    assert overview.state is LinkState.EXPIRED


def test_revocation_is_for_the_owner_and_kills_the_link(services: Services) -> None:
    created = services.sharing.links.create(MOBILE, issue(services))
    with pytest.raises(NotFound):
        services.sharing.links.revoke(OTHER_MOBILE, created.link.id)
    services.sharing.links.resolve(created.token)
    services.sharing.links.revoke(MOBILE, created.link.id)
    with pytest.raises(NotFound):
        services.sharing.links.resolve(created.token)
    assert services.sharing.links.links_of(MOBILE)[0].state is LinkState.REVOKED


def test_a_corrected_certificate_kills_its_links(services: Services) -> None:
    created = services.sharing.links.create(MOBILE, issue(services, "SHR0002"))
    services.issuance.certificates.correct([request("SHR0002")])
    with pytest.raises(NotFound):
        services.sharing.links.resolve(created.token)
    assert services.sharing.links.links_of(MOBILE)[0].state is LinkState.CERTIFICATE_REPLACED


def test_a_revoked_certificate_kills_its_links(services: Services) -> None:
    created = services.sharing.links.create(MOBILE, issue(services, "SHR0003"))
    services.issuance.certificates.revoke("SHR0003", None, reason="test")
    with pytest.raises(NotFound):
        services.sharing.links.resolve(created.token)


def test_an_unknown_token_is_not_found(services: Services) -> None:
    with pytest.raises(NotFound):
        services.sharing.links.resolve("x" * 43)


def test_the_view_is_minimal_and_every_use_is_in_the_owners_access_log(
    services: Services, clock: FixedClock
) -> None:
    created = services.sharing.links.create(MOBILE, issue(services))
    link = services.sharing.links.resolve(created.token)
    view = services.sharing.links.view(link)
    assert (view.name, view.birth_year, view.status) == ("Bhaya Mitra", 1994, "valid")
    assert not hasattr(view, "mobile")
    clock.advance(timedelta(minutes=3))
    pdf = services.sharing.links.document(link, "pdf")
    assert pdf.content.startswith(b"%PDF")
    clock.advance(timedelta(minutes=1))
    qr = services.sharing.links.document(link, "qr")
    assert qr.content.startswith(b"\x89PNG")
    [overview] = services.sharing.links.links_of(MOBILE)
    t0 = created.link.created_at
    assert [(a.event, a.at - t0) for a in overview.accesses] == [
        ("opened", timedelta(0)),
        ("pdf", timedelta(minutes=3)),
        ("qr", timedelta(minutes=4)),
    ]
    assert services.sharing.links.links_of(OTHER_MOBILE) == []


def test_the_shared_pdf_is_the_owners_download(services: Services) -> None:
    certificate_id = issue(services)
    created = services.sharing.links.create(MOBILE, certificate_id)
    shared = services.sharing.links.document(services.sharing.links.resolve(created.token), "pdf")
    owner = Principal("owner", "owner", frozenset({"recipient"}), mobile=MOBILE)
    bundle = services.distribution.certificates.bundle_for_recipient(certificate_id, MOBILE)
    own = services.distribution.certificates.render(
        bundle, "pdf", caller=owner, permission=Permission.RECIPIENT
    )
    assert shared.content == own.content


def test_a_qr_only_link_shares_no_pdf(services: Services) -> None:
    created = services.sharing.links.create(MOBILE, issue(services), kind=ShareKind.QR_ONLY)
    link = services.sharing.links.resolve(created.token)
    with pytest.raises(NotFound):
        services.sharing.links.document(link, "pdf")
    assert services.sharing.links.document(link, "qr").content.startswith(b"\x89PNG")
    with pytest.raises(NotFound):
        services.sharing.links.document(link, "json")


def test_the_link_as_a_qr_code(services: Services) -> None:
    created = services.sharing.links.create(MOBILE, issue(services))
    png = services.sharing.links.link_qr(created.token)
    [decoded] = read_qr_codes(Image.open(io.BytesIO(png)))
    assert decoded.text == created.url


def test_passcode_right_and_wrong(services: Services) -> None:
    created = services.sharing.links.create(MOBILE, issue(services), passcode="4711")
    assert created.link.passcode_hash is not None
    assert "4711" not in created.link.passcode_hash
    with pytest.raises(AuthenticationFailed):
        services.sharing.links.try_passcode(created.token, "0000")
    for _ in range(3):  # right guesses never count
        services.sharing.links.try_passcode(created.token, "4711")
    [overview] = services.sharing.links.links_of(MOBILE)
    assert overview.link.failed_attempts == 1
    assert [a.event for a in overview.accesses] == ["wrong-passcode"]


def test_the_fifth_wrong_passcode_kills_the_link_for_good(services: Services) -> None:
    created = services.sharing.links.create(MOBILE, issue(services), passcode="4711")
    for _ in range(PASSCODE_FAILURE_CAP):
        with pytest.raises(AuthenticationFailed):
            services.sharing.links.try_passcode(created.token, "0000")
    with pytest.raises(NotFound):
        services.sharing.links.try_passcode(created.token, "4711")
    with pytest.raises(NotFound):
        services.sharing.links.resolve(created.token)
    assert services.sharing.links.links_of(MOBILE)[0].state is LinkState.LOCKED


def test_concurrent_wrong_guesses_cannot_exceed_the_cap(services: Services) -> None:
    created = services.sharing.links.create(MOBILE, issue(services), passcode="4711")
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(12)

    def guess(n: int) -> None:
        barrier.wait()
        try:
            services.sharing.links.try_passcode(created.token, f"{n:04d}")
            outcome = "accepted"
        except AuthenticationFailed:
            outcome = "wrong"
        except NotFound:
            outcome = "dead"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("wrong") == PASSCODE_FAILURE_CAP
    assert outcomes.count("dead") == 12 - PASSCODE_FAILURE_CAP
    [overview] = services.sharing.links.links_of(MOBILE)
    assert overview.link.failed_attempts == PASSCODE_FAILURE_CAP


def test_passcode_length_is_checked(services: Services) -> None:
    certificate_id = issue(services)
    for bad in ("123", "x" * 65):
        with pytest.raises(InvalidInput):
            services.sharing.links.create(MOBILE, certificate_id, passcode=bad)


def test_unlock_grants_are_bound_to_link_and_browser_and_expire(
    services: Services, clock: FixedClock
) -> None:
    certificate_id = issue(services)
    locked = services.sharing.links.create(MOBILE, certificate_id, passcode="4711")
    other = services.sharing.links.create(MOBILE, certificate_id, passcode="4711")
    link = services.sharing.links.resolve(locked.token)
    grant = services.sharing.links.unlock_grant(link, "browser-1")
    assert services.sharing.links.grant_valid(link, "browser-1", grant)
    assert not services.sharing.links.grant_valid(link, "browser-2", grant)
    assert not services.sharing.links.grant_valid(
        services.sharing.links.resolve(other.token), "browser-1", grant
    )
    assert not services.sharing.links.grant_valid(link, "browser-1", None)
    assert not services.sharing.links.grant_valid(link, "browser-1", "999999999999.abc")
    # Cookies are the client's text: non-ASCII MACs and non-ASCII digits are just "no".
    assert not services.sharing.links.grant_valid(link, "browser-1", "999999999999.é")
    assert not services.sharing.links.grant_valid(link, "browser-1", "²²²²²²²²²²²²." + grant[-64:])
    clock.advance(UNLOCK_LIFETIME)
    assert not services.sharing.links.grant_valid(link, "browser-1", grant)


def test_links_per_account_are_limited(
    make_delivery_services: DeliveryServicesFactory, clock: FixedClock
) -> None:
    built = make_delivery_services(share_links_per_account_per_day=2)
    certificate_id = issue(built)
    built.sharing.links.create(MOBILE, certificate_id)
    built.sharing.links.create(MOBILE, certificate_id)
    with pytest.raises(RateLimited):
        built.sharing.links.create(MOBILE, certificate_id)
    clock.advance(timedelta(days=1))
    built.sharing.links.create(MOBILE, certificate_id)
