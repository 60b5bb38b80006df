"""What a logged-in citizen sees and downloads: scoped to their number, every format of the
registry, the optional year-of-birth check."""

from __future__ import annotations

import pytest

from certdist.config import PortalSettings
from certdist.domain.models import TEST, VACCINATION
from certdist.domain.requests import TestCertificationRequest
from certdist.errors import InvalidInput, NotFound, RateLimited
from certdist.services.issuance.demo import DEMO_MOBILE
from certdist.wiring import Services
from tests.support.portal import NEIGHBOUR, seed_portal
from tests.support.request_bodies import lab_test_request_body
from tests.support.services import ServicesFactory


@pytest.fixture
def services(make_services: ServicesFactory) -> Services:
    """The standard service with the demo family and a neighbour."""
    # Built from the factory rather than by overriding ``services`` with itself: the oldest
    # pytest this project allows (8.2) loses the database parametrisation through such an
    # override ("the requested fixture has no parameter defined").
    built = make_services()
    seed_portal(built)
    return built


def test_every_beneficiary_on_the_number_with_every_dose(services: Services) -> None:
    portal = services.portal.certificates
    family = portal.beneficiaries(DEMO_MOBILE, frozenset())
    assert [b.pre_enrollment_code for b in family] == ["DEMO0001", "DEMO0002", "DEMO0003"]
    asha = family[0].certificates[0]
    assert asha.view.vaccination is not None
    assert asha.view.vaccination.dose == 3
    assert [d.dose for d in asha.view.doses] == [3, 2, 1]
    assert not asha.needs_birth_year
    assert [b.pre_enrollment_code for b in portal.beneficiaries(NEIGHBOUR, frozenset())] == [
        "NBR0001"
    ]
    assert portal.beneficiaries("+919000000099", frozenset()) == []


def test_registration_is_known_without_saying_more(services: Services) -> None:
    portal = services.portal.certificates
    assert portal.is_registered(DEMO_MOBILE)
    assert not portal.is_registered("+919000000099")


def test_downloads_are_scoped_to_the_number(services: Services) -> None:
    portal = services.portal.certificates
    mine = portal.beneficiaries(DEMO_MOBILE, frozenset())[0].certificates[0].certificate_id
    theirs = portal.beneficiaries(NEIGHBOUR, frozenset())[0].certificates[0].certificate_id
    pdf = portal.download(DEMO_MOBILE, mine, "pdf", frozenset())
    assert pdf.content.startswith(b"%PDF")
    for certificate_id in (theirs, "000000000000", "../etc", "x" * 100):
        with pytest.raises(NotFound):
            portal.download(DEMO_MOBILE, certificate_id, "pdf", frozenset())
        with pytest.raises(NotFound):
            portal.certificate(DEMO_MOBILE, certificate_id, frozenset())
    with pytest.raises(NotFound):
        portal.download(DEMO_MOBILE, mine, "no-such-format", frozenset())


def test_every_registered_format_is_offered_and_downloads(services: Services) -> None:
    portal = services.portal.certificates
    names = [fmt.name for fmt in portal.formats()]
    assert {"pdf", "qr", "json"} <= set(names)
    mine = portal.beneficiaries(DEMO_MOBILE, frozenset())[0].certificates[0].certificate_id
    for fmt in portal.formats():
        artifact = portal.download(DEMO_MOBILE, mine, fmt.name, frozenset())
        assert artifact.media_type == fmt.media_type
        assert artifact.content


def test_portal_downloads_are_audited_without_the_number(services: Services) -> None:
    portal = services.portal.certificates
    mine = portal.beneficiaries(DEMO_MOBILE, frozenset())[0].certificates[0]
    portal.download(DEMO_MOBILE, mine.certificate_id, "json", frozenset())
    (entry,) = services.database.audit().for_beneficiary(mine.pre_enrollment_code)
    assert entry.issuer == "certdist-portal"
    assert entry.format == "json"
    assert DEMO_MOBILE[3:] not in entry.actor


def test_the_year_of_birth_check_guards_downloads(make_sqlite_services: ServicesFactory) -> None:
    checked = PortalSettings(require_birth_year=True, birth_year_attempts=3)
    services = make_sqlite_services(portal=checked)
    seed_portal(services)
    portal = services.portal.certificates
    asha = portal.beneficiaries(DEMO_MOBILE, frozenset())[0].certificates[0]
    assert asha.needs_birth_year
    with pytest.raises(NotFound):
        portal.download(DEMO_MOBILE, asha.certificate_id, "pdf", frozenset())
    with pytest.raises(InvalidInput):
        portal.confirm_birth_year(DEMO_MOBILE, asha.certificate_id, "1969", session_key="s")
    code = portal.confirm_birth_year(DEMO_MOBILE, asha.certificate_id, "1968", session_key="s")
    assert code == "DEMO0001"
    confirmed = frozenset({code})
    assert portal.download(DEMO_MOBILE, asha.certificate_id, "pdf", confirmed).content
    ravi = portal.beneficiaries(DEMO_MOBILE, confirmed)[1].certificates[0]
    assert ravi.needs_birth_year  # each beneficiary is confirmed on its own
    with pytest.raises(InvalidInput):
        portal.confirm_birth_year(DEMO_MOBILE, ravi.certificate_id, "1900", session_key="s")
    with pytest.raises(RateLimited):  # the 4th try of this session, even a right one
        portal.confirm_birth_year(DEMO_MOBILE, ravi.certificate_id, "1965", session_key="s")


def test_formats_are_listed_per_kind_of_certificate(services: Services) -> None:
    portal = services.portal.certificates
    every = {fmt.name for fmt in portal.formats()}
    vaccination = {fmt.name for fmt in portal.formats(VACCINATION)}
    lab_test = {fmt.name for fmt in portal.formats(TEST)}
    assert vaccination == every
    assert lab_test == every - {"fhir"}
    assert {"pdf", "qr", "json", "shc", "eu-dcc"} <= lab_test
    # A kind no wallet standard names gets the formats of the signed credential only.
    assert {fmt.name for fmt in portal.formats("RecoveryCertificate")} == {"json", "pdf", "qr"}


def test_a_lab_test_downloads_its_formats_and_not_the_ddcc_vs(services: Services) -> None:
    body = lab_test_request_body("LABS1", mobile=NEIGHBOUR[3:])
    services.issuance.certificates.certify([TestCertificationRequest.model_validate(body)])
    portal = services.portal.certificates
    [beneficiary] = [
        b for b in portal.beneficiaries(NEIGHBOUR, frozenset()) if b.pre_enrollment_code == "LABS1"
    ]
    [certificate] = beneficiary.certificates
    assert certificate.entity_type == TEST
    for name in ("shc-file", "eu-dcc"):
        artifact = portal.download(NEIGHBOUR, certificate.certificate_id, name, frozenset())
        assert artifact.content
    with pytest.raises(InvalidInput, match="fhir format is not issued"):
        portal.download(NEIGHBOUR, certificate.certificate_id, "fhir", frozenset())
    # The EU DCC with the names as the passport writes them works for a lab test too.
    named = portal.eu_dcc(
        NEIGHBOUR, certificate.certificate_id, "Mitra", "Bhaya", frozenset(), pdf=False
    )
    assert named.media_type == "image/png"
