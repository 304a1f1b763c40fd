from __future__ import annotations

from typing import Any

import pytest

from app.users.models import Role
from tests.assessments import helpers as h

# One question of every automatically graded type; texts are unique so tests find them back.
ALL_TYPES: list[dict[str, Any]] = [
    h.single_choice("SC: who is an unaccompanied child?", category="Vulnerability/Children"),
    {"type": "multiple_response", "text": {"en": "MR: indicators of trafficking?"}, "category": "Vulnerability/Trafficking",
     "choices": [{"text": {"en": "Documents held by another person"}, "correct": True},
                 {"text": {"en": "Debt bondage"}, "correct": True},
                 {"text": {"en": "Valid visa"}, "feedback": {"en": "CHOICE-FEEDBACK visa"}}],
     "explanation": {"en": "EXPLANATION-MARKER trafficking"}},
    {"type": "true_false", "text": {"en": "TF: detention of children is a measure of last resort."}, "correct": True,
     "feedback_true": {"en": "CHOICE-FEEDBACK true"}, "category": "Vulnerability"},
    {"type": "short_text", "text": {"en": "ST: the EU fingerprint database?"}, "category": "Vulnerability",
     "answers": [{"text": "KEY-ACCEPTED EURODAC"}, {"text": "KEY-ACCEPTED Eurodac system", "credit": 0.5}]},
    {"type": "numeric", "text": {"en": "NU: days to register an application?"}, "category": "Vulnerability",
     "answers": [{"value": 3, "tolerance": 0.5}], "points": 2},
    {"type": "matching", "text": {"en": "MA: match the referral."}, "category": "Vulnerability/Referral",
     "pairs": [{"prompt": {"en": "Torture survivor"}, "match": {"en": "Medical care"}},
               {"prompt": {"en": "Unaccompanied child"}, "match": {"en": "Guardian"}}],
     "distractors": [{"en": "Detention"}]},
    {"type": "ordering", "text": {"en": "OR: order the steps."}, "category": "Vulnerability",
     "items": [{"en": "Making"}, {"en": "Registering"}, {"en": "Lodging"}, {"en": "Interview"}]},
]


def correct_response(question: dict) -> Any:
    """The right answer to a question, from its authoring view (staff)."""
    data, kind = question["data"], question["type"]
    if kind == "single_choice":
        return next(c["id"] for c in data["choices"] if c["correct"])
    if kind == "multiple_response":
        return [c["id"] for c in data["choices"] if c["correct"]]
    if kind == "true_false":
        return data["correct"]
    if kind == "short_text":
        return data["answers"][0]["text"]
    if kind == "numeric":
        return "3,2"  # within the tolerance, with a decimal comma
    if kind == "matching":
        return data["key"]
    if kind == "ordering":
        return [i["id"] for i in data["items"]]
    return "An essay answer"


@pytest.fixture
def world(client, factory):
    """A published course with two assessment modules, a course bank with one question of each
    type, and an instructor (SE)."""
    instructor, ih = factory.signed_in(Role.instructor, "SE")
    course = h.course_with_assessment(client, ih, modules=2)
    bank = h.bank(client, ih, course_id=course["id"])
    questions = [h.question(client, ih, bank["id"], body) for body in ALL_TYPES]
    return {"ih": ih, "instructor": instructor, "course": course, "bank": bank, "questions": questions,
            "by_text": {q["text"]["en"]: q for q in questions}}


def answers_for(world: dict, attempt: dict, *, wrong: set[str] = frozenset()) -> list[dict]:
    """Right answers to every item of an attempt (items whose type is in `wrong` get a wrong one)."""
    out = []
    for item in attempt["items"]:
        question = world["by_text"][item["text"]]
        response = correct_response(question)
        if item["type"] in wrong:
            response = wrong_response(question, response)
        out.append({"item_id": item["id"], "response": response})
    return out


def wrong_response(question: dict, right: Any) -> Any:
    kind, data = question["type"], question["data"]
    if kind == "single_choice":
        return next(c["id"] for c in data["choices"] if not c["correct"])
    if kind == "true_false":
        return not data["correct"]
    if kind == "ordering":
        return list(reversed(right))
    return {"short_text": "nothing", "numeric": 99, "multiple_response": [], "matching": {}}[kind]
