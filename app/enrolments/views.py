"""Responses for enrolments and progress."""

from __future__ import annotations

from app.enrolments.models import Enrolment, ModuleStatus
from app.enrolments.schemas import DashboardEntry, EnrolmentDetail, EnrolmentOut, LearnerProgress, ModuleProgressOut
from app.enrolments.service import ProgressView
from app.users.models import User


def _base(e: Enrolment, view: ProgressView) -> dict:
    return {
        "id": e.id,
        "course_id": e.course_id,
        "user_id": e.user_id,
        "cohort_id": e.cohort_id,
        "status": e.status,
        "source": e.source,
        "enrolled_at": e.enrolled_at,
        "completed_at": e.completed_at,
        "withdrawn_at": e.withdrawn_at,
        "due_at": e.due_at,
        "last_activity_at": e.last_activity_at,
        "progress": round(view.ratio(e), 4),
        "time_spent_seconds": view.time_spent(e),
    }


def enrolment_out(e: Enrolment, view: ProgressView) -> EnrolmentOut:
    return EnrolmentOut(**_base(e, view))


def enrolment_detail(e: Enrolment, view: ProgressView) -> EnrolmentDetail:
    modules = [
        ModuleProgressOut(
            module_id=m.id,
            position=m.position,
            title=m.title,
            kind=m.kind,
            required=m.required,
            completion_rule=m.completion_rule,
            satisfied=satisfied,
            status=row.status if row else ModuleStatus.not_started,
            viewed=row.viewed if row else False,
            score_scaled=row.score_scaled if row else None,
            time_spent_seconds=row.time_spent_seconds if row else 0,
            attempts=row.attempts if row else 0,
            last_activity_at=row.last_activity_at if row else None,
            completed_at=row.completed_at if row else None,
        )
        for m, row, satisfied in view.module_rows(e)
    ]
    return EnrolmentDetail(**_base(e, view), modules=modules)


def learner_progress(e: Enrolment, user: User, view: ProgressView) -> LearnerProgress:
    return LearnerProgress(**_base(e, view), full_name=user.full_name, email=user.email, country_code=user.country_code)


def dashboard_entry(e: Enrolment, view: ProgressView) -> DashboardEntry:
    course = view.courses[e.course_id]
    return DashboardEntry(**_base(e, view), course_slug=course.slug, course_title=course.title, course_status=course.status.value)
