"""FastAPI dependencies that turn a bearer token into a Principal, and role guards."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from app.auth import service
from app.auth.principal import Principal
from app.core.db import utcnow
from app.core.deps import RuntimeDep, SessionDep
from app.core.errors import Forbidden, Unauthorized
from app.users.models import Role

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_principal(session: SessionDep, rt: RuntimeDep, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Principal:
    if not token:
        raise Unauthorized("Sign in and send the access token as `Authorization: Bearer <token>`.")
    return service.resolve_access_token(session, rt, token, now=utcnow())


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role):
    allowed = frozenset(roles)

    def guard(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise Forbidden("Your role cannot do this.")
        return principal

    return guard


AdminPrincipal = Annotated[Principal, Depends(require_roles(Role.admin))]
ManagerPrincipal = Annotated[Principal, Depends(require_roles(Role.admin, Role.coordinator))]
