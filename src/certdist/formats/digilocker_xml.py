"""DigiLocker issuer API XML: reading requests, writing responses and the certificate data.

Requests are parsed with defusedxml: a DTD, any entity declaration and external references
are refused before anything is expanded (billion laughs, XXE). Elements are matched by local
name, so ``<PullURIRequest xmlns="http://tempuri.org/">`` and an unprefixed root both read.

``DataContent`` (base64 in the response) is this XML document::

    <Certificate xmlns="urn:certdist:digilocker:1" uri="…" certificateId="…"
                 type="VaccinationCertificate" issuanceDate="…">
      <IssuedTo><Person name="…" dob="DD-MM-YYYY" gender="…"/></IssuedTo>
      <Dose number="2" total="2"/>                       (when the certificate has a dose)
      <SignedCredential mediaType="application/vc+ld+json">{…signed JSON…}</SignedCredential>
    </Certificate>

``SignedCredential`` holds the credential's exact signed text as character data (escaped
as XML requires), so a verifier reads it back byte for byte and checks the proof.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET  # builds documents; all parsing is defusedxml's
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from certdist.domain.digilocker import (
    IssuedPerson,
    PullAnswer,
    PullDocRequest,
    PullFormat,
    PullUriRequest,
    format_dob,
)
from certdist.domain.models import CertificateRecord
from certdist.errors import InvalidInput

DATA_NAMESPACE = "urn:certdist:digilocker:1"
CREDENTIAL_MEDIA_TYPE = "application/vc+ld+json"
_RESPONSE_NAMESPACE = "http://tempuri.org/"
_MAX_FIELD_CHARS = 512


def parse_pull_uri_request(
    body: bytes, *, tracking_id_element: str, mobile_element: str
) -> PullUriRequest:
    root = _parse(body, "PullURIRequest")
    details = _child(root, "DocDetails")
    return PullUriRequest(
        ts=_attribute(root, "ts"),
        txn=_attribute(root, "txn"),
        org_id=_attribute(root, "orgId", required=False),
        format=_format(root),
        doc_type=_text(details, "DocType"),
        digilocker_id=_text(details, "DigiLockerId"),
        tracking_id=_text(details, tracking_id_element),
        mobile=_text(details, mobile_element),
        dob=_text(details, "DOB"),
        full_name=_text(details, "FullName"),
    )


def parse_pull_doc_request(body: bytes) -> PullDocRequest:
    root = _parse(body, "PullDocRequest")
    details = _child(root, "DocDetails")
    return PullDocRequest(
        ts=_attribute(root, "ts"),
        txn=_attribute(root, "txn"),
        org_id=_attribute(root, "orgId", required=False),
        format=_format(root),
        uri=_text(details, "URI"),
        digilocker_id=_text(details, "DigiLockerId"),
    )


def pull_uri_response(answer: PullAnswer) -> bytes:
    return _response("PullURIResponse", answer, with_identity=True)


def pull_doc_response(answer: PullAnswer) -> bytes:
    return _response("PullDocResponse", answer, with_identity=False)


@dataclass(frozen=True)
class CertificateData:
    """What :func:`certificate_data` wrote, read back (tests, and anyone consuming it)."""

    uri: str
    certificate_id: str
    signed_credential: str


def certificate_data(record: CertificateRecord, uri: str, issuance_date: str) -> bytes:
    root = Element(
        "Certificate",
        {
            "xmlns": DATA_NAMESPACE,
            "uri": uri,
            "certificateId": record.certificate_id,
            "type": record.entity_type,
            "issuanceDate": issuance_date,
        },
    )
    issued_to = ET.SubElement(root, "IssuedTo")
    person = {"name": record.name, "gender": record.gender}
    if record.dob is not None:
        person["dob"] = format_dob(record.dob)
    ET.SubElement(issued_to, "Person", person)
    if record.dose is not None:
        dose = {"number": str(record.dose)}
        if record.total_doses is not None:
            dose["total"] = str(record.total_doses)
        ET.SubElement(root, "Dose", dose)
    credential = ET.SubElement(root, "SignedCredential", {"mediaType": CREDENTIAL_MEDIA_TYPE})
    credential.text = record.certificate
    return _serialise(root)


def read_certificate_data(document: bytes) -> CertificateData:
    root = _parse(document, "Certificate")
    return CertificateData(
        uri=_attribute(root, "uri"),
        certificate_id=_attribute(root, "certificateId"),
        signed_credential=_child(root, "SignedCredential").text or "",
    )


# --- reading ---------------------------------------------------------------------------------


def _parse(body: bytes, root_name: str) -> Element:
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InvalidInput(
            f"XML with a DTD or entities is refused ({type(exc).__name__})"
        ) from None
    except ET.ParseError as exc:
        raise InvalidInput(f"the body is not well-formed XML ({exc.code})") from None
    if _local(root.tag) != root_name:
        raise InvalidInput(f"expected a {root_name} document")
    return root


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(parent: Element, name: str) -> Element:
    for child in parent:
        if _local(child.tag) == name:
            return child
    raise InvalidInput(f"{_local(parent.tag)} has no {name} element")


def _text(parent: Element, name: str) -> str:
    for child in parent:
        if _local(child.tag) == name:
            return _bounded(name, (child.text or "").strip())
    return ""


def _attribute(element: Element, name: str, *, required: bool = True) -> str:
    for key, value in element.attrib.items():
        if _local(key) == name:
            return _bounded(name, value.strip())
    if required:
        raise InvalidInput(f"{_local(element.tag)} has no {name} attribute")
    return ""


def _bounded(name: str, value: str) -> str:
    if len(value) > _MAX_FIELD_CHARS:
        raise InvalidInput(f"{name} is longer than {_MAX_FIELD_CHARS} characters")
    return value


def _format(root: Element) -> PullFormat:
    raw = _attribute(root, "format", required=False).lower() or PullFormat.XML.value
    try:
        return PullFormat(raw)
    except ValueError:
        raise InvalidInput("format must be xml, pdf or both") from None


# --- writing ---------------------------------------------------------------------------------


def _response(root_name: str, answer: PullAnswer, *, with_identity: bool) -> bytes:
    root = Element(root_name, {"xmlns:ns2": _RESPONSE_NAMESPACE})
    status = "1" if answer.ok else "0"
    ET.SubElement(
        root, "ResponseStatus", {"Status": status, "ts": answer.ts, "txn": answer.txn}
    ).text = status
    details = ET.SubElement(root, "DocDetails")
    if answer.ok:
        if with_identity:
            _leaf(details, "DocType", answer.doc_type)
            _leaf(details, "DigiLockerId", answer.digilocker_id)
            if answer.person is not None:
                _issued_to(details, answer.person)
        _leaf(details, "URI", answer.uri)
        if answer.pdf is not None:
            _leaf(details, "DocContent", base64.b64encode(answer.pdf).decode("ascii"))
        if answer.data is not None:
            _leaf(details, "DataContent", base64.b64encode(answer.data).decode("ascii"))
    return _serialise(root)


def _issued_to(details: Element, person: IssuedPerson) -> None:
    persons = ET.SubElement(ET.SubElement(details, "IssuedTo"), "Persons")
    attributes = {"name": person.name, "gender": person.gender, "phone": person.phone}
    if person.dob is not None:
        attributes["dob"] = format_dob(person.dob)
    ET.SubElement(persons, "Person", attributes)


def _leaf(parent: Element, name: str, text: str) -> None:
    ET.SubElement(parent, name).text = text


def _serialise(root: Element) -> bytes:
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + body
