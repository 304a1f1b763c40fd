"""Grading, as plain functions (no I/O): checking a response's shape, the credit it earns
(0..1 of the question's points), and the grade of a quiz across attempts.

Rules worth knowing:
- An empty response (nothing chosen, blank text) earns 0 and counts as unanswered.
- Multiple response, partial scoring: right selected / right choices - wrong selected / wrong
  choices, never below 0 (Moodle's weights 100/right and -100/wrong give the same result); so
  ticking every box earns 0.
- Short text: Unicode NFKC, then the whitespace rule (collapse: trim and single spaces; ignore:
  no spaces at all; exact), then case folding unless case-sensitive. The best matching accepted
  answer's credit counts.
- Numeric: "3.5", "3,5" and "1 500" are read; |response - value| <= tolerance (inclusive, with a
  relative epsilon for binary floating point); the best matching answer counts.
- Matching, partial: prompts matched correctly / prompts.
- Ordering, partial: (longest subsequence in the correct relative order - 1) / (items - 1), so a
  reversed order earns 0 and one misplaced item in five earns 0.75.
- Essay: graded by an instructor (credit None until then); a blank essay earns 0 at once.
"""

from __future__ import annotations

import bisect
import math
import re
import statistics
import unicodedata
from dataclasses import dataclass
from typing import Any

from app.assessments.models import GradingMethod, QuestionType

MAX_SHORT_TEXT = 500
MAX_ESSAY = 20000
_SPACES = re.compile(r"\s+", re.UNICODE)
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+)(?:[eE][+-]?\d{1,3})?$")


class ResponseInvalid(ValueError):
    """The response does not fit the question (unknown choice, wrong shape): a client error."""


@dataclass(frozen=True)
class Outcome:
    credit: float | None  # None: waits for manual grading
    answered: bool


# Shape -------------------------------------------------------------------------------------


def check_response(qtype: QuestionType, data: dict[str, Any], response: Any) -> Any:
    """Validate a response against the question; returns it normalised (None clears it)."""
    if response is None:
        return None
    if isinstance(response, str) and "\x00" in response:
        raise ResponseInvalid("a text may not contain a NUL character")
    if qtype is QuestionType.single_choice:
        ids = {c["id"] for c in data["choices"]}
        if not isinstance(response, str) or response not in ids:
            raise ResponseInvalid("expected the id of one of the choices")
        return response
    if qtype is QuestionType.multiple_response:
        ids = {c["id"] for c in data["choices"]}
        if not isinstance(response, list) or not all(isinstance(r, str) and r in ids for r in response):
            raise ResponseInvalid("expected a list of choice ids")
        if len(set(response)) != len(response):
            raise ResponseInvalid("a choice is listed twice")
        return response
    if qtype is QuestionType.true_false:
        if not isinstance(response, bool):
            raise ResponseInvalid("expected true or false")
        return response
    if qtype is QuestionType.short_text:
        if not isinstance(response, str) or len(response) > MAX_SHORT_TEXT:
            raise ResponseInvalid(f"expected a text of at most {MAX_SHORT_TEXT} characters")
        return response
    if qtype is QuestionType.numeric:
        if isinstance(response, bool) or not isinstance(response, (int, float, str)):
            raise ResponseInvalid("expected a number")
        if isinstance(response, float) and not math.isfinite(response):
            raise ResponseInvalid("expected a finite number")
        if isinstance(response, str) and len(response) > 50:
            raise ResponseInvalid("expected a number of at most 50 characters")
        return response
    if qtype is QuestionType.matching:
        prompts = {p["id"] for p in data["prompts"]}
        matches = {m["id"] for m in data["matches"]}
        if not isinstance(response, dict):
            raise ResponseInvalid("expected an object mapping prompt ids to match ids")
        for prompt, match in response.items():
            if prompt not in prompts:
                raise ResponseInvalid(f"{prompt!r} is not a prompt of this question")
            if match is not None and (not isinstance(match, str) or match not in matches):
                raise ResponseInvalid(f"{match!r} is not a match of this question")
        return {p: m for p, m in response.items() if m is not None}
    if qtype is QuestionType.ordering:
        ids = [i["id"] for i in data["items"]]
        if not isinstance(response, list) or sorted(map(str, response)) != sorted(ids) or not all(isinstance(r, str) for r in response):
            raise ResponseInvalid("expected every item id once, in the chosen order")
        return response
    if not isinstance(response, str) or len(response) > MAX_ESSAY:
        raise ResponseInvalid(f"expected a text of at most {MAX_ESSAY} characters")
    return response


# Credit ------------------------------------------------------------------------------------


def normalise_text(value: str, *, case_sensitive: bool, whitespace: str) -> str:
    text = unicodedata.normalize("NFKC", value)
    if whitespace == "collapse":
        text = _SPACES.sub(" ", text).strip()
    elif whitespace == "ignore":
        text = _SPACES.sub("", text)
    return text if case_sensitive else text.casefold()


def parse_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = _SPACES.sub("", unicodedata.normalize("NFKC", value)).replace("\u2212", "-")
    if not _NUMBER.match(text):
        return None
    number = float(text.replace(",", "."))
    return number if math.isfinite(number) else None


def within(number: float, value: float, tolerance: float) -> bool:
    epsilon = 1e-9 * max(1.0, abs(value))
    return abs(number - value) <= tolerance + epsilon


def longest_ordered(positions: list[int]) -> int:
    """Length of the longest strictly increasing subsequence."""
    tails: list[int] = []
    for p in positions:
        i = bisect.bisect_left(tails, p)
        if i == len(tails):
            tails.append(p)
        else:
            tails[i] = p
    return len(tails)


