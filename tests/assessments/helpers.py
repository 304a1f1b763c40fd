"""Building banks, questions, quizzes and attempts through the API in tests."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from typing import Any

from sqlalchemy import update

from app.assessments.models import Quiz, QuizAttempt
from app.users.models import Role

_n = itertools.count()
XAPI = {"X-Experience-API-Version": "1.0.3"}

# Markers that must never reach a learner before the review allows them.
KEY_MARKERS = ("KEY-ACCEPTED", "FEEDBACK-MARKER", "EXPLANATION-MARKER", "CHOICE-FEEDBACK", "GRADER-ONLY")
KEY_FIELDS = {"correct", "credit", "answers", "key", "tolerance", "correct_response", "explanation", "feedback",
              "grader_info", "data", "score", "state", "feedback_true", "feedback_false"}


def course_with_assessment(client, headers, *, title: dict[str, str] | None = None, modules: int = 1, publish: bool = True,
                           **course_fields) -> dict:
    body = {
        "slug": f"assessed-course-{next(_n)}-{uuid.uuid4().hex[:6]}",
        "title": title or {"en": "Identification of vulnerable persons", "sr-Latn": "Identifikacija ranjivih lica"},
        "languages": ["en", "sr-Latn"],
        **course_fields,
    }
    r = client.post("/api/v1/courses", json=body, headers=headers)
    assert r.status_code == 201, r.text
    course = r.json()
    module_ids = []
    for i in range(modules):
        m = client.post(f"/api/v1/courses/{course['id']}/modules",
                        json={"title": {"en": f"Test {i + 1}", "sr-Latn": f"Test {i + 1} (sr)"}, "kind": "assessment"},
                        headers=headers)
        assert m.status_code == 201, m.text
        module_ids.append(m.json()["id"])
    if publish:
        r = client.post(f"/api/v1/courses/{course['id']}/publish", headers=headers)
        assert r.status_code == 200, r.text
    course["module_ids"] = module_ids
    return course


def bank(client, headers, *, course_id: str | None = None, thematic_area: str | None = None) -> dict:
    body: dict[str, Any] = {"title": {"en": "Vulnerability bank", "sr-Latn": "Banka pitanja"}}
    if course_id:
        body["course_id"] = course_id
    else:
        body["thematic_area"] = thematic_area or "vulnerable-migrants"
    r = client.post("/api/v1/question-banks", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def question(client, headers, bank_id: str, body: dict) -> dict:
    r = client.post(f"/api/v1/question-banks/{bank_id}/questions", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def single_choice(text: str = "Who is an unaccompanied child?", **extra) -> dict:
    return {
        "type": "single_choice",
        "text": {"en": text, "sr-Latn": "Ko je dete bez pratnje?"},
        "choices": [
            {"text": {"en": "A person under 18 alone", "sr-Latn": "Lice mlađe od 18 bez pratnje"}, "correct": True,
             "feedback": {"en": "CHOICE-FEEDBACK right"}},
            {"text": {"en": "Any person under 18"}, "feedback": {"en": "CHOICE-FEEDBACK wrong"}},
            {"text": {"en": "An adult asylum seeker"}},
        ],
        "feedback": {"en": "FEEDBACK-MARKER general"},
        "explanation": {"en": "EXPLANATION-MARKER why"},
        **extra,
    }


def quiz(client, headers, module_id: str, **settings) -> dict:
    r = client.post("/api/v1/quizzes", json={"module_id": module_id, **settings}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def learner(client, factory, course_id: str, country: str = "RS"):
    user, headers = factory.signed_in(Role.learner, country)
    r = client.post(f"/api/v1/courses/{course_id}/enrol", headers=headers)
    assert r.status_code == 200, r.text
    return user, headers


def start(client, headers, quiz_id: str) -> dict:
    r = client.post(f"/api/v1/quizzes/{quiz_id}/attempts", headers=headers)
    assert r.status_code in (200, 201), r.text
    return r.json()


def submit(client, headers, attempt_id: str, answers: list[dict] | None = None) -> dict:
    r = client.post(f"/api/v1/attempts/{attempt_id}/submit", json={"answers": answers or []}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def move_attempt(db, attempt_id: str, *, seconds: float) -> None:
    """Shift an attempt's clock into the past (start and deadline), instead of waiting."""
    delta = dt.timedelta(seconds=seconds)
    row = db.get(QuizAttempt, uuid.UUID(attempt_id))
    db.execute(update(QuizAttempt).where(QuizAttempt.id == row.id).values(
        started_at=row.started_at - delta, deadline_at=row.deadline_at - delta if row.deadline_at else None))
    db.expire_all()


def set_quiz_times(db, quiz_id: str, **values) -> None:
    db.execute(update(Quiz).where(Quiz.id == uuid.UUID(quiz_id)).values(**values))
    db.expire_all()


def leaks(payload: Any, *, fields: set[str] = KEY_FIELDS, markers: tuple[str, ...] = KEY_MARKERS) -> list[str]:
    """Paths in a JSON document where an answer key, feedback or score shows (non-empty)."""
    found: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k in fields and v not in (None, [], {}):
                    found.append(f"{path}.{k}")
                walk(v, f"{path}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")
    walk(payload, "$")
    text = json.dumps(payload, ensure_ascii=False)
    found += [f"marker {m}" for m in markers if m in text]
    return found


def by_text(options: list[dict], startswith: str) -> str:
    return next(o["id"] for o in options if o["text"].startswith(startswith))
