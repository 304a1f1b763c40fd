"""Quizzes: the assessment a course module of kind `assessment` plays, and its questions.

A quiz is read by whoever can read its module (learners see their own standing in it); it is
set up by whoever may edit the course. Questions come from the course's banks and the shared
thematic-area banks: fixed questions, and random draws from categories (optionally with
subcategories and tags). A quiz with attempts keeps working when it is edited: each attempt
kept the questions and versions it was given.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.assessments import draws, repository
from app.assessments.models import Quiz, QuizSlot, TestPhase
from app.assessments.schemas import QuizCreate, QuizUpdate, SlotIn
from app.auth.principal import Principal
from app.core.errors import Conflict, NotFound, ValidationFailed, field_error
from app.core.patching import apply_changes
from app.courses import service as courses_service
from app.courses.models import Course, Module, ModuleKind
from app.users.models import Role


class QuizHasAttempts(Conflict):
    code = "quiz-has-attempts"
    title = "Quiz has attempts"


@dataclass
class QuizContext:
    quiz: Quiz
    module: Module
    course: Course


def get_quiz(session: Session, principal: Principal, quiz_id: uuid.UUID) -> QuizContext:
    quiz = repository.get_quiz(session, quiz_id)
    if quiz is None:
        raise NotFound(f"No quiz {quiz_id}.")
    try:
        module, course = courses_service.get_module(session, principal, quiz.module_id)
    except NotFound:
        raise NotFound(f"No quiz {quiz_id}.") from None
    return QuizContext(quiz, module, course)


def get_quiz_of_module(session: Session, principal: Principal, module_id: uuid.UUID) -> QuizContext:
    module, course = courses_service.get_module(session, principal, module_id)
    quiz = repository.quiz_of_module(session, module.id)
    if quiz is None:
        raise NotFound(f"Module {module_id} has no quiz yet.")
    return QuizContext(quiz, module, course)


def can_manage(session: Session, principal: Principal, course_id: uuid.UUID) -> bool:
    return principal.role in (Role.admin, Role.instructor) and courses_service.can_edit(session, principal, course_id)


def editable_quiz(session: Session, principal: Principal, quiz_id: uuid.UUID) -> QuizContext:
    ctx = get_quiz(session, principal, quiz_id)
    courses_service.get_editable_course(session, principal, ctx.course.id)
    return ctx


def _check_settings(session: Session, quiz: Quiz) -> None:
    if quiz.opens_at and quiz.closes_at and quiz.closes_at <= quiz.opens_at:
        raise ValidationFailed("`closes_at` must be after `opens_at`.", errors=[field_error(["body", "closes_at"], "not after opens_at")])
    if quiz.pre_test_id is not None:
        pre = repository.get_quiz(session, quiz.pre_test_id)
        if quiz.test_phase is not TestPhase.post:
            raise ValidationFailed("Only a post-test names a pre-test.", errors=[field_error(["body", "pre_test_id"], "test_phase is not post")])
        if pre is None or pre.id == quiz.id or pre.course_id != quiz.course_id or pre.test_phase is not TestPhase.pre:
            raise ValidationFailed("`pre_test_id` must be a pre-test quiz of the same course.",
                                   errors=[field_error(["body", "pre_test_id"], "not a pre-test of this course")])


def build_slots(session: Session, quiz: Quiz, slots: list[SlotIn]) -> list[QuizSlot]:
    """Check the slots against the banks the course may use; refuse draws that cannot be filled."""
    usable = repository.banks_usable_in_course(quiz.course_id)
    fixed_ids = [s.question_id for s in slots if s.question_id is not None]
    questions = repository.live_questions(session, fixed_ids, usable)
    categories = repository.usable_categories(session, [s.category_id for s in slots if s.category_id is not None], usable)
    errors = []
    seen: set[uuid.UUID] = set()
    for index, slot in enumerate(slots):
        if slot.question_id is not None:
            if slot.question_id not in questions:
                errors.append(field_error(["body", "slots", index, "question_id"], "no such live question in the banks of this course"))
            elif slot.question_id in seen:
                errors.append(field_error(["body", "slots", index, "question_id"], "the question is in the quiz twice"))
            seen.add(slot.question_id)
        elif slot.category_id not in categories:
            errors.append(field_error(["body", "slots", index, "category_id"], "no such category in the banks of this course"))
    if errors:
        raise ValidationFailed("Some slots cannot be used.", errors=errors)
    built = [
        QuizSlot(quiz_id=quiz.id, position=n, question_id=s.question_id, category_id=s.category_id, draw_count=s.count,
                 include_subcategories=s.include_subcategories, tags=list(dict.fromkeys(s.tags)), points=s.points)
        for n, s in enumerate(slots, start=1)
    ]
    try:
        draws.draw_questions(0, slot_specs(session, built), shuffle=False)
    except draws.NotEnoughQuestions as exc:
        raise ValidationFailed(str(exc).capitalize() + ".",
                               errors=[field_error(["body", "slots", exc.slot_position - 1, "count"], str(exc))]) from None
    return built


def slot_specs(session: Session, slots: list[QuizSlot]) -> list[draws.SlotSpec]:
    categories = repository.categories_by_id(session, [s.category_id for s in slots if s.category_id])
    specs = []
    for s in slots:
        if s.question_id is not None:
            specs.append(draws.SlotSpec(position=s.position, question_id=s.question_id))
        else:
            pool = repository.pool(session, [categories[s.category_id]], s.tags, subcategories=s.include_subcategories)
            specs.append(draws.SlotSpec(position=s.position, pool=pool, count=s.draw_count))
    return specs


def create_quiz(session: Session, principal: Principal, data: QuizCreate, now: dt.datetime) -> QuizContext:
    module, course = courses_service.get_module(session, principal, data.module_id)
    courses_service.get_editable_course(session, principal, course.id)
    if module.kind is not ModuleKind.assessment:
        raise ValidationFailed("Quizzes are played by modules of kind `assessment`.",
                               errors=[field_error(["body", "module_id"], f"the module is a {module.kind.value}")])
    if repository.quiz_of_module(session, module.id) is not None:
        raise Conflict("This module has a quiz already; edit it instead.")
    settings = data.model_dump(exclude={"module_id", "slots"})
    quiz = Quiz(module_id=module.id, course_id=course.id, created_by_id=principal.user_id, created_at=now, updated_at=now, **settings)
    _check_settings(session, quiz)
    repository.add(session, quiz)
    if data.slots:
        repository.add(session, *build_slots(session, quiz, data.slots))
    return QuizContext(quiz, module, course)


def update_quiz(session: Session, principal: Principal, quiz_id: uuid.UUID, data: QuizUpdate, now: dt.datetime) -> QuizContext:
    ctx = editable_quiz(session, principal, quiz_id)
    changes = data.model_dump(exclude_unset=True)
    nullable = frozenset({"time_limit_seconds", "opens_at", "closes_at", "max_attempts", "passing_score", "test_phase", "pre_test_id"})
    if apply_changes(ctx.quiz, changes, nullable=nullable):
        ctx.quiz.updated_at = now
    _check_settings(session, ctx.quiz)
    session.flush()
    return ctx


def set_slots(session: Session, principal: Principal, quiz_id: uuid.UUID, slots: list[SlotIn], now: dt.datetime) -> QuizContext:
    ctx = editable_quiz(session, principal, quiz_id)
    repository.replace_slots(session, ctx.quiz.id, build_slots(session, ctx.quiz, slots))
    ctx.quiz.updated_at = now
    session.flush()
    return ctx


def delete_quiz(session: Session, principal: Principal, quiz_id: uuid.UUID) -> None:
    ctx = editable_quiz(session, principal, quiz_id)
    if repository.quiz_has_attempts(session, ctx.quiz.id):
        raise QuizHasAttempts("Learners have attempts on this quiz; it is kept for their results.")
    session.delete(ctx.quiz)
    session.flush()


def slots_of(session: Session, quiz: Quiz) -> list[QuizSlot]:
    return repository.slots(session, quiz.id)


def question_count(slots: list[QuizSlot]) -> int:
    return sum(s.draw_count if s.category_id else 1 for s in slots)