def is_blank(response: Any) -> bool:
    return response is None or response == [] or response == {} or (isinstance(response, str) and not response.strip())


def grade(qtype: QuestionType, data: dict[str, Any], response: Any) -> Outcome:
    if is_blank(response):
        return Outcome(credit=0.0, answered=False)
    if qtype is QuestionType.single_choice:
        credit = next((c["credit"] for c in data["choices"] if c["id"] == response), 0.0)
        return Outcome(credit=float(credit), answered=True)
    if qtype is QuestionType.multiple_response:
        right = {c["id"] for c in data["choices"] if c["correct"]}
        wrong = {c["id"] for c in data["choices"] if not c["correct"]}
        chosen = set(response)
        if data["scoring"] == "all_or_nothing":
            return Outcome(credit=1.0 if chosen == right else 0.0, answered=True)
        score = len(chosen & right) / len(right) - (len(chosen & wrong) / len(wrong) if wrong else 0.0)
        return Outcome(credit=round(max(0.0, score), 6), answered=True)
    if qtype is QuestionType.true_false:
        return Outcome(credit=1.0 if response is data["correct"] else 0.0, answered=True)
    if qtype is QuestionType.short_text:
        rules = {"case_sensitive": data["case_sensitive"], "whitespace": data["whitespace"]}
        given = normalise_text(response, **rules)
        credits = [a["credit"] for a in data["answers"] if normalise_text(a["text"], **rules) == given]
        return Outcome(credit=float(max(credits, default=0.0)), answered=True)
    if qtype is QuestionType.numeric:
        number = parse_number(response)
        if number is None:
            return Outcome(credit=0.0, answered=True)
        credits = [a["credit"] for a in data["answers"] if within(number, a["value"], a["tolerance"])]
        return Outcome(credit=float(max(credits, default=0.0)), answered=True)
    if qtype is QuestionType.matching:
        key: dict[str, str] = data["key"]
        right = sum(1 for prompt, match in response.items() if key.get(prompt) == match)
        if data["scoring"] == "all_or_nothing":
            return Outcome(credit=1.0 if right == len(key) else 0.0, answered=True)
        return Outcome(credit=round(right / len(key), 6), answered=True)
    if qtype is QuestionType.ordering:
        correct = [i["id"] for i in data["items"]]
        if list(response) == correct:
            return Outcome(credit=1.0, answered=True)
        if data["scoring"] == "all_or_nothing" or sorted(response) != sorted(correct):
            return Outcome(credit=0.0, answered=True)
        rank = {item: n for n, item in enumerate(correct)}
        run = longest_ordered([rank[i] for i in response])
        return Outcome(credit=round((run - 1) / (len(correct) - 1), 6), answered=True)
    return Outcome(credit=None, answered=True)  # essay


def correct_response(qtype: QuestionType, data: dict[str, Any]) -> Any:
    """The answer key in the shape of a response (for reviews that show correct answers)."""
    if qtype is QuestionType.single_choice:
        return [c["id"] for c in data["choices"] if c["correct"]]
    if qtype is QuestionType.multiple_response:
        return [c["id"] for c in data["choices"] if c["correct"]]
    if qtype is QuestionType.true_false:
        return data["correct"]
    if qtype is QuestionType.short_text:
        return [a["text"] for a in data["answers"] if a["credit"] == 1]
    if qtype is QuestionType.numeric:
        return [{"value": a["value"], "tolerance": a["tolerance"]} for a in data["answers"] if a["credit"] == 1]
    if qtype is QuestionType.matching:
        return dict(data["key"])
    if qtype is QuestionType.ordering:
        return [i["id"] for i in data["items"]]
    return None


def response_feedback(qtype: QuestionType, data: dict[str, Any], response: Any) -> list[dict[str, str]]:
    """Feedback attached to what the learner answered (chosen choices, matching accepted answer)."""
    if is_blank(response):
        return []
    if qtype is QuestionType.single_choice:
        return [c["feedback"] for c in data["choices"] if c["id"] == response and c.get("feedback")]
    if qtype is QuestionType.multiple_response:
        chosen = set(response)
        return [c["feedback"] for c in data["choices"] if c["id"] in chosen and c.get("feedback")]
    if qtype is QuestionType.true_false:
        text = data.get("feedback_true" if response else "feedback_false")
        return [text] if text else []
    if qtype is QuestionType.short_text:
        rules = {"case_sensitive": data["case_sensitive"], "whitespace": data["whitespace"]}
        given = normalise_text(response, **rules)
        return [a["feedback"] for a in data["answers"] if a.get("feedback") and normalise_text(a["text"], **rules) == given][:1]
    if qtype is QuestionType.numeric:
        number = parse_number(response)
        if number is None:
            return []
        hits = sorted((a for a in data["answers"] if within(number, a["value"], a["tolerance"])), key=lambda a: -a["credit"])
        return [hits[0]["feedback"]] if hits and hits[0].get("feedback") else []
    return []


# Across attempts ---------------------------------------------------------------------------


def quiz_grade(method: GradingMethod, scores: list[float]) -> float | None:
    """The quiz grade from the scaled scores of graded attempts, in attempt order."""
    if not scores:
        return None
    if method is GradingMethod.highest:
        return max(scores)
    if method is GradingMethod.first:
        return scores[0]
    if method is GradingMethod.last:
        return scores[-1]
    return round(statistics.fmean(scores), 6)


def scaled(raw: float, maximum: float) -> float:
    return round(raw / maximum, 6) if maximum > 0 else 0.0
