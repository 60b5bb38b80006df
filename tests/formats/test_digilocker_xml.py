"""DigiLocker XML: requests read safely, responses and certificate data written as specified."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import pytest
from defusedxml.ElementTree import fromstring as parse_xml

from certdist.domain.digilocker import IssuedPerson, PullAnswer, PullFormat
from certdist.domain.models import VACCINATION, CertificateRecord
from certdist.errors import InvalidInput
from certdist.formats import digilocker_xml
from tests.support.digilocker_bodies import pull_doc_body, pull_uri_body

ELEMENTS = {"tracking_id_element": "tracking_id", "mobile_element": "Mobile"}
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_pull_uri_request_is_read_by_local_names() -> None:
    body = pull_uri_body(
        tracking_id="BEN1", mobile="9880414889", dob="30-11-1994", name="Bhaya", format="pdf"
    )
    request = digilocker_xml.parse_pull_uri_request(body, **ELEMENTS)
    assert (request.tracking_id, request.mobile, request.dob) == (
        "BEN1",
        "9880414889",
        "30-11-1994",
    )
    assert request.full_name == "Bhaya"
    assert request.format is PullFormat.PDF
    assert request.txn == "txn-1"


def test_format_defaults_to_xml_and_rejects_others() -> None:
    body = pull_doc_body(uri="u").replace(b' format="both"', b"")
    assert digilocker_xml.parse_pull_doc_request(body).format is PullFormat.XML
    with pytest.raises(InvalidInput, match="format"):
        digilocker_xml.parse_pull_doc_request(pull_doc_body(uri="u", format="html"))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<PullDocRequest",
        b"not xml at all",
        b'<PullURIRequest ts="1" txn="2"><DocDetails/></PullURIRequest>',  # wrong root
        b'<PullDocRequest txn="2"><DocDetails/></PullDocRequest>',  # no ts
        b'<PullDocRequest ts="1" txn="2"/>',  # no DocDetails
    ],
)
def test_malformed_requests_are_invalid_input(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        digilocker_xml.parse_pull_doc_request(body)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<PullDocRequest ts="1" txn="2"><DocDetails><URI>&lol3;</URI></DocDetails></PullDocRequest>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<PullDocRequest ts="1" txn="2"><DocDetails><URI>&secret;</URI></DocDetails></PullDocRequest>"""

BARE_DTD = b"""<?xml version="1.0"?><!DOCTYPE PullDocRequest SYSTEM "http://example.org/x.dtd">
<PullDocRequest ts="1" txn="2"><DocDetails><URI>u</URI></DocDetails></PullDocRequest>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, BARE_DTD])
def test_dtds_and_entities_are_refused_without_expansion(body: bytes) -> None:
    with pytest.raises(InvalidInput, match="DTD or entities"):
        digilocker_xml.parse_pull_doc_request(body)


def test_overlong_fields_are_refused() -> None:
    with pytest.raises(InvalidInput, match="longer"):
        digilocker_xml.parse_pull_doc_request(pull_doc_body(uri="u" * 600))


def test_success_response_layout() -> None:
    answer = PullAnswer(
        ts="2026-01-01T00:00:00+05:30",
        txn="t9",
        ok=True,
        doc_type="VACER",
        digilocker_id="dl-1",
        uri="in.gov.covin-VACER-1",
        person=IssuedPerson("Asha Devi", date(1968, 3, 14), "Female", "9000000001"),
        pdf=b"%PDF-1.7 test",
        data=b"<Certificate/>",
    )
    root = parse_xml(digilocker_xml.pull_uri_response(answer))
    assert root.tag == "PullURIResponse"
    status = root.find("ResponseStatus")
    assert status is not None
    assert status.attrib == {"Status": "1", "ts": "2026-01-01T00:00:00+05:30", "txn": "t9"}
    assert root.findtext("DocDetails/URI") == "in.gov.covin-VACER-1"
    assert root.findtext("DocDetails/DigiLockerId") == "dl-1"
    person = root.find("DocDetails/IssuedTo/Persons/Person")
    assert person is not None
    assert person.attrib["dob"] == "14-03-1968"
    assert base64.b64decode(root.findtext("DocDetails/DocContent") or "") == b"%PDF-1.7 test"
    assert base64.b64decode(root.findtext("DocDetails/DataContent") or "") == b"<Certificate/>"


def test_refusal_says_only_status_ts_and_txn() -> None:
    root = parse_xml(digilocker_xml.pull_doc_response(PullAnswer(ts="a", txn="b")))
    status = root.find("ResponseStatus")
    assert status is not None
    assert status.attrib["Status"] == "0"
    assert status.text == "0"
    details = root.find("DocDetails")
    assert details is not None
    assert list(details) == []


def test_certificate_data_keeps_the_signed_text_exactly() -> None:
    signed = '{"name":"A & B <C> \\"q\\" ]]> प्रिया","x":[1,2]}'
    record = CertificateRecord(
        id="r1",
        certificate_id="123",
        pre_enrollment_code="BEN1",
        entity_type=VACCINATION,
        program_id="covid-19",
        dose=2,
        total_doses=2,
        name="A & B",
        dob=date(1990, 1, 2),
        gender="Male",
        mobile="+919880414889",
        contacts=(),
        certificate=signed,
        key_id="k",
        created_at=T0,
        updated_at=T0,
    )
    document = digilocker_xml.certificate_data(record, "in.gov.covin-VACER-123", "2026-01-01")
    data = digilocker_xml.read_certificate_data(document)
    assert data.signed_credential == signed
    assert (data.uri, data.certificate_id) == ("in.gov.covin-VACER-123", "123")
    root = parse_xml(document)
    ns = {"c": digilocker_xml.DATA_NAMESPACE}
    person = root.find("c:IssuedTo/c:Person", ns)
    assert person is not None
    assert person.attrib["dob"] == "02-01-1990"
    dose = root.find("c:Dose", ns)
    assert dose is not None
    assert dose.attrib == {"number": "2", "total": "2"}
