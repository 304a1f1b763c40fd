"""xAPI statements of an attempt, recorded in the platform's LRS.

Per attempt (context.registration = the attempt id): `attempted` the quiz when it starts;
`answered` each answered question, with a cmi.interaction activity definition and the response
in the xAPI response-pattern syntax; and the outcome: `passed`/`failed` (quizzes with a passing
score) or `completed`, with the score (scaled, raw, min, max), success, completion and duration.
An attempt waiting for essay grading gets `completed` at submission and its outcome when graded.

The quiz is an activity under the platform's base URL (parent: the module; grouping: the course).
Questions are activities of their quiz and version (parent: the quiz; grouping: the course).

The LRS lets any signed-in user read activity definitions and learners read their own statements,
so the answer key goes where the quiz's review already shows it: `correctResponsesPattern` only
when the review right after submitting shows correct answers, per-question scores only when it
shows marks. Statement ids derive from the attempt, so recording again is harmless.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.orm import Session

from app.assessments import grading
from app.assessments.models import AttemptItem, QuestionType, QuestionVersion, Quiz, QuizAttempt
from app.core.db import public_base_url
from app.courses import service as courses_service
from app.courses.models import Module
from app.enrolments import lrs_feed
from app.xapi import recorder

_NAMESPACE = uuid.UUID("0b7d6c52-2f7e-4a51-9f0a-6a1d8c1e4b77")
ASSESSMENT_TYPE = "http://adlnet.gov/expapi/activities/assessment"
INTERACTION_TYPE = "http://adlnet.gov/expapi/activities/cmi.interaction"
INTERACTIONS = {
    QuestionType.single_choice: "choice",
    QuestionType.multiple_response: "choice",
    QuestionType.true_false: "true-false",
    QuestionType.short_text: "fill-in",
    QuestionType.numeric: "numeric",
    QuestionType.matching: "matching",
    QuestionType.ordering: "sequencing",
    QuestionType.essay: "long-fill-in",
}


def statement_id(attempt_id: uuid.UUID, *parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, ":".join([str(attempt_id), *map(str, parts)])))


def duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    fraction = round(seconds - int(seconds), 2)
    text = "PT"
    if hours:
        text += f"{hours}H"
    if minutes:
        text += f"{minutes}M"
    secs_text = f"{secs + fraction:.2f}".rstrip("0").rstrip(".")
    return text + f"{secs_text}S"


def _map(value: dict[str, Any] | None) -> dict[str, str]:
    return {tag: text for tag, text in (value or {}).items() if isinstance(text, str) and text}


def quiz_activity(base_url: str, quiz: Quiz, module: Module) -> dict[str, Any]:
    definition: dict[str, Any] = {"type": ASSESSMENT_TYPE, "name": _map(module.title)}
    if quiz.intro:
        definition["description"] = _map(quiz.intro)
    return {"objectType": "Activity", "id": f"{base_url}/xapi/activities/quizzes/{quiz.id}", "definition": definition}


def _components(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": e["id"], "description": _map(e["text"])} for e in entries]


def _number(value: float) -> str:
    return repr(float(value)).removesuffix(".0") if float(value).is_integer() else repr(float(value))


def correct_patterns(qtype: QuestionType, data: dict[str, Any]) -> list[str]:
    if qtype is QuestionType.single_choice:
        return [c["id"] for c in data["choices"] if c["correct"]]
    if qtype is QuestionType.multiple_response:
        return ["[,]".join(c["id"] for c in data["choices"] if c["correct"])]
    if qtype is QuestionType.true_false:
        return ["true" if data["correct"] else "false"]
    if qtype is QuestionType.short_text:
        prefix = "{case_matters=true}" if data["case_sensitive"] else ""
        return [prefix + a["text"] for a in data["answers"] if a["credit"] == 1]
    if qtype is QuestionType.numeric:
        patterns = []
        for a in data["answers"]:
            if a["credit"] == 1:
                low, high = a["value"] - a["tolerance"], a["value"] + a["tolerance"]
                patterns.append(_number(a["value"]) if a["tolerance"] == 0 else f"{_number(low)}[:]{_number(high)}")
        return patterns
    if qtype is QuestionType.matching:
        return ["[,]".join(f"{p}[.]{m}" for p, m in data["key"].items())]
    if qtype is QuestionType.ordering:
        return ["[,]".join(i["id"] for i in data["items"])]
    return []


def question_activity(base_url: str, quiz: Quiz, version: QuestionVersion, *, with_key: bool) -> dict[str, Any]:
    qtype, data = version.type, version.data
    definition: dict[str, Any] = {
        "type": INTERACTION_TYPE,
        "name": {"und": version.name},
        "description": _map(version.text),
        "interactionType": INTERACTIONS[qtype],
    }
    if qtype in (QuestionType.single_choice, QuestionType.multiple_response):
        definition["choices"] = _components(data["choices"])
    elif qtype is QuestionType.matching:
        definition["source"] = _components(data["prompts"])
        definition["target"] = _components(data["matches"])
    elif qtype is QuestionType.ordering:
        definition["choices"] = _components(data["items"])
    if with_key:
        patterns = correct_patterns(qtype, data)
        if patterns:
            definition["correctResponsesPattern"] = patterns
    return {
        "objectType": "Activity",
        "id": f"{base_url}/xapi/activities/quizzes/{quiz.id}/questions/{version.question_id}/versions/{version.version}",
        "definition": definition,
    }


def response_pattern(qtype: QuestionType, response: Any) -> str:
    if qtype is QuestionType.single_choice:
        return str(response)
    if qtype in (QuestionType.multiple_response, QuestionType.ordering):
        return "[,]".join(response)
    if qtype is QuestionType.true_false:
        return "true" if response else "false"
    if qtype is QuestionType.numeric:
        number = grading.parse_number(response)
        return _number(number) if number is not None else str(response)
    if qtype is QuestionType.matching:
        return "[,]".join(f"{p}[.]{m}" for p, m in response.items())
    return str(response)


class AttemptStatements:
    """Builds the statements of one attempt; `record` stores a batch in the LRS."""

    def __init__(self, session: Session, quiz: Quiz, attempt: QuizAttempt):
        self.session = session
        self.base_url = public_base_url(session)
        self.quiz = quiz
        self.attempt = attempt
        self.module = courses_service.module_by_id(session, quiz.module_id)
        self.course = courses_service.courses_by_id(session, [quiz.course_id])[quiz.course_id]
        self.quiz_activity = quiz_activity(self.base_url, quiz, self.module)
        self.course_activity = lrs_feed.course_activity(self.base_url, self.course)

    def _statement(self, sid: str, verb: str, obj: dict[str, Any], when: dt.datetime, parent: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": sid,
            "actor": recorder.learner_actor(self.base_url, self.attempt.user_id),
            "verb": recorder.verb(verb),
            "object": obj,
            "timestamp": recorder.timestamp(when),
            "context": {
                "registration": str(self.attempt.id),
                "platform": recorder.PLATFORM_NAME,
                "contextActivities": {"parent": [parent], "grouping": [self.course_activity]},
            },
        }

    def attempted(self) -> dict[str, Any]:
        module_activity = lrs_feed.module_activity(self.base_url, self.module)
        return self._statement(statement_id(self.attempt.id, "attempted"), "attempted", self.quiz_activity,
                               self.attempt.started_at, module_activity)

    def answered(self, item: AttemptItem, version: QuestionVersion) -> dict[str, Any]:
        review = set(self.quiz.review_after_submit)
        activity = question_activity(self.base_url, self.quiz, version, with_key="correct_answers" in review)
        when = item.saved_at or self.attempt.submitted_at or self.attempt.started_at
        s = self._statement(statement_id(self.attempt.id, "answered", item.id), "answered", activity, when, self.quiz_activity)
        result: dict[str, Any] = {"response": response_pattern(version.type, item.response)}
        if review & {"marks", "correct_answers"} and item.score is not None:
            result["score"] = {"raw": item.score, "min": 0, "max": item.points,
                               "scaled": grading.scaled(item.score, item.points)}
            result["success"] = item.credit == 1
        s["result"] = result
        return s

    def outcome(self, *, when: dt.datetime, graded: bool, at_submission: bool) -> dict[str, Any]:
        """The attempt's outcome. Graded later (essays) or graded again, it is a new statement."""
        a = self.attempt
        module_activity = lrs_feed.module_activity(self.base_url, self.module)
        result: dict[str, Any] = {"completion": True, "duration": duration(a.time_spent_seconds or 0)}
        if not graded:
            verb, sid = "completed", statement_id(a.id, "completed")
        else:
            result["score"] = {"scaled": a.score_scaled, "raw": a.score_raw, "min": 0, "max": a.score_max}
            if a.passed is not None:
                verb = "passed" if a.passed else "failed"
                result["success"] = a.passed
            else:
                verb = "completed" if at_submission else "scored"
            sid = statement_id(a.id, verb, a.graded_at.isoformat() if a.graded_at else "")
        statement = self._statement(sid, verb, self.quiz_activity, when, module_activity)
        statement["result"] = result
        return statement

    def record(self, batch: list[dict[str, Any]], now: dt.datetime) -> None:
        recorder.record(self.session, batch, base_url=self.base_url, now=now)
