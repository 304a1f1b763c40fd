"""Completion rules as plain functions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from app.courses.models import CompletionRule
from app.enrolments.completion import ProgressState, completion_ratio, course_completed, merge_status, module_satisfied
from app.enrolments.models import ModuleStatus as S

# Does not use the test database: runs once, in the SQLite pass (deselected in the PostgreSQL pass).
pytestmark = pytest.mark.db_independent


@dataclass
class M:
    completion_rule: CompletionRule
    required: bool = True
    min_score: float | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)


@pytest.mark.parametrize(
    "rule,min_score,state,expected",
    [
        (CompletionRule.viewed, None, ProgressState(viewed=True), True),
        (CompletionRule.viewed, None, ProgressState(status=S.completed), True),
        (CompletionRule.viewed, None, ProgressState(status=S.in_progress), False),
        (CompletionRule.completed, None, ProgressState(status=S.passed), True),
        (CompletionRule.completed, None, ProgressState(status=S.failed), False),
        (CompletionRule.completed, None, ProgressState(viewed=True), False),
        (CompletionRule.passed, None, ProgressState(status=S.completed), False),
        (CompletionRule.passed, None, ProgressState(status=S.passed), True),
        (CompletionRule.score, 0.8, ProgressState(status=S.completed, score_scaled=0.8), True),
        (CompletionRule.score, 0.8, ProgressState(status=S.passed, score_scaled=0.79), False),
        (CompletionRule.score, 0.8, ProgressState(status=S.passed), False),
        (CompletionRule.completed, None, None, False),
    ],
)
def test_module_rules(rule, min_score, state, expected):
    assert module_satisfied(rule, min_score, state) is expected


def test_required_modules_decide_and_optional_ones_do_not():
    a, b, opt = M(CompletionRule.viewed), M(CompletionRule.passed), M(CompletionRule.completed, required=False)
    modules = [a, b, opt]
    states = {a.id: ProgressState(viewed=True)}
    assert not course_completed(modules, states)
    assert completion_ratio(modules, states) == 0.5
    states[b.id] = ProgressState(status=S.passed)
    assert course_completed(modules, states)  # the optional module is not needed


def test_when_nothing_is_required_every_module_counts():
    a, b = M(CompletionRule.viewed, required=False), M(CompletionRule.viewed, required=False)
    assert not course_completed([a, b], {a.id: ProgressState(viewed=True)})
    assert course_completed([a, b], {a.id: ProgressState(viewed=True), b.id: ProgressState(viewed=True)})
    assert not course_completed([], {})


@pytest.mark.parametrize(
    "current,reported,expected",
    [
        (S.not_started, S.in_progress, S.in_progress),
        (S.in_progress, S.completed, S.completed),
        (S.completed, S.in_progress, S.completed),
        (S.completed, S.failed, S.failed),
        (S.failed, S.passed, S.passed),
        (S.passed, S.failed, S.passed),
        (S.passed, S.in_progress, S.passed),
    ],
)
def test_status_never_regresses_below_a_pass(current, reported, expected):
    assert merge_status(current, reported) is expected
