"""FastAPI dependencies: the services, and the caller checked for a permission."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from certdist.domain.roles import Permission, Principal
from certdist.errors import AuthenticationFailed
from certdist.wiring import Services

_bearer = HTTPBearer(auto_error=False, description="A JWT from a trusted issuer")


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def client_address(request: Request) -> str:
    """The caller's address (after ``X-Forwarded-For`` from trusted proxies, applied by the
    app factory), the key of per-address limits."""
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class Caller:
    """The authenticated caller and the permission under which it was let in."""

    principal: Principal
    permission: Permission


def caller_with(*permissions: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates the bearer token and checks a permission's role."""
    check = caller_with_permission(*permissions)

    # A default rather than ``Annotated``: annotations are strings here (PEP 563), and FastAPI
    # resolves them in module scope, where ``check`` does not exist.
    async def dependency(caller: Caller = Depends(check)) -> Principal:  # noqa: B008
        return caller.principal

    return dependency


def caller_with_permission(*permissions: Permission) -> Callable[..., Awaitable[Caller]]:
    """Like :func:`caller_with`, also telling which of ``permissions`` granted access."""

    # ``async``: FastAPI runs plain functions in a thread pool, which costs more than the
    # work here (a remembered token is a dictionary lookup).
    async def dependency(
        services: ServicesDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise AuthenticationFailed("a bearer token is required")
        principal = services.access.tokens.verify(credentials.credentials)
        return Caller(principal, services.access.authorizer.first_granted(principal, permissions))

    return dependency
