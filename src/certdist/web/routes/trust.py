"""Our trust material, public, for other verifiers (see docs/architecture.md, "Trust
material"):

* ``GET /.well-known/did.json`` — the ``did:web`` DID document of the DIVOC credential keys;
* ``GET /trust/credential-keys.pem`` — the same keys as PEM (``?active=true``: the signing one);
* ``GET /trust/eu-dcc/trustlist.json`` — our EU Document Signer Certificates as DCC Gateway
  trust list entries;
* ``GET /trust/eu-dcc/did.json`` — the same certificates as a WHO GDHCN DID document
  (``did:web:<host>:trust:eu-dcc``);
* ``GET /trust/eu-dcc/revocation-list`` — our EU DCC revocation batches, listed as the DCC
  Gateway lists them, and ``GET /trust/eu-dcc/revocation-list/{batchId}`` one batch, a CMS
  SignedData (base64) of its JSON;
* ``GET /trust/status/{listId}`` — a W3C ``BitstringStatusListCredential`` of our DIVOC
  credentials' revocation bits, signed with the credential key (when ``status_list`` is on);
* ``GET /trust/token-status/{listId}`` — an IETF Token Status List (``statuslist+jwt``) of our
  SD-JWT VCs' statuses, signed with the SD-JWT VC issuer key.

The SMART Health Card keys are ``/.well-known/jwks.json`` (:mod:`.wallet`).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import JSONResponse, Response

from certdist.errors import NotAcceptable, NotFound
from certdist.formats.token_status_list import MEDIA_TYPE as TOKEN_STATUS_MEDIA_TYPE
from certdist.web.deps import ServicesDep

router = APIRouter(tags=["trust material"])

#: A rotated key signs at once: verifiers' caches must learn of it within minutes.
_PUBLIC_CACHE: Final = {"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"}
_JSON: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {"application/json": {}}, "description": "The document"}
}


@router.get("/.well-known/did.json", responses=_JSON)
async def did_document(services: ServicesDep) -> JSONResponse:
    """The ``did:web`` DID document of the credential keys, active and retired (retired keys
    still verify what they signed). A credential's ``proof.verificationMethod`` ``X`` is the
    method ``<did>#X`` here."""
    return JSONResponse(services.trust.publisher.did_document(), headers=_PUBLIC_CACHE)


@router.get(
    "/trust/credential-keys.pem",
    responses={200: {"content": {"application/x-pem-file": {}}, "description": "PEM keys"}},
)
async def credential_keys_pem(
    services: ServicesDep,
    active: Annotated[bool, Query(description="Only the key that signs today")] = False,
) -> Response:
    """The credential keys as SubjectPublicKeyInfo PEM, each after a line naming its
    verificationMethod (the form DIVOC verifier apps are configured with)."""
    return Response(
        services.trust.publisher.credential_keys_pem(active_only=active),
        media_type="application/x-pem-file",
        headers=_PUBLIC_CACHE,
    )


@router.get("/trust/eu-dcc/trustlist.json", responses=_JSON)
async def eu_dcc_trust_list(services: ServicesDep) -> JSONResponse:
    """Our EU DCC Document Signer Certificates, active and retired, as DCC Gateway trust list
    entries (``kid``, ``timestamp``, ``country``, ``certificateType``, ``thumbprint``,
    ``rawData``); without the gateway's ``signature``, which only a gateway makes."""
    return JSONResponse(services.trust.publisher.eu_trust_list(), headers=_PUBLIC_CACHE)


@router.get("/trust/eu-dcc/did.json", responses=_JSON)
async def eu_dcc_did_document(services: ServicesDep) -> JSONResponse:
    """Our Document Signer Certificates as a DID document in the shape of WHO's GDHCN trust
    lists (``JsonWebKey2020``, ``publicKeyJwk`` with ``kid`` and ``x5c``)."""
    return JSONResponse(services.trust.publisher.gdhcn_did_document(), headers=_PUBLIC_CACHE)


