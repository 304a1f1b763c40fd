"""What a SCO's CMI data means for the LMS: completion, success and score of the unit.

SCORM 1.2: `cmi.core.lesson_status` as reported, except that with a mastery score (and credit)
the raw score decides passed/failed; passed and failed both count as completed; "not attempted"
stays not attempted (never auto-completed). SCORM 2004: a completion threshold with a progress
measure decides completed/incomplete (without a progress measure the status is unknown), and a
scaled passing score with a scaled score decides passed/failed (unknown without a score).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    completion: str  # completed | incomplete | not attempted | unknown
    success: str  # passed | failed | unknown
    score_scaled: float | None  # -1..1 (2004) or 0..1 (1.2, derived)
    score_raw: float | None = None
    score_min: float | None = None
    score_max: float | None = None

    @property
    def done(self) -> bool:
        return self.completion == "completed" or self.success in ("passed", "failed")


def _number(value: str | None) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def outcome_12(cmi: dict[str, str], *, mastery_score: float | None, credit: str = "credit") -> Outcome:
    status = cmi.get("cmi.core.lesson_status", "not attempted") or "not attempted"
    raw = _number(cmi.get("cmi.core.score.raw"))
    lo = _number(cmi.get("cmi.core.score.min"))
    hi = _number(cmi.get("cmi.core.score.max"))
    scaled = None
    if raw is not None:
        if hi is not None and lo is not None and hi > lo:
            scaled = (raw - lo) / (hi - lo)
        elif hi is not None and hi > 0:
            scaled = raw / hi
        else:
            scaled = raw / 100.0
        scaled = min(1.0, max(0.0, scaled))
    if credit == "credit" and mastery_score is not None and raw is not None and status != "not attempted":
        status = "passed" if raw >= mastery_score else "failed"
    completion, success = {
        "passed": ("completed", "passed"),
        "failed": ("completed", "failed"),
        "completed": ("completed", "unknown"),
        "incomplete": ("incomplete", "unknown"),
        "browsed": ("incomplete", "unknown"),
    }.get(status, ("not attempted", "unknown"))
    return Outcome(completion, success, scaled, raw, lo, hi)


def outcome_2004(cmi: dict[str, str], *, completion_threshold: float | None, scaled_passing_score: float | None) -> Outcome:
    completion = cmi.get("cmi.completion_status", "unknown") or "unknown"
    progress = _number(cmi.get("cmi.progress_measure"))
    if completion_threshold is not None:
        completion = "unknown" if progress is None else ("completed" if progress >= completion_threshold else "incomplete")
    success = cmi.get("cmi.success_status", "unknown") or "unknown"
    scaled = _number(cmi.get("cmi.score.scaled"))
    if scaled_passing_score is not None:
        success = "unknown" if scaled is None else ("passed" if scaled >= scaled_passing_score else "failed")
    return Outcome(completion, success, scaled, _number(cmi.get("cmi.score.raw")), _number(cmi.get("cmi.score.min")),
                   _number(cmi.get("cmi.score.max")))


def module_status(outcome: Outcome) -> str:
    """The catalogue's module status for a unit or attempt outcome."""
    if outcome.success in ("passed", "failed"):
        return outcome.success
    if outcome.completion == "completed":
        return "completed"
    return "in_progress"
