"""Health-wallet formats under DIVOC's ``/certificate/api`` routes, and the SHC issuer keys.

* ``GET /certificate/api/shc-certificate?refId=…`` — SMART Health Card: PDF with the SHC QR,
  ``type=qrcode`` the QR (PNG), ``type=file`` the ``.smart-health-card`` download;
* ``POST /certificate/api/eu-certificate?refId=…`` with ``{fn, fnt, gn, gnt}`` — EU DCC: PDF,
  or ``type=qrcode`` the QR (PNG);
* ``GET /certificate/api/fhir-certificate?refId=…`` — the signed DDCC:VS FHIR bundle;
* ``GET /.well-known/jwks.json`` — the SMART Health Card issuer keys, retired ones included;
* ``GET /.well-known/crl/{kid}.json`` — the SMART Health Card revocation list of a key;
* ``GET /.well-known/jwt-vc-issuer`` — the SD-JWT VC issuer metadata (``issuer``, ``jwks``);
* ``GET /credentials/vaccination/v1`` and ``GET /credentials/lab-test/v1`` — the SD-JWT VC
  Type Metadata of each ``vct`` (names, claim labels in English and Hindi).

``refId`` is the beneficiary id (preEnrollmentCode). The card and the EU DCC hold the latest
vaccination certificate, or the latest lab-test certificate of a beneficiary without one;
the DDCC:VS bundle exists for vaccinations only (400 naming the problem for a lab test).
A certificate API client (role
DISTRIBUTE) reads any beneficiary; a recipient token reads only certificates registered to
its mobile number (404 for any other, whether or not it exists).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from certdist.domain.requests import PRE_ENROLLMENT_CODE_PATTERN
from certdist.domain.roles import Permission
from certdist.formats.eu_dcc import names_from_request
from certdist.formats.registry import CertificateBundle
from certdist.formats.sd_jwt_vc import VCT_PATHS
from certdist.web.deps import Caller, ServicesDep, caller_with_permission
from certdist.web.routes.distribution import deliver_document

router = APIRouter(prefix="/certificate/api", tags=["health wallets"])
well_known = APIRouter(tags=["health wallets"])

RefId = Annotated[
    str,
    Query(
        pattern=PRE_ENROLLMENT_CODE_PATTERN,
        description="Beneficiary id (preEnrollmentCode)",
        examples=["DEMO0001"],
    ),
]
WalletCaller = Annotated[
    Caller, Depends(caller_with_permission(Permission.DISTRIBUTE, Permission.RECIPIENT))
]

Responses = dict[int | str, dict[str, Any]]
#: The key set's crlVersion changes with the revocation list: neither is cached for long.
_PUBLIC_SHORT_CACHE = {"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"}
_COMMON: Responses = {
    304: {"description": "Unchanged since the ETag in If-None-Match"},
    404: {"description": "No live certificate (or not the recipient's own)"},
    400: {"description": "The format is not issued for the beneficiary's kind of certificate"},
}


class EuNames(BaseModel):
    """Names for the EU DCC: surname and forename with ICAO 9303 transliterations."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"fn": "Mitra", "fnt": "MITRA", "gn": "Bhaya", "gnt": "BHAYA"}]
        },
    )

    fn: str | None = None
    fnt: str | None = None
    gn: str | None = None
    gnt: str | None = None


def _bundle(
    services: ServicesDep, caller: Caller, ref_id: str, format_name: str
) -> CertificateBundle:
    return services.distribution.wallet.bundle(
        ref_id, caller=caller.principal, permission=caller.permission, format_name=format_name
    )


@router.get(
    "/shc-certificate",
    responses={
        200: {
            "content": {
                "application/pdf": {},
                "image/png": {},
                "application/smart-health-card": {},
            },
            "description": "PDF, QR code or .smart-health-card file",
        },
        **_COMMON,
    },
)
async def shc_certificate(
    services: ServicesDep,
    request: Request,
    caller: WalletCaller,
    refId: RefId,
    type: Annotated[Literal["qrcode", "file"] | None, Query()] = None,
) -> Response:
    """The SMART Health Card of the latest vaccination certificate, every dose in it (or of
    the latest lab test)."""
    name = {"qrcode": "shc", "file": "shc-file", None: "shc-pdf"}[type]
    bundle = _bundle(services, caller, refId, name)
    return deliver_document(services, request, caller, bundle, name, attachment=type != "qrcode")