@router.get("/trust/eu-dcc/revocation-list", responses=_JSON)
async def eu_dcc_revocation_list(services: ServicesDep) -> JSONResponse:
    """Our EU DCC revocation batches (``batchId``, ``country``, ``date``, ``deleted``): the
    ``UCI`` hashes of every certificate revoked or replaced by a correction, a set of batches
    for each of our Document Signer Certificates. Updated with every withdrawal."""
    return JSONResponse(services.distribution.dcc_revocations.listing(), headers=_PUBLIC_CACHE)


@router.get(
    "/trust/eu-dcc/revocation-list/{batch_id}",
    responses={
        200: {"content": {"application/cms-text": {}}, "description": "The signed batch"},
        404: {"description": "No current batch with this id"},
    },
)
async def eu_dcc_revocation_batch(
    services: ServicesDep,
    batch_id: Annotated[
        str, Path(pattern=r"^[0-9a-f]{32}$", description="A batchId of the revocation list")
    ],
) -> Response:
    """One revocation batch as the DCC Gateway passes it on: a CMS SignedData (base64, signed
    by our active Document Signer Certificate) whose content is the batch JSON
    (``country``, ``expires``, ``kid``, ``hashType``, ``entries`` of ``{hash}``)."""
    batch = services.distribution.dcc_revocations.batch(batch_id)
    return Response(batch.cms, media_type="application/cms-text", headers=_PUBLIC_CACHE)


@router.get(
    "/trust/status/{list_id}",
    responses={
        200: {"content": {"application/json": {}}, "description": "The signed status list"},
        404: {"description": "No status list with this id, or status lists are off"},
    },
)
async def status_list(
    services: ServicesDep,
    list_id: Annotated[
        int, Path(ge=1, le=999_999_999, description="The list's id, from statusListCredential")
    ],
) -> JSONResponse:
    """A W3C Bitstring Status List v1.0 ``BitstringStatusListCredential`` (VC 1.1, purpose
    ``revocation``, at least 131,072 entries) with a linked-data proof by the active
    credential key: bit ``statusListIndex`` is set when the DIVOC credential that names this
    list was revoked or replaced by a correction. Rebuilt with every withdrawal."""
    lists = services.issuance.status_lists
    if lists is None:
        raise NotFound("this service publishes no status lists (status_list is off)")
    return JSONResponse(lists.credential(list_id), headers=_PUBLIC_CACHE)


@router.get(
    "/trust/token-status/{list_id}",
    responses={
        200: {
            "content": {TOKEN_STATUS_MEDIA_TYPE: {}},
            "description": "The Status List Token (compact JWS)",
        },
        404: {"description": "No token status list with this id"},
        406: {"description": "The Accept header asks only for forms other than the JWT"},
    },
)
async def token_status_list(
    services: ServicesDep,
    list_id: Annotated[
        int, Path(ge=1, le=999_999_999, description="The list's id, from status.status_list.uri")
    ],
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """An IETF Token Status List token (``typ`` ``statuslist+jwt``, ES256, the SD-JWT VC
    issuer key; ``sub`` this URL, ``iat``, ``exp``, ``ttl``, ``status_list`` ``{bits: 1,
    lst}``): entry ``idx`` of an SD-JWT VC that names this list is 1 (INVALID) once its
    certificate was revoked or replaced by a correction. Signed again with every withdrawal.
    Only the JWT form is served (``Accept: application/statuslist+cwt`` alone is a 406)."""
    if not _accepts(accept, TOKEN_STATUS_MEDIA_TYPE):
        raise NotAcceptable(f"this status list is served as {TOKEN_STATUS_MEDIA_TYPE} only")
    token = services.issuance.token_status_lists.token(list_id)
    return Response(token, media_type=TOKEN_STATUS_MEDIA_TYPE, headers=_PUBLIC_CACHE)


def _accepts(accept: str | None, media_type: str) -> bool:
    """Whether an ``Accept`` header admits ``media_type`` with a quality above 0 (no header:
    anything goes)."""
    if not accept or not accept.strip():
        return True
    wanted = (media_type, media_type.split("/", 1)[0] + "/*", "*/*")
    for item in accept.split(","):
        media_range, *parameters = (part.strip() for part in item.split(";"))
        if media_range.lower() in wanted and _quality(parameters) > 0:
            return True
    return False


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if quality == quality else 0.0  # NaN is no quality
    return 1.0
