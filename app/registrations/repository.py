"""Queries of registrations and their attempts; scoping is applied here."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.courses import service as courses_service
from app.courses.models import Module
from app.registrations.models import Attempt, Registration, RuntimeSession, UnitState
from app.users.models import Role, User


def registrations_visible_to(principal: Principal) -> ColumnElement[bool]:
    """Admins: all. Coordinators: their country's learners. Instructors: registrations in the
    courses they own or teach. Learners: their own."""
    if principal.role is Role.admin:
        return true()
    if principal.role is Role.coordinator:
        return Registration.user_id.in_(select(User.id).where(User.country_code == principal.country_code))
    if principal.role is Role.instructor:
        return Registration.module_id.in_(
            select(Module.id).where(Module.course_id.in_(courses_service.courses_taught_by(principal.user_id))))
    return Registration.user_id == principal.user_id


def get_visible(session: Session, principal: Principal, registration_id: uuid.UUID) -> Registration | None:
    return session.scalars(select(Registration).where(Registration.id == registration_id,
                                                      registrations_visible_to(principal))).first()


def find(session: Session, user_id: uuid.UUID, module_id: uuid.UUID, *, for_update: bool = False) -> Registration | None:
    stmt = select(Registration).where(Registration.user_id == user_id, Registration.module_id == module_id)
    return session.scalars(stmt.with_for_update() if for_update else stmt).first()


def list_visible(session: Session, principal: Principal, *, module_id: uuid.UUID | None, user_id: uuid.UUID | None,
                 limit: int) -> list[Registration]:
    stmt = select(Registration).where(registrations_visible_to(principal))
    if module_id:
        stmt = stmt.where(Registration.module_id == module_id)
    if user_id:
        stmt = stmt.where(Registration.user_id == user_id)
    return list(session.scalars(stmt.order_by(Registration.created_at, Registration.id).limit(limit)))


def attempts_of(session: Session, registration_id: uuid.UUID) -> list[Attempt]:
    return list(session.scalars(select(Attempt).where(Attempt.registration_id == registration_id).order_by(Attempt.number)))


def latest_attempt(session: Session, registration_id: uuid.UUID) -> Attempt | None:
    return session.scalars(select(Attempt).where(Attempt.registration_id == registration_id)
                           .order_by(Attempt.number.desc()).limit(1)).first()


def unit_states(session: Session, attempt_id: uuid.UUID) -> list[UnitState]:
    return list(session.scalars(select(UnitState).where(UnitState.attempt_id == attempt_id)))


def unit_state(session: Session, attempt_id: uuid.UUID, unit_id: uuid.UUID) -> UnitState | None:
    return session.scalars(select(UnitState).where(UnitState.attempt_id == attempt_id, UnitState.unit_id == unit_id)).first()


def runtime_session(session: Session, session_id: uuid.UUID, *, for_update: bool = False) -> RuntimeSession | None:
    stmt = select(RuntimeSession).where(RuntimeSession.id == session_id)
    return session.scalars(stmt.with_for_update() if for_update else stmt).first()


def sessions_of(session: Session, unit_state_id: uuid.UUID) -> list[RuntimeSession]:
    return list(session.scalars(select(RuntimeSession).where(RuntimeSession.unit_state_id == unit_state_id)
                                .order_by(RuntimeSession.started_at)))


def open_sessions(session: Session, registration_id: uuid.UUID) -> list[RuntimeSession]:
    """The registration's run-time sessions not yet terminated or abandoned."""
    return list(session.scalars(
        select(RuntimeSession).join(UnitState, UnitState.id == RuntimeSession.unit_state_id)
        .join(Attempt, Attempt.id == UnitState.attempt_id)
        .where(Attempt.registration_id == registration_id, RuntimeSession.terminated.is_(False),
               RuntimeSession.abandoned.is_(False))
        .order_by(RuntimeSession.started_at)))
