from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from app.auth.dependencies import CurrentPrincipal, ManagerPrincipal
from app.core.deps import RuntimeDep, SessionDep
from app.core.openapi import problems
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.users import service
from app.users.schemas import UserCreate, UserFilters, UserOut, UserSelfUpdate, UserUpdate

router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=problems(401))


@router.get("/me", response_model=UserOut)
def read_me(session: SessionDep, principal: CurrentPrincipal) -> UserOut:
    """The signed-in user."""
    return UserOut.model_validate(service.get_user(session, principal, principal.user_id))


@router.patch("/me", response_model=UserOut, responses=problems(422))
def update_me(data: UserSelfUpdate, session: SessionDep, principal: CurrentPrincipal) -> UserOut:
    """Change your own name, language, sex or job title. Role, country and the rest are refused (422)."""
    return UserOut.model_validate(service.update_self(session, principal, data))


@router.get("", response_model=Page[UserOut], responses=problems(400, 422))
def list_users(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    filters: Annotated[UserFilters, Depends()],
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Page[UserOut]:
    """Users the caller may see (admins: all; coordinators: their country; others: themselves),
    ordered by email, with cursor pagination."""
    rows, next_cursor = service.list_users(session, principal, filters, cursor=cursor, limit=limit)
    next_url = str(request.url.include_query_params(cursor=next_cursor)) if next_cursor else None
    return Page[UserOut](items=[UserOut.model_validate(u) for u in rows], next_cursor=next_cursor, next=next_url)


@router.post("", response_model=UserOut, status_code=status.HTTP_201_CREATED, responses=problems(403, 409, 422))
def create_user(data: UserCreate, session: SessionDep, rt: RuntimeDep, principal: ManagerPrincipal) -> UserOut:
    """Admins create anyone; coordinators create learners of their own country."""
    return UserOut.model_validate(service.create_user(session, principal, data, rt.passwords))


@router.get("/{user_id}", response_model=UserOut, responses=problems(404))
def get_user(user_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> UserOut:
    return UserOut.model_validate(service.get_user(session, principal, user_id))


@router.patch("/{user_id}", response_model=UserOut, responses=problems(403, 404, 409, 422))
def update_user(user_id: uuid.UUID, data: UserUpdate, session: SessionDep, principal: CurrentPrincipal) -> UserOut:
    """Admins change any field of anyone but their own role, country and active flag; coordinators
    change learners of their country but not their role or country."""
    return UserOut.model_validate(service.update_user(session, principal, user_id, data))


@router.post("/{user_id}/deactivate", response_model=UserOut, responses=problems(403, 404))
def deactivate_user(user_id: uuid.UUID, session: SessionDep, principal: ManagerPrincipal) -> UserOut:
    """Switch an account off: its tokens stop working at once. Data is kept (reports need it)."""
    return UserOut.model_validate(service.set_active(session, principal, user_id, active=False))


@router.post("/{user_id}/activate", response_model=UserOut, responses=problems(403, 404))
def activate_user(user_id: uuid.UUID, session: SessionDep, principal: ManagerPrincipal) -> UserOut:
    return UserOut.model_validate(service.set_active(session, principal, user_id, active=True))
