from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, or_, select, true
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.courses.models import (
    Course,
    CourseCountry,
    CourseInstructor,
    CourseLanguage,
    CourseStatus,
    CourseThematicArea,
    Module,
)
from app.courses.schemas import CourseFilters
from app.enrolments.models import Enrolment, EnrolmentStatus
from app.users.models import Role

LIVE = (CourseStatus.published, CourseStatus.archived)


def open_to_country(country_code: str) -> ColumnElement[bool]:
    return or_(
        Course.available_to_all.is_(True),
        exists().where(CourseCountry.course_id == Course.id, CourseCountry.country_code == country_code),
    )


def _teaches(user_id: uuid.UUID) -> ColumnElement[bool]:
    return or_(
        Course.owner_id == user_id,
        exists().where(CourseInstructor.course_id == Course.id, CourseInstructor.user_id == user_id),
    )


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """Which courses a caller may read. Learners: published courses open to their country, and
    courses they are enrolled in (archived ones included). Coordinators: every published or archived
    course. Instructors: those, plus drafts they own or teach. Admins: all."""
    if principal.role is Role.admin:
        return true()
    if principal.role is Role.coordinator:
        return Course.status.in_(LIVE)
    if principal.role is Role.instructor:
        return or_(Course.status.in_(LIVE), _teaches(principal.user_id))
    enrolled = exists().where(
        Enrolment.course_id == Course.id,
        Enrolment.user_id == principal.user_id,
        Enrolment.status != EnrolmentStatus.withdrawn,
    )
    return and_(
        Course.status.in_(LIVE),
        or_(and_(Course.status == CourseStatus.published, open_to_country(principal.country_code)), enrolled),
    )


def editable_by(principal: Principal) -> ColumnElement[bool]:
    if principal.role is Role.admin:
        return true()
    if principal.role is Role.instructor:
        return _teaches(principal.user_id)
    return Course.id.is_(None)  # nobody else edits


def get_visible(session: Session, principal: Principal, course_id: uuid.UUID) -> Course | None:
    return session.scalars(select(Course).where(Course.id == course_id, visible_to(principal))).first()


def get_visible_by_slug(session: Session, principal: Principal, slug: str) -> Course | None:
    return session.scalars(select(Course).where(Course.slug == slug, visible_to(principal))).first()


def get_editable(session: Session, principal: Principal, course_id: uuid.UUID) -> Course | None:
    return session.scalars(select(Course).where(Course.id == course_id, editable_by(principal))).first()


def get(session: Session, course_id: uuid.UUID) -> Course | None:
    return session.get(Course, course_id)


def slug_taken(session: Session, slug: str, except_id: uuid.UUID | None = None) -> bool:
    stmt = select(Course.id).where(Course.slug == slug)
    if except_id:
        stmt = stmt.where(Course.id != except_id)
    return session.scalars(stmt).first() is not None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_visible(
    session: Session,
    principal: Principal,
    filters: CourseFilters,
    *,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Course]:
    stmt: Select = select(Course).where(visible_to(principal))
    if principal.role is Role.learner:
        # The catalogue shows learners what they can enrol in; archived courses they took are on
        # their dashboard.
        stmt = stmt.where(Course.status == CourseStatus.published)
    elif filters.status is not None:
        stmt = stmt.where(Course.status == filters.status)
    if filters.q:
        for word in filters.q.lower().split()[:8]:
            stmt = stmt.where(Course.search_text.like(f"%{_escape_like(word)}%", escape="\\"))
    if filters.thematic_area:
        stmt = stmt.where(
            exists().where(CourseThematicArea.course_id == Course.id, CourseThematicArea.area_code == filters.thematic_area)
        )
    if filters.language:
        stmt = stmt.where(
            exists().where(
                CourseLanguage.course_id == Course.id, func.lower(CourseLanguage.language_tag) == filters.language.lower()
            )
        )
    if filters.country:
        stmt = stmt.where(open_to_country(filters.country))
    if after is not None:
        created, course_id = after
        stmt = stmt.where(or_(Course.created_at < created, and_(Course.created_at == created, Course.id < course_id)))
    return list(session.scalars(stmt.order_by(Course.created_at.desc(), Course.id.desc()).limit(limit)))


def link_codes(session: Session, model: type, course_ids: list[uuid.UUID], column: str) -> dict[uuid.UUID, list[str]]:
    result: dict[uuid.UUID, list[str]] = {cid: [] for cid in course_ids}
    if not course_ids:
        return result
    col = getattr(model, column)
    for course_id, code in session.execute(select(model.course_id, col).where(model.course_id.in_(course_ids)).order_by(col)):
        result[course_id].append(code)
    return result


def replace_links(session: Session, model: type, course_id: uuid.UUID, column: str, values: list) -> None:
    session.execute(delete(model).where(model.course_id == course_id))
    session.add_all([model(course_id=course_id, **{column: v}) for v in dict.fromkeys(values)])
    session.flush()


def module_counts(session: Session, course_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not course_ids:
        return {}
    rows = session.execute(
        select(Module.course_id, func.count()).where(Module.course_id.in_(course_ids)).group_by(Module.course_id)
    )
    return {cid: n for cid, n in rows}


def modules_of(session: Session, course_id: uuid.UUID) -> list[Module]:
    return list(session.scalars(select(Module).where(Module.course_id == course_id).order_by(Module.position)))


def get_module(session: Session, module_id: uuid.UUID) -> Module | None:
    return session.get(Module, module_id)


def instructor_ids(session: Session, course_id: uuid.UUID) -> list[uuid.UUID]:
    return list(session.scalars(select(CourseInstructor.user_id).where(CourseInstructor.course_id == course_id)))


def courses_taught_by(user_id: uuid.UUID) -> Select:
    """Ids of the courses a user owns or teaches (a subquery for other domains' scope filters)."""
    return select(Course.id).where(_teaches(user_id))


def add(session: Session, *objects: object) -> None:
    session.add_all(objects)
    session.flush()


def is_enrolled(session: Session, user_id: uuid.UUID, course_id: uuid.UUID) -> bool:
    stmt = select(Enrolment.id).where(
        Enrolment.user_id == user_id, Enrolment.course_id == course_id, Enrolment.status != EnrolmentStatus.withdrawn
    )
    return session.scalars(stmt).first() is not None


def module_has_progress(session: Session, module_id: uuid.UUID) -> bool:
    from app.enrolments.models import ModuleProgress

    return session.scalars(select(ModuleProgress.id).where(ModuleProgress.module_id == module_id).limit(1)).first() is not None


def modules_for(session: Session, course_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Module]]:
    result: dict[uuid.UUID, list[Module]] = {cid: [] for cid in course_ids}
    if course_ids:
        stmt = select(Module).where(Module.course_id.in_(course_ids)).order_by(Module.course_id, Module.position)
        for module in session.scalars(stmt):
            result[module.course_id].append(module)
    return result


def get_many(session: Session, course_ids: list[uuid.UUID]) -> dict[uuid.UUID, Course]:
    if not course_ids:
        return {}
    return {c.id: c for c in session.scalars(select(Course).where(Course.id.in_(course_ids)))}
