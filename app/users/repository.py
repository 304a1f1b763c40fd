from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Select, func, or_, select, true
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.users.models import Role, User
from app.users.schemas import UserFilters


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """The users a caller may see: admins all, coordinators their country, others themselves."""
    if principal.role is Role.admin:
        return true()
    if principal.role is Role.coordinator:
        return User.country_code == principal.country_code
    return User.id == principal.user_id


def get_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email.strip().lower())).first()


def get(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def get_visible(session: Session, principal: Principal, user_id: uuid.UUID) -> User | None:
    return session.scalars(select(User).where(User.id == user_id, visible_to(principal))).first()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_visible(
    session: Session, principal: Principal, filters: UserFilters, *, after_email: str | None, limit: int
) -> list[User]:
    stmt: Select = select(User).where(visible_to(principal))
    if filters.country_code:
        stmt = stmt.where(User.country_code == filters.country_code)
    if filters.role:
        stmt = stmt.where(User.role == filters.role)
    if filters.institution_id:
        stmt = stmt.where(User.institution_id == filters.institution_id)
    if filters.is_active is not None:
        stmt = stmt.where(User.is_active.is_(filters.is_active))
    if filters.q:
        pattern = f"%{_escape_like(filters.q.lower())}%"
        stmt = stmt.where(
            or_(User.email.like(pattern, escape="\\"), func.lower(User.full_name).like(pattern, escape="\\"))
        )
    if after_email is not None:
        stmt = stmt.where(User.email > after_email)
    return list(session.scalars(stmt.order_by(User.email).limit(limit)))


def add(session: Session, user: User) -> None:
    session.add(user)
    session.flush()
