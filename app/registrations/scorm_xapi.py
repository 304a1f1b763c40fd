"""SCORM sessions and commits as xAPI statements (ADL SCORM profile, https://w3id.org/xapi/scorm).

The SCO is an activity under the package; context: the registration, the module (lesson) as parent,
the course and the attempt as grouping, the SCORM profile as category. Interactions become
`responded` statements on a `cmi.interaction` activity with the learner's response.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import quote

from app.enrolments import lrs_feed
from app.xapi import recorder

PROFILE = "https://w3id.org/xapi/scorm"
SCO_TYPE = "http://adlnet.gov/expapi/activities/lesson"
ATTEMPT_TYPE = "http://adlnet.gov/expapi/activities/attempt"
INTERACTION_TYPE = "http://adlnet.gov/expapi/activities/cmi.interaction"
_TYPES_2004 = {"true-false", "choice", "fill-in", "long-fill-in", "matching", "performance", "sequencing", "likert", "numeric", "other"}
_TYPES_12 = {"true-false": "true-false", "choice": "choice", "fill-in": "fill-in", "matching": "matching",
             "performance": "performance", "sequencing": "sequencing", "likert": "likert", "numeric": "numeric"}


def sco_activity_id(base_url: str, package_id: uuid.UUID, identifier: str) -> str:
    return f"{base_url}/xapi/activities/packages/{package_id}/units/{quote(identifier, safe='')}"


def duration(cs: int) -> str:
    seconds, hundredths = divmod(max(0, cs), 100)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"PT{hours}H{minutes}M{secs}.{hundredths:02d}S"


class StatementBuilder:
    """Builds the statements of one run-time session."""

    def __init__(self, *, base_url: str, user_id: uuid.UUID, registration_id: uuid.UUID, attempt_id: uuid.UUID,
                 package_id: uuid.UUID, unit_identifier: str, unit_title: dict[str, str], course, module, language: str):
        self.base_url = base_url
        self.actor = recorder.learner_actor(base_url, user_id)
        self.registration = str(registration_id)
        self.sco_id = sco_activity_id(base_url, package_id, unit_identifier)
        name = {k: v for k, v in (unit_title or {}).items() if isinstance(v, str) and v} or {"und": unit_identifier}
        self.sco = {"objectType": "Activity", "id": self.sco_id, "definition": {"type": SCO_TYPE, "name": name}}
        self.context: dict[str, Any] = {
            "registration": self.registration,
            "platform": recorder.PLATFORM_NAME,
            "contextActivities": {
                "parent": [lrs_feed.module_activity(base_url, module)],
                "grouping": [lrs_feed.course_activity(base_url, course),
                             {"objectType": "Activity", "id": f"{self.sco_id}/attempts/{attempt_id}",
                              "definition": {"type": ATTEMPT_TYPE}}],
                "category": [{"objectType": "Activity", "id": PROFILE}],
            },
        }
        if language:
            self.context["language"] = language

    def statement(self, verb: str, now: dt.datetime, *, obj: dict[str, Any] | None = None,
                  result: dict[str, Any] | None = None) -> dict[str, Any]:
        s: dict[str, Any] = {"id": str(uuid.uuid4()), "actor": self.actor, "verb": recorder.verb(verb),
                             "object": obj or self.sco, "context": self.context, "timestamp": recorder.timestamp(now)}
        if result:
            s["result"] = result
        return s

    def outcome_result(self, outcome, *, session_cs: int | None = None) -> dict[str, Any]:
        result: dict[str, Any] = {}
        score: dict[str, Any] = {}
        if outcome.score_scaled is not None:
            score["scaled"] = max(-1.0, min(1.0, outcome.score_scaled))
        raw, lo, hi = outcome.score_raw, outcome.score_min, outcome.score_max
        if raw is not None and (lo is None or raw >= lo) and (hi is None or raw <= hi) and (lo is None or hi is None or lo <= hi):
            score["raw"] = raw
            if lo is not None:
                score["min"] = lo
            if hi is not None:
                score["max"] = hi
        if score:
            result["score"] = score
        if outcome.success in ("passed", "failed"):
            result["success"] = outcome.success == "passed"
        if outcome.completion in ("completed", "incomplete"):
            result["completion"] = outcome.completion == "completed"
        if session_cs is not None:
            result["duration"] = duration(session_cs)
        return result

    def interaction(self, cmi: dict[str, str], index: int, scorm12: bool, now: dt.datetime) -> dict[str, Any] | None:
        prefix = f"cmi.interactions.{index}."
        interaction_id = cmi.get(prefix + "id")
        if not interaction_id:
            return None
        kind = cmi.get(prefix + "type", "")
        interaction_type = _TYPES_12.get(kind) if scorm12 else (kind if kind in _TYPES_2004 else None)
        definition: dict[str, Any] = {"type": INTERACTION_TYPE, "interactionType": interaction_type or "other"}
        description = cmi.get(prefix + "description")
        if description:
            text = description.split("}", 1)[1] if description.startswith("{lang=") and "}" in description else description
            definition["description"] = {"und": text[:250]}
        patterns = []
        n = 0
        while f"{prefix}correct_responses.{n}.pattern" in cmi:
            patterns.append(cmi[f"{prefix}correct_responses.{n}.pattern"])
            n += 1
        if patterns:
            definition["correctResponsesPattern"] = patterns
        obj = {"objectType": "Activity", "id": f"{self.sco_id}/interactions/{quote(interaction_id, safe='')}", "definition": definition}
        result: dict[str, Any] = {}
        response = cmi.get(prefix + ("student_response" if scorm12 else "learner_response"))
        if response is not None:
            result["response"] = response
        outcome = cmi.get(prefix + "result")
        if outcome in ("correct", "wrong", "incorrect"):
            result["success"] = outcome == "correct"
        latency = cmi.get(prefix + "latency")
        if latency and not scorm12:
            result["duration"] = latency
        return self.statement("responded", now, obj=obj, result=result or None)