@router.post(
    "/eu-certificate",
    responses={
        200: {"content": {"application/pdf": {}, "image/png": {}}, "description": "PDF or QR"},
        **_COMMON,
    },
)
async def eu_certificate(
    services: ServicesDep,
    request: Request,
    caller: WalletCaller,
    refId: RefId,
    type: Annotated[Literal["qrcode"] | None, Query()] = None,
    names: Annotated[EuNames | None, Body()] = None,
) -> Response:
    """The EU Digital COVID Certificate of the latest vaccination (or lab-test) certificate.
    ``fnt`` and ``gnt`` are the ICAO 9303 transliterations (``A-Z`` and ``<``). Without a
    body the names are derived from the certificate (Latin-script names only; the last word
    is the surname).
    """
    pdf = type is None
    name = "eu-dcc-pdf" if pdf else "eu-dcc"
    bundle = _bundle(services, caller, refId, name)
    if names is None:
        return deliver_document(services, request, caller, bundle, name, attachment=pdf)
    artifact = services.distribution.wallet.eu_dcc(
        bundle,
        names_from_request(names.model_dump()),
        pdf=pdf,
        caller=caller.principal,
        permission=caller.permission,
    )
    disposition = "attachment" if pdf else "inline"
    return Response(
        artifact.content,
        media_type=artifact.media_type,
        headers={
            "Cache-Control": "no-store",  # made for this request's names only
            "Content-Disposition": f'{disposition}; filename="{artifact.filename}"',
        },
    )


@router.get(
    "/fhir-certificate",
    responses={
        200: {"content": {"application/fhir+json": {}}, "description": "DDCC:VS bundle"},
        **_COMMON,
    },
)
async def fhir_certificate(
    services: ServicesDep, request: Request, caller: WalletCaller, refId: RefId
) -> Response:
    """The WHO DDCC:VS FHIR document bundle, signed (``Bundle.signature``, detached JWS)."""
    bundle = _bundle(services, caller, refId, "fhir")
    return deliver_document(services, request, caller, bundle, "fhir", attachment=True)


@well_known.get("/.well-known/jwks.json")
async def jwks(services: ServicesDep) -> JSONResponse:
    """The SMART Health Card issuer's public keys (also verify the FHIR bundle signature);
    ``crlVersion`` is the ``ctr`` of each key's revocation list."""
    return JSONResponse(services.distribution.wallet.jwks(), headers=_PUBLIC_SHORT_CACHE)


class JwtVcIssuerMetadata(BaseModel):
    issuer: str
    jwks: dict[str, list[dict[str, Any]]]


@well_known.get("/.well-known/jwt-vc-issuer", response_model=JwtVcIssuerMetadata)
async def jwt_vc_issuer(services: ServicesDep) -> JSONResponse:
    """JWT VC issuer metadata (SD-JWT VC): ``issuer`` (the ``iss`` of our SD-JWT VCs) and
    ``jwks``, the public keys that sign them, active and retired (``kid``: RFC 7638
    thumbprint)."""
    return JSONResponse(services.distribution.wallet.jwt_vc_issuer(), headers=_PUBLIC_SHORT_CACHE)


@well_known.get(
    "/.well-known/crl/{kid}.json",
    responses={404: {"description": "No SMART Health Card key with this kid"}},
)
async def revocation_list(
    services: ServicesDep,
    kid: Annotated[
        str,
        Path(
            pattern=r"^[A-Za-z0-9_-]{1,128}$",
            description="The key's RFC 7638 thumbprint, as in the JWK set",
        ),
    ],
) -> JSONResponse:
    """The SMART Health Card revocation list (``method`` ``rid``): the ``rid`` of every card
    whose certificate was revoked or replaced by a correction."""
    return JSONResponse(
        services.distribution.wallet.revocation_list(kid), headers=_PUBLIC_SHORT_CACHE
    )


#: The ``vct`` path segment of each kind (``formats.sd_jwt_vc.VCT_PATHS``).
_VCT_KINDS = {path.split("/")[1]: kind for kind, path in VCT_PATHS.items()}


@well_known.get(
    "/credentials/{kind}/v1",
    responses={200: {"content": {"application/json": {}}, "description": "Type Metadata"}},
)
async def sd_jwt_vc_type_metadata(
    services: ServicesDep,
    kind: Annotated[
        Literal["vaccination", "lab-test"], Path(description="The credential type of the vct")
    ],
) -> JSONResponse:
    """SD-JWT VC Type Metadata of the ``vct`` that is this URL: ``vct``, ``name``,
    ``description``, ``display`` (``locale`` en and hi: ``name``, ``description``) and
    ``claims`` (``path``, ``display`` with ``locale`` and ``label``, ``sd: "always"``): every
    personal claim of the credential is selectively disclosable."""
    return JSONResponse(
        services.distribution.wallet.type_metadata(_VCT_KINDS[kind]), headers=_PUBLIC_SHORT_CACHE
    )
