"""Completion rules, as plain functions (no I/O): when a module counts as done, and when the
course does."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from app.courses.models import CompletionRule
from app.enrolments.models import ModuleStatus

DONE = (ModuleStatus.completed, ModuleStatus.passed)
# Status never moves down this order: a later failed attempt does not undo a pass.
RANK = {
    ModuleStatus.not_started: 0,
    ModuleStatus.in_progress: 1,
    ModuleStatus.failed: 2,
    ModuleStatus.completed: 3,
    ModuleStatus.passed: 4,
}


class ModuleLike(Protocol):
    id: uuid.UUID
    required: bool
    completion_rule: CompletionRule
    min_score: float | None


@dataclass(frozen=True)
class ProgressState:
    status: ModuleStatus = ModuleStatus.not_started
    viewed: bool = False
    score_scaled: float | None = None


def merge_status(current: ModuleStatus, reported: ModuleStatus) -> ModuleStatus:
    """The status after a report: completed may become passed or failed; passed stays passed."""
    if current is ModuleStatus.passed:
        return current
    if current is ModuleStatus.completed and reported in (ModuleStatus.passed, ModuleStatus.failed):
        return reported
    if current is ModuleStatus.failed and reported is ModuleStatus.passed:
        return reported
    return reported if RANK[reported] > RANK[current] else current


def module_satisfied(rule: CompletionRule, min_score: float | None, state: ProgressState | None) -> bool:
    if state is None:
        return False
    if rule is CompletionRule.viewed:
        return state.viewed or state.status in DONE
    if rule is CompletionRule.completed:
        return state.status in DONE
    if rule is CompletionRule.passed:
        return state.status is ModuleStatus.passed
    return state.score_scaled is not None and min_score is not None and state.score_scaled >= min_score - 1e-9


def counted_modules(modules: list[ModuleLike]) -> list[ModuleLike]:
    """The modules that decide completion: the required ones, or all when none is required."""
    required = [m for m in modules if m.required]
    return required or list(modules)


def course_completed(modules: list[ModuleLike], states: dict[uuid.UUID, ProgressState]) -> bool:
    """`states` maps module id -> state. A course without modules is never complete."""
    counted = counted_modules(modules)
    return bool(counted) and all(
        module_satisfied(m.completion_rule, m.min_score, states.get(m.id)) for m in counted
    )


def completion_ratio(modules: list[ModuleLike], states: dict[uuid.UUID, ProgressState]) -> float:
    counted = counted_modules(modules)
    if not counted:
        return 0.0
    done = sum(module_satisfied(m.completion_rule, m.min_score, states.get(m.id)) for m in counted)
    return done / len(counted)
