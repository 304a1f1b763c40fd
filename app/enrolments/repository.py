from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.courses import service as courses_service
from app.enrolments.models import Cohort, CohortMember, Enrolment, ModuleProgress, ProgressEvent
from app.enrolments.schemas import EnrolmentFilters
from app.users.models import Role, User


def enrolments_visible_to(principal: Principal) -> ColumnElement[bool]:
    """Admins: all. Coordinators: enrolments of their country's people. Instructors: enrolments in
    the courses they own or teach. Learners: their own."""
    if principal.role is Role.admin:
        return true()
    if principal.role is Role.coordinator:
        return Enrolment.user_id.in_(select(User.id).where(User.country_code == principal.country_code))
    if principal.role is Role.instructor:
        return Enrolment.course_id.in_(courses_service.courses_taught_by(principal.user_id))
    return Enrolment.user_id == principal.user_id


def cohorts_visible_to(principal: Principal) -> ColumnElement[bool]:
    if principal.role is Role.admin:
        return true()
    if principal.role is Role.coordinator:
        return Cohort.country_code == principal.country_code
    if principal.role is Role.instructor:
        return Cohort.course_id.in_(courses_service.courses_taught_by(principal.user_id))
    return Cohort.id.in_(select(CohortMember.cohort_id).where(CohortMember.user_id == principal.user_id))


def find(session: Session, course_id: uuid.UUID, user_id: uuid.UUID) -> Enrolment | None:
    return session.scalars(select(Enrolment).where(Enrolment.course_id == course_id, Enrolment.user_id == user_id)).first()


def get_visible(session: Session, principal: Principal, enrolment_id: uuid.UUID) -> Enrolment | None:
    stmt = select(Enrolment).where(Enrolment.id == enrolment_id, enrolments_visible_to(principal))
    return session.scalars(stmt).first()


def list_visible(
    session: Session, principal: Principal, filters: EnrolmentFilters, *, after: tuple[dt.datetime, uuid.UUID] | None, limit: int
) -> list[Enrolment]:
    stmt: Select = select(Enrolment).where(enrolments_visible_to(principal))
    for name in ("course_id", "user_id", "cohort_id", "status"):
        value = getattr(filters, name)
        if value is not None:
            stmt = stmt.where(getattr(Enrolment, name) == value)
    if after is not None:
        at, eid = after
        stmt = stmt.where(or_(Enrolment.enrolled_at > at, and_(Enrolment.enrolled_at == at, Enrolment.id > eid)))
    return list(session.scalars(stmt.order_by(Enrolment.enrolled_at, Enrolment.id).limit(limit)))


def with_users(session: Session, principal: Principal, course_id: uuid.UUID) -> list[tuple[Enrolment, User]]:
    stmt = (
        select(Enrolment, User)
        .join(User, User.id == Enrolment.user_id)
        .where(Enrolment.course_id == course_id, enrolments_visible_to(principal))
        .order_by(User.full_name, User.id)
    )
    return [(e, u) for e, u in session.execute(stmt)]


def of_user(session: Session, principal: Principal, user_id: uuid.UUID, *, include_withdrawn: bool) -> list[Enrolment]:
    stmt = select(Enrolment).where(Enrolment.user_id == user_id, enrolments_visible_to(principal))
    if not include_withdrawn:
        stmt = stmt.where(Enrolment.status != "withdrawn")
    return list(session.scalars(stmt.order_by(Enrolment.enrolled_at.desc())))


def progress_rows(session: Session, enrolment_ids: list[uuid.UUID]) -> list[ModuleProgress]:
    if not enrolment_ids:
        return []
    return list(session.scalars(select(ModuleProgress).where(ModuleProgress.enrolment_id.in_(enrolment_ids))))


def progress_for(session: Session, enrolment_id: uuid.UUID, module_id: uuid.UUID) -> ModuleProgress | None:
    stmt = select(ModuleProgress).where(ModuleProgress.enrolment_id == enrolment_id, ModuleProgress.module_id == module_id)
    return session.scalars(stmt.with_for_update()).first()


def get_cohort_visible(session: Session, principal: Principal, cohort_id: uuid.UUID) -> Cohort | None:
    return session.scalars(select(Cohort).where(Cohort.id == cohort_id, cohorts_visible_to(principal))).first()


def list_cohorts(session: Session, principal: Principal, course_id: uuid.UUID | None) -> list[Cohort]:
    stmt = select(Cohort).where(cohorts_visible_to(principal))
    if course_id:
        stmt = stmt.where(Cohort.course_id == course_id)
    return list(session.scalars(stmt.order_by(Cohort.starts_on, Cohort.name)))


def member_counts(session: Session, cohort_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not cohort_ids:
        return {}
    rows = session.execute(
        select(CohortMember.cohort_id, func.count()).where(CohortMember.cohort_id.in_(cohort_ids)).group_by(CohortMember.cohort_id)
    )
    return {cid: n for cid, n in rows}


def members(session: Session, cohort_id: uuid.UUID) -> list[tuple[User, Enrolment | None]]:
    stmt = (
        select(User, Enrolment)
        .join(CohortMember, CohortMember.user_id == User.id)
        .join(Cohort, Cohort.id == CohortMember.cohort_id)
        .outerjoin(Enrolment, and_(Enrolment.user_id == User.id, Enrolment.course_id == Cohort.course_id))
        .where(CohortMember.cohort_id == cohort_id)
        .order_by(User.full_name)
    )
    return [(u, e) for u, e in session.execute(stmt)]


def membership(session: Session, cohort_id: uuid.UUID, user_id: uuid.UUID) -> CohortMember | None:
    return session.get(CohortMember, (cohort_id, user_id))


def add(session: Session, *objects: object) -> None:
    session.add_all(objects)
    session.flush()


def add_event(session: Session, event: ProgressEvent) -> None:
    session.add(event)
    session.flush()
