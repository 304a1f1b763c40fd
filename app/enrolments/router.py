from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from app.auth.dependencies import CurrentPrincipal
from app.core.db import utcnow
from app.core.deps import SessionDep
from app.core.errors import UnsupportedMediaType
from app.core.openapi import problems
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.uploads import SpooledUpload, spooled_body
from app.enrolments import service, views
from app.enrolments.schemas import (
    BulkEnrol,
    BulkReport,
    CohortCreate,
    CohortMembers,
    CohortOut,
    CohortUpdate,
    DashboardEntry,
    EnrolmentDetail,
    EnrolmentFilters,
    EnrolmentOut,
    EnrolmentPage,
    LearnerProgress,
    SelfEnrol,
)
from app.enrolments.service import ProgressView

router = APIRouter(prefix="/api/v1", tags=["enrolments"], responses=problems(401))
ERRORS = problems(403, 404, 409, 422)
CSV_TYPES = ("text/csv", "text/plain", "application/csv", "application/vnd.ms-excel")


def _detail(session, enrolment) -> EnrolmentDetail:
    return views.enrolment_detail(enrolment, ProgressView(session, [enrolment]))


@router.post("/courses/{course_id}/enrol", response_model=EnrolmentOut, responses=ERRORS)
def self_enrol(course_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, data: SelfEnrol | None = None) -> EnrolmentOut:
    """Enrol yourself in a published course open to your country (again after withdrawing)."""
    enrolment = service.self_enrol(session, principal, course_id, due_at=data.due_at if data else None, now=utcnow())
    return views.enrolment_out(enrolment, ProgressView(session, [enrolment]))


@router.post("/courses/{course_id}/enrolments", response_model=BulkReport, responses=ERRORS)
def bulk_enrol(course_id: uuid.UUID, data: BulkEnrol, session: SessionDep, principal: CurrentPrincipal) -> BulkReport:
    """Enrol people by id and/or email (coordinators: their country's people; admins: anyone).
    Every row is reported; invalid rows change nothing; `atomic` refuses all when any row fails."""
    emails = [(i, e) for i, e in enumerate(data.emails, start=1)]
    return service.bulk_enrol(
        session, principal, course_id, user_ids=data.user_ids, emails=emails, due_at=data.due_at, atomic=data.atomic, now=utcnow()
    )


@router.post(
    "/courses/{course_id}/enrolments/csv",
    response_model=BulkReport,
    responses={**ERRORS, **problems(400, 415)},
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}, "example": "email\nana.jovanovic@kirs.gov.rs\nmarko@mup.gov.me\n"}}}},
)
def csv_enrol(
    course_id: uuid.UUID,
    upload: Annotated[SpooledUpload, Depends(spooled_body)],
    session: SessionDep,
    principal: CurrentPrincipal,
    atomic: bool = False,
) -> BulkReport:
    """Enrol the people of a CSV of emails (an `email` column, or one email per line); the report
    names each line."""
    if upload.content_type not in CSV_TYPES:
        raise UnsupportedMediaType("Send the CSV as the request body with Content-Type: text/csv.")
    emails = service.parse_email_csv(upload.file.read())
    return service.bulk_enrol(session, principal, course_id, user_ids=[], emails=emails, due_at=None, atomic=atomic, now=utcnow())


