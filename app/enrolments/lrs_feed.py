"""Progress changes recorded in the LRS.

Every `ProgressEvent` becomes one xAPI statement in the same transaction: the learner (an account
on this platform) `experienced` / `attempted` / `completed` / `passed` / `failed` a module (an
activity under the platform's base URL, with the course as parent), or `completed` the course.
The statement id is derived from the event id, so the two stay linked and recording is idempotent.
The registration is the enrolment id, so one learner's course history is one LRS query.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from app.core.db import public_base_url
from app.courses.models import Course, Module
from app.enrolments.models import Enrolment, ProgressEvent
from app.xapi import recorder

_NAMESPACE = uuid.UUID("5b0f5a3e-7d59-4c1f-9a43-1f0f8c3d2a10")
COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"
MODULE_TYPE = "http://adlnet.gov/expapi/activities/module"


def statement_id(event_id: uuid.UUID) -> str:
    return str(uuid.uuid5(_NAMESPACE, str(event_id)))


def course_activity(base_url: str, course: Course) -> dict[str, Any]:
    return {"objectType": "Activity", "id": f"{base_url}/xapi/activities/courses/{course.id}",
            "definition": {"type": COURSE_TYPE, "name": _language_map(course.title)}}


def module_activity(base_url: str, module: Module) -> dict[str, Any]:
    return {"objectType": "Activity", "id": f"{base_url}/xapi/activities/modules/{module.id}",
            "definition": {"type": MODULE_TYPE, "name": _language_map(module.title)}}


def _language_map(texts: dict[str, Any]) -> dict[str, str]:
    return {tag: text for tag, text in (texts or {}).items() if isinstance(text, str) and text}


def _verb_and_result(event: ProgressEvent) -> tuple[str, dict[str, Any] | None]:
    score = {"score": {"scaled": event.score_scaled}} if event.score_scaled is not None else {}
    if event.status == "passed":
        return "passed", {"success": True, "completion": True, **score}
    if event.status == "failed":
        return "failed", {"success": False, **score}
    if event.status == "completed":
        return "completed", {"completion": True, **score}
    if event.kind == "viewed":
        return "experienced", None
    return "attempted", ({**score} or None)


def statement_for(session: Session, event: ProgressEvent) -> dict[str, Any]:
    base_url = public_base_url(session)
    enrolment = session.get(Enrolment, event.enrolment_id)
    course = session.get(Course, enrolment.course_id)
    statement: dict[str, Any] = {
        "id": statement_id(event.id),
        "actor": recorder.learner_actor(base_url, enrolment.user_id),
        "timestamp": recorder.timestamp(event.occurred_at),
        "context": {"registration": str(enrolment.id), "platform": recorder.PLATFORM_NAME},
    }
    if event.module_id is None:
        statement["verb"] = recorder.verb("completed")
        statement["object"] = course_activity(base_url, course)
        statement["result"] = {"completion": True}
        return statement
    module = session.get(Module, event.module_id)
    verb, result = _verb_and_result(event)
    statement["verb"] = recorder.verb(verb)
    statement["object"] = module_activity(base_url, module)
    statement["context"]["contextActivities"] = {"parent": [course_activity(base_url, course)]}
    if result:
        statement["result"] = result
    return statement


def record(session: Session, event: ProgressEvent) -> None:
    """Record one progress event (flushed, so it has its id) as a statement."""
    recorder.record(session, [statement_for(session, event)], base_url=public_base_url(session), now=event.occurred_at)
