"""DigiLocker's issuer (pull) API under ``/cert/api`` (DIVOC's paths): XML in, XML out.

The handlers only read the raw body and the HMAC header; every check is in
``services.integrations.digilocker``. A missing or wrong HMAC is a 401 and a body that is not the
expected XML a 400 (DigiLocker's side shows these as integration faults, which they are);
everything else is a 200 whose ``ResponseStatus`` says 1 or 0.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from certdist.errors import NotFound
from certdist.services.integrations import DigilockerService
from certdist.web.deps import ServicesDep

router = APIRouter(prefix="/cert/api", tags=["digilocker"])

XML = "application/xml"
#: Answers carry the certificate and who it is for: no cache may keep them.
_NO_STORE = {"Cache-Control": "no-store"}

_XML_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {XML: {"schema": {"type": "string"}}},
        "description": "The request XML, signed with the HMAC header over the whole body",
    }
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {XML: {}}, "description": "ResponseStatus Status 1 (found) or 0"},
    400: {"description": "Not the expected XML, or XML with a DTD or entities"},
    401: {"description": "Missing or wrong HMAC header"},
    404: {"description": "DigiLocker is not enabled on this service"},
    413: {"description": "Body larger than digilocker.max_body_bytes"},
}


def _service(services: ServicesDep) -> DigilockerService:
    if services.integrations.digilocker is None:
        raise NotFound("no such resource")
    return services.integrations.digilocker


@router.post("/pullUriRequest", responses=_RESPONSES, openapi_extra=_XML_BODY)
async def pull_uri_request(services: ServicesDep, request: Request) -> Response:
    """Pull URI: the certificate of the beneficiary in ``tracking_id`` whose mobile number
    and date of birth (and name, when sent) match; its URI, and the PDF and/or the signed
    credential as XML per ``format``."""
    digilocker = _service(services)
    header = request.headers.get(services.settings.digilocker.hmac_header)
    document = digilocker.pull_uri(await request.body(), header)
    return Response(document, media_type=XML, headers=_NO_STORE)


@router.post("/pullDocRequest", responses=_RESPONSES, openapi_extra=_XML_BODY)
async def pull_doc_request(services: ServicesDep, request: Request) -> Response:
    """Pull Doc: the document of a URI that Pull URI issued to the same DigiLocker account."""
    digilocker = _service(services)
    header = request.headers.get(services.settings.digilocker.hmac_header)
    document = digilocker.pull_doc(await request.body(), header)
    return Response(document, media_type=XML, headers=_NO_STORE)
