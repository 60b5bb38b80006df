"""Wallets over OpenID4VCI 1.0 (pre-authorized code flow), the Credential Issuer being also
its own OAuth 2.0 authorization server:

* ``GET /.well-known/openid-credential-issuer`` — Credential Issuer Metadata;
* ``GET /.well-known/oauth-authorization-server`` — Authorization Server Metadata (RFC 8414);
* ``POST /certificate/api/wallet-offer?refId=…`` — an offer of a beneficiary's certificate
  (recipient token or certificate API client), its transaction code sent by SMS;
* ``GET /portal/certificates/{id}/wallet`` and ``POST`` — the same for a signed-in citizen,
  with the offer's QR code;
* ``GET /openid4vci/offers/{id}`` — the Credential Offer (``credential_offer_uri``);
* ``POST /openid4vci/token``, ``/openid4vci/nonce``, ``/openid4vci/credential``.

Errors of the token and credential endpoints have the OAuth body (``web/errors.py``).
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from certdist.domain.roles import Permission
from certdist.formats.qr_image import qr_png
from certdist.services.openid4vci import (
    CREDENTIAL_PATH,
    NONCE_PATH,
    OFFER_PATH,
    PRE_AUTHORIZED_GRANT,
    TOKEN_PATH,
    CreatedOffer,
)
from certdist.web.deps import ServicesDep, client_address
from certdist.web.errors import OAuthErrorBody
from certdist.web.routes.share import owned_certificate, owner_page
from certdist.web.routes.wallet import RefId, WalletCaller
from certdist.web.templating import PageRoute, TemplatesDep

protocol = APIRouter(tags=["wallets (OpenID4VCI)"])
pages = APIRouter(route_class=PageRoute, include_in_schema=False)

_PUBLIC = {"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"}
#: Answers holding codes, tokens, nonces or credentials are never stored (the specifications
#: require it of the token, nonce and credential responses).
_NO_STORE = {"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"}
_OAUTH_ERROR = {"model": OAuthErrorBody, "description": "OAuth error (RFC 6749 section 5.2)"}


class WalletOffer(BaseModel):
    credential_offer_uri: str = Field(description="The Credential Offer, by reference")
    credential_offer: str = Field(
        description="openid-credential-offer:// link with the credential_offer_uri (the QR code)"
    )
    credential_configuration_id: str
    tx_code_sent_to: str = Field(description="The masked mobile number the code went to")
    expires_in: int = Field(description="Seconds the offer can be redeemed")


def _offer_body(created: CreatedOffer) -> WalletOffer:
    return WalletOffer(
        credential_offer_uri=created.offer_uri,
        credential_offer=created.link,
        credential_configuration_id=created.configuration_id,
        tx_code_sent_to=created.tx_code_sent_to,
        expires_in=created.expires_in,
    )


@protocol.get("/.well-known/openid-credential-issuer")
def credential_issuer_metadata(services: ServicesDep) -> JSONResponse:
    """Credential Issuer Metadata: endpoints, batch size, and one SD-JWT VC configuration per
    certificate kind (English and Hindi display)."""
    return JSONResponse(services.openid4vci.metadata.credential_issuer(), headers=_PUBLIC)


@protocol.get("/.well-known/oauth-authorization-server")
def authorization_server_metadata(services: ServicesDep) -> JSONResponse:
    """OAuth 2.0 Authorization Server Metadata: the token endpoint and the pre-authorized
    code grant (anonymous access)."""
    return JSONResponse(services.openid4vci.metadata.authorization_server(), headers=_PUBLIC)


@protocol.post(
    "/certificate/api/wallet-offer",
    status_code=201,
    response_model=WalletOffer,
    responses={404: {"description": "No live certificate (or not the recipient's own)"}},
)
def create_wallet_offer(
    services: ServicesDep, request: Request, caller: WalletCaller, refId: RefId
) -> JSONResponse:
    """A Credential Offer of the beneficiary's latest vaccination certificate (or lab test),
    single use, with a 6-digit transaction code sent by SMS to the certificate's mobile
    number. Show ``credential_offer`` as a QR code or link to the holder's wallet."""
    bundle = services.distribution.wallet.bundle(
        refId, caller=caller.principal, permission=caller.permission
    )
    created = services.openid4vci.offers.create(
        refId,
        caller=caller.principal,
        permission=caller.permission,
        entity_type=bundle.latest.entity_type,
        language=request.headers.get("accept-language", "")[:2] or None,
    )
    return JSONResponse(
        _offer_body(created).model_dump(), status_code=201, headers={"Cache-Control": "no-store"}
    )


