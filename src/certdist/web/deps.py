"""FastAPI dependencies: the services, and the caller checked for a permission."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from certdist.domain.roles import Permission, Principal
from certdist.errors import AuthenticationFailed
from certdist.services.container import Services

_bearer = HTTPBearer(auto_error=False, description="A JWT from a trusted issuer")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def caller_with(permission: Permission) -> Callable[..., Principal]:
    """A dependency that authenticates the bearer token and checks the permission's role."""

    def dependency(
        services: ServicesDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise AuthenticationFailed("a bearer token is required")
        principal = services.tokens.verify(credentials.credentials)
        services.authorizer.check(principal, permission)
        return principal

    return dependency
