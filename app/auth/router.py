from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response, status

from app.auth import service
from app.auth.dependencies import CurrentPrincipal, ManagerPrincipal
from app.auth.schemas import PasswordChange, PasswordReset, RefreshRequest, SessionOut, TokenResponse
from app.core.db import utcnow
from app.core.deps import RuntimeDep, SessionDep
from app.core.openapi import problems

router = APIRouter(tags=["auth"])


def _client_address(request: Request) -> str | None:
    # Behind a load balancer, uvicorn's proxy-headers support (RMTC_FORWARDED_ALLOW_IPS) puts the
    # real client here; we never read X-Forwarded-For ourselves, so clients cannot spoof it.
    return request.client.host if request.client else None


def _tokens(pair: service.TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
    )


@router.post("/api/v1/auth/token", response_model=TokenResponse, responses=problems(401, 422, 429))
def issue_token(
    request: Request,
    response: Response,
    session: SessionDep,
    rt: RuntimeDep,
    username: Annotated[str, Form(max_length=320, description="The account's email")],
    password: Annotated[str, Form(max_length=256)],
    grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
) -> TokenResponse:
    """OAuth2 password flow: sign in with email and password."""
    response.headers["Cache-Control"] = "no-store"
    pair = service.login(
        session,
        rt,
        email=username,
        password=password,
        client_address=_client_address(request),
        user_agent=request.headers.get("user-agent"),
        now=utcnow(),
    )
    return _tokens(pair)


@router.post("/api/v1/auth/refresh", response_model=TokenResponse, responses=problems(401, 422))
def refresh_token(data: RefreshRequest, response: Response, session: SessionDep, rt: RuntimeDep) -> TokenResponse:
    """Exchange a refresh token for a new pair. Each refresh token works once; presenting a used
    one again revokes the whole sign-in."""
    response.headers["Cache-Control"] = "no-store"
    return _tokens(service.refresh(session, rt, refresh_token=data.refresh_token, now=utcnow()))


@router.post("/api/v1/auth/logout", status_code=status.HTTP_204_NO_CONTENT, responses=problems(422))
def logout(data: RefreshRequest, session: SessionDep) -> None:
    """End the sign-in the refresh token belongs to (its access tokens stop working at once)."""
    service.logout(session, refresh_token=data.refresh_token, now=utcnow())


@router.get("/api/v1/auth/sessions", response_model=list[SessionOut], responses=problems(401))
def my_sessions(session: SessionDep, principal: CurrentPrincipal) -> list[SessionOut]:
    """Your active sign-ins (devices)."""
    return [SessionOut.model_validate(s) for s in service.list_sessions(session, principal, now=utcnow())]


@router.post(
    "/api/v1/users/me/password", status_code=status.HTTP_204_NO_CONTENT, responses=problems(401, 422)
)
def change_password(data: PasswordChange, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal) -> None:
    """Change your password. Every sign-in of yours ends, this one included."""
    service.change_own_password(
        session, rt, principal, current_password=data.current_password, new_password=data.new_password, now=utcnow()
    )


@router.post(
    "/api/v1/users/{user_id}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 422),
)
def reset_password(
    user_id: uuid.UUID, data: PasswordReset, session: SessionDep, rt: RuntimeDep, principal: ManagerPrincipal
) -> None:
    """Set a new password for a user you manage; their sign-ins end."""
    service.reset_password(session, rt, principal, user_id, new_password=data.new_password, now=utcnow())


@router.get("/.well-known/jwks.json", tags=["auth"])
def jwks(rt: RuntimeDep, response: Response) -> dict:
    """Public keys that verify the platform's access tokens."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return rt.signer.jwks()