@protocol.get(
    OFFER_PATH + "{offer_id}",
    responses={404: {"description": "Unknown, used or expired offer"}},
)
def credential_offer(
    services: ServicesDep,
    offer_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")],
) -> JSONResponse:
    """The Credential Offer object behind a ``credential_offer_uri``."""
    return JSONResponse(services.openid4vci.offers.offer(offer_id), headers=_NO_STORE)


@protocol.post(TOKEN_PATH, responses={400: _OAUTH_ERROR})
def token(
    services: ServicesDep,
    grant_type: Annotated[str | None, Form(examples=[PRE_AUTHORIZED_GRANT])] = None,
    pre_authorized_code: Annotated[str | None, Form(alias="pre-authorized_code")] = None,
    tx_code: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """Token endpoint (``application/x-www-form-urlencoded``): a pre-authorized code and its
    transaction code for an access token."""
    form = {
        "grant_type": grant_type or "",
        "pre-authorized_code": pre_authorized_code or "",
        "tx_code": tx_code or "",
    }
    return JSONResponse(services.openid4vci.offers.token(form), headers=_NO_STORE)


@protocol.post(NONCE_PATH, responses={429: {"description": "Too many nonces from this address"}})
def nonce(services: ServicesDep, request: Request) -> JSONResponse:
    """A fresh ``c_nonce`` for the key proofs of a credential request (single use)."""
    nonce_answer = services.openid4vci.credentials.nonce(client_address(request))
    return JSONResponse(nonce_answer, headers=_NO_STORE)


_CREDENTIAL_REQUEST: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["credential_configuration_id", "proofs"],
                    "properties": {
                        "credential_configuration_id": {"type": "string"},
                        "proofs": {
                            "type": "object",
                            "properties": {"jwt": {"type": "array", "items": {"type": "string"}}},
                        },
                    },
                }
            }
        },
    }
}


@protocol.post(
    CREDENTIAL_PATH,
    openapi_extra=_CREDENTIAL_REQUEST,
    responses={
        400: _OAUTH_ERROR,
        401: {"model": OAuthErrorBody, "description": "invalid_token (WWW-Authenticate: Bearer)"},
        403: {"model": OAuthErrorBody, "description": "insufficient_scope: another configuration"},
    },
)
async def credential(services: ServicesDep, request: Request) -> JSONResponse:
    """Credential endpoint: one SD-JWT VC per ``jwt`` key proof (``openid4vci-proof+jwt``,
    ``aud`` this issuer, a ``c_nonce``), each bound to its proof's key."""
    scheme, _, access_token = request.headers.get("authorization", "").partition(" ")
    access_token = access_token.strip() if scheme.lower() == "bearer" else ""
    body = await request.body()
    try:
        parsed: object = json.loads(body)
    except (ValueError, RecursionError):
        parsed = None
    issued = await run_in_threadpool(services.openid4vci.credentials.issue, access_token, parsed)
    return JSONResponse(issued, headers=_NO_STORE)


# --- the citizen portal -----------------------------------------------------------------------


@pages.get("/portal/certificates/{certificate_id}/wallet")
def wallet_offer_page(
    certificate_id: str, request: Request, services: ServicesDep, templates: TemplatesDep
) -> Response:
    return owner_page(request, services, templates, certificate_id, "wallet_offer.html")


@pages.post("/portal/certificates/{certificate_id}/wallet")
def create_wallet_offer_page(
    certificate_id: str,
    request: Request,
    services: ServicesDep,
    templates: TemplatesDep,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    owned = owned_certificate(request, services, templates, certificate_id, csrf_token)
    if isinstance(owned, Response):
        return owned
    session, certificate = owned
    created = services.openid4vci.offers.create(
        certificate.pre_enrollment_code,
        caller=services.portal.certificates.principal(session.mobile),
        permission=Permission.RECIPIENT,
        entity_type=certificate.entity_type,
        language=templates.language(request),
    )
    qr = base64.b64encode(qr_png(created.link.encode(), ec="M", module_px=4)).decode()
    return templates.render(
        request,
        "wallet_offer_created.html",
        {
            "certificate": certificate,
            "offer": created,
            "minutes": max(1, created.expires_in // 60),
            "qr_data_uri": f"data:image/png;base64,{qr}",
            "csrf_token": session.csrf_token,
        },
        headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"},
    )