@router.get("/courses/{course_id}/learners", response_model=list[LearnerProgress], responses=problems(403, 404))
def course_learners(course_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> list[LearnerProgress]:
    """A course's learners with their progress (instructors of the course; coordinators: their
    country's learners; admins: all)."""
    rows = service.course_learners(session, principal, course_id)
    view = ProgressView(session, [e for e, _ in rows])
    return [views.learner_progress(e, u, view) for e, u in rows]


@router.get("/me/courses", response_model=list[DashboardEntry], tags=["enrolments"])
def my_courses(session: SessionDep, principal: CurrentPrincipal) -> list[DashboardEntry]:
    """The learner's dashboard: courses they are enrolled in, with progress."""
    enrolments = service.my_enrolments(session, principal)
    view = ProgressView(session, enrolments)
    return [views.dashboard_entry(e, view) for e in enrolments]


@router.get("/users/{user_id}/progress", response_model=list[EnrolmentDetail], responses=problems(404))
def user_progress(user_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> list[EnrolmentDetail]:
    """One learner's full progress across their enrolments (within the caller's scope)."""
    enrolments = service.user_enrolments(session, principal, user_id)
    view = ProgressView(session, enrolments)
    return [views.enrolment_detail(e, view) for e in enrolments]


@router.get("/enrolments", response_model=EnrolmentPage, responses=problems(400, 422))
def list_enrolments(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    filters: Annotated[EnrolmentFilters, Depends()],
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> EnrolmentPage:
    rows, next_cursor = service.list_enrolments(session, principal, filters, cursor=cursor, limit=limit)
    view = ProgressView(session, rows)
    return EnrolmentPage(
        items=[views.enrolment_out(e, view) for e in rows],
        next_cursor=next_cursor,
        next=str(request.url.include_query_params(cursor=next_cursor)) if next_cursor else None,
    )


@router.get("/enrolments/{enrolment_id}", response_model=EnrolmentDetail, responses=problems(404))
def get_enrolment(enrolment_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> EnrolmentDetail:
    return _detail(session, service.get_enrolment(session, principal, enrolment_id))


@router.post("/enrolments/{enrolment_id}/withdraw", response_model=EnrolmentOut, responses=problems(403, 404))
def withdraw(enrolment_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> EnrolmentOut:
    """Unenrol (the learner themself, their country's coordinator, or an admin). Progress is kept."""
    enrolment = service.withdraw(session, principal, enrolment_id, now=utcnow())
    return views.enrolment_out(enrolment, ProgressView(session, [enrolment]))


@router.post("/modules/{module_id}/viewed", response_model=EnrolmentDetail, responses=problems(404, 409))
def module_viewed(module_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> EnrolmentDetail:
    """Record that you opened a module (a resource module is then complete)."""
    progress = service.mark_viewed(session, principal, module_id, now=utcnow())
    return _detail(session, service.get_enrolment(session, principal, progress.enrolment_id))


def _cohort_out(session, cohorts) -> list[CohortOut]:
    counts = service.member_counts(session, [c.id for c in cohorts])
    return [CohortOut.model_validate(c).model_copy(update={"member_count": counts.get(c.id, 0)}) for c in cohorts]


@router.post("/cohorts", response_model=CohortOut, status_code=status.HTTP_201_CREATED, responses=ERRORS, tags=["cohorts"])
def create_cohort(data: CohortCreate, session: SessionDep, principal: CurrentPrincipal) -> CohortOut:
    """A named group of one course, e.g. "Asylum procedures - Belgrade, March 2026 cohort"."""
    return _cohort_out(session, [service.create_cohort(session, principal, data)])[0]


@router.get("/cohorts", response_model=list[CohortOut], tags=["cohorts"])
def list_cohorts(session: SessionDep, principal: CurrentPrincipal, course_id: uuid.UUID | None = None) -> list[CohortOut]:
    return _cohort_out(session, service.list_cohorts(session, principal, course_id))


@router.get("/cohorts/{cohort_id}", response_model=CohortOut, responses=problems(404), tags=["cohorts"])
def get_cohort(cohort_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> CohortOut:
    return _cohort_out(session, [service.get_cohort(session, principal, cohort_id)])[0]


@router.patch("/cohorts/{cohort_id}", response_model=CohortOut, responses=ERRORS, tags=["cohorts"])
def update_cohort(cohort_id: uuid.UUID, data: CohortUpdate, session: SessionDep, principal: CurrentPrincipal) -> CohortOut:
    return _cohort_out(session, [service.update_cohort(session, principal, cohort_id, data)])[0]


@router.delete("/cohorts/{cohort_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS, tags=["cohorts"])
def delete_cohort(cohort_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> None:
    """Delete the group; its members stay enrolled."""
    service.delete_cohort(session, principal, cohort_id)


@router.post("/cohorts/{cohort_id}/members", response_model=BulkReport, responses=ERRORS, tags=["cohorts"])
def add_members(cohort_id: uuid.UUID, data: CohortMembers, session: SessionDep, principal: CurrentPrincipal) -> BulkReport:
    """Add people to the cohort: each is enrolled in its course; the report names every row."""
    emails = [(i, e) for i, e in enumerate(data.emails, start=1)]
    return service.add_members(session, principal, cohort_id, user_ids=data.user_ids, emails=emails, due_at=data.due_at, now=utcnow())


@router.get("/cohorts/{cohort_id}/members", response_model=list[LearnerProgress], responses=problems(403, 404), tags=["cohorts"])
def cohort_members(cohort_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> list[LearnerProgress]:
    rows = [(u, e) for u, e in service.cohort_members(session, principal, cohort_id) if e is not None]
    view = ProgressView(session, [e for _, e in rows])
    return [views.learner_progress(e, u, view) for u, e in rows]


@router.delete("/cohorts/{cohort_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS, tags=["cohorts"])
def remove_member(cohort_id: uuid.UUID, user_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> None:
    """Take someone out of the cohort; their enrolment and progress stay."""
    service.remove_member(session, principal, cohort_id, user_id)
