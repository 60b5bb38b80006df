"""SMART Health Links: the owner's API under ``/certificate/api/shl`` (a ``recipient`` token,
scoped to its mobile number) and the receiving application's endpoints under ``/shl``
(anonymous: the manifest token in the path is the capability).

The receiver's answers carry ``Cache-Control: no-store`` (every manifest is made fresh, and
each ``location`` opens once) and ``Referrer-Policy: no-referrer`` (the path holds a token).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from certdist.domain.roles import Permission
from certdist.services.sharing import (
    JOSE,
    EncryptedFile,
    Expiry,
    HealthLinkOverview,
)
from certdist.web.deps import Caller, ServicesDep, caller_with_permission
from certdist.web.errors import Responses, error_responses

api = APIRouter(prefix="/certificate/api", tags=["smart-health-links"])
receiver = APIRouter(prefix="/shl", tags=["smart-health-links"])

OwnerCaller = Annotated[Caller, Depends(caller_with_permission(Permission.RECIPIENT))]
LinkId = Annotated[str, Path(pattern=r"^[0-9a-f\-]{36}$", description="The link's id")]
Token = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_\-]{1,100}$", description="The manifest token of the link")
]
RECEIVER_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_JOSE_BODY: Responses = {
    200: {"content": {JOSE: {}}, "description": "The file: a compact JWE (dir, A256GCM, cty)"}
}


class CreateHealthLink(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"certificateId": "906357492030", "flag": "P", "passcode": "4711", "expiry": "7d"}
            ]
        },
    )

    certificateId: str = Field(pattern=r"^[0-9A-Za-z\-]{1,64}$")
    flag: str = Field(
        default="", max_length=3, description="L (long-term), P (passcode), U (direct file)"
    )
    label: str | None = Field(default=None, max_length=80)
    passcode: str | None = Field(default=None, max_length=64, description="With flag P only")
    expiry: Expiry = Expiry.WEEK


class HealthLinkView(BaseModel):
    id: str
    certificateId: str
    flag: str
    label: str | None
    passcode: bool = Field(description="Whether a passcode protects the link")
    state: str = Field(description="active, expired, revoked, locked, certificate-replaced")
    createdAt: dt.datetime
    expiresAt: dt.datetime


class CreatedHealthLinkView(HealthLinkView):
    shlink: str = Field(description="The shlink:/ URI, holding the key; shown only now")
    url: str = Field(description="The manifest URL inside it")


class AccessView(BaseModel):
    at: dt.datetime
    event: str = Field(description="shl-manifest, shl-file, shl-direct or wrong-passcode")
    recipient: str | None = Field(description="Who the receiving application said it was")


class ManifestRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"recipient": "Dr. Rao's clinic", "passcode": "4711"}]}
    )

    recipient: str = Field(
        min_length=1, max_length=200, pattern=r"\S", description="Who is asking, for the log"
    )
    passcode: str | None = Field(default=None, max_length=64)
    embeddedLengthMax: int | None = Field(default=None, ge=0)


class ManifestFile(BaseModel):
    contentType: str
    embedded: str | None = None
    location: str | None = None


class Manifest(BaseModel):
    files: list[ManifestFile]


class RemainingAttempts(BaseModel):
    remainingAttempts: int = Field(description="Wrong passcodes left before the link dies")


def _view(overview: HealthLinkOverview) -> HealthLinkView:
    link = overview.link
    return HealthLinkView(
        id=link.id,
        certificateId=link.certificate_id,
        flag=link.flags,
        label=link.label,
        passcode=link.passcode_hash is not None,
        state=overview.state.value,
        createdAt=link.created_at,
        expiresAt=link.expires_at,
    )


# --- the owner ---------------------------------------------------------------------------


@api.post(
    "/shl", status_code=201, response_model=CreatedHealthLinkView, responses=error_responses(404)
)
async def create_health_link(
    services: ServicesDep, caller: OwnerCaller, body: CreateHealthLink
) -> CreatedHealthLinkView:
    """A SMART Health Link to one of the token's own certificates (404 for any other)."""
    links = services.sharing.health_links
    owner = links.owner(caller.principal.mobile)
    created = links.create(
        owner,
        body.certificateId,
        flags=body.flag,
        label=body.label,
        passcode=body.passcode,
        expiry=body.expiry,
    )
    view = _view(links.overview(owner, created.link.id))
    return CreatedHealthLinkView(**view.model_dump(), shlink=created.uri, url=created.url)


@api.get("/shl", response_model=list[HealthLinkView])
async def list_health_links(services: ServicesDep, caller: OwnerCaller) -> list[HealthLinkView]:
    """The token's SMART Health Links, newest first."""
    links = services.sharing.health_links
    return [_view(o) for o in links.links_of(links.owner(caller.principal.mobile))]


@api.delete("/shl/{linkId}", status_code=204, responses=error_responses(404))
async def revoke_health_link(
    services: ServicesDep, caller: OwnerCaller, linkId: LinkId
) -> Response:
    """Withdraw the link: its manifest and files answer 404 from now on."""
    links = services.sharing.health_links
    links.revoke(links.owner(caller.principal.mobile), linkId)
    return Response(status_code=204)


@api.get("/shl/{linkId}/accesses", response_model=list[AccessView], responses=error_responses(404))
async def health_link_accesses(
    services: ServicesDep, caller: OwnerCaller, linkId: LinkId
) -> list[AccessView]:
    """The link's access log, oldest first: when, what, and the recipient named."""
    links = services.sharing.health_links
    overview = links.overview(links.owner(caller.principal.mobile), linkId)
    return [AccessView(at=a.at, event=a.event, recipient=a.recipient) for a in overview.accesses]


# --- the receiving application -------------------------------------------------------------


@receiver.post(
    "/{token}",
    response_model=Manifest,
    response_model_exclude_none=True,
    responses={
        401: {"model": RemainingAttempts, "description": "Wrong or missing passcode"},
        **error_responses(404),
    },
)
async def health_link_manifest(
    services: ServicesDep, token: Token, body: ManifestRequest, response: Response
) -> Manifest:
    """The manifest: the SMART Health Card and (for vaccinations) the FHIR bundle, each a
    JWE, embedded or behind a single-use ``location`` valid 10 minutes. 404 when the link
    is unknown, expired, withdrawn or locked."""
    files = services.sharing.health_links.manifest(
        token,
        recipient=body.recipient,
        passcode=body.passcode,
        embedded_length_max=body.embeddedLengthMax,
    )
    response.headers.update(RECEIVER_HEADERS)
    return Manifest(files=[ManifestFile(**f) for f in files])


@receiver.get("/files/{ticket}", responses={**_JOSE_BODY, **error_responses(404)})
async def health_link_file(services: ServicesDep, ticket: Token) -> Response:
    """A file a manifest's ``location`` named: once, within 10 minutes."""
    return _jose(services.sharing.health_links.located_file(ticket))


@receiver.get("/{token}", responses={**_JOSE_BODY, **error_responses(404)})
async def health_link_direct_file(
    services: ServicesDep,
    token: Token,
    recipient: Annotated[str, Query(min_length=1, max_length=200, pattern=r"\S")],
) -> Response:
    """The one file of a link with the ``U`` flag (its SMART Health Card)."""
    return _jose(services.sharing.health_links.direct_file(token, recipient=recipient))


def _jose(encrypted: EncryptedFile) -> Response:
    return Response(encrypted.jwe, media_type=JOSE, headers=RECEIVER_HEADERS)
