"""Attempts: start (draws and shuffles fixed), autosave, resume, submit, server-side grading,
the time limit, manual grading of essays, and the results sent to progress and the LRS.

Time: an attempt closes at the end of its time limit or when the quiz closes, whichever is first.
Answers arriving later are refused (409 `attempt-closed`). An attempt found open past that moment
is closed there and graded with the answers saved before it: on every read or write touching it
(the learner's, a teacher's, a report's) and by `close_expired`, which the sweeper runs
periodically, so it happens even if the learner never comes back.

Concurrency: writes lock the attempt row (PostgreSQL `FOR UPDATE`; SQLite serialises writing
transactions), and grading only happens to an attempt still in progress, so two simultaneous
submissions grade it once; the second answers with the same result.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.assessments import draws, grading, quiz_service, repository
from app.assessments.models import (
    AttemptItem,
    AttemptStatus,
    FinishReason,
    QuestionVersion,
    Quiz,
    QuizAttempt,
)
from app.assessments.quiz_service import QuizContext
from app.assessments.schemas import AnswerIn
from app.assessments.xapi import AttemptStatements
from app.auth.principal import Principal
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from app.core.pagination import decode_keyset, keyset_page
from app.courses import service as courses_service
from app.enrolments import service as enrolments_service
from app.enrolments.models import ModuleStatus
from app.enrolments.schemas import ProgressReport
from app.users.models import Role

log = logging.getLogger("rmtc.assessments")


class AttemptClosed(Conflict):
    code = "attempt-closed"
    title = "Attempt closed"
    # Closing an expired attempt (and grading it) stands although the late request is refused.
    commit_session = True


class QuizNotOpen(Conflict):
    code = "quiz-not-open"
    title = "Quiz not open"


class NoAttemptsLeft(Conflict):
    code = "no-attempts-left"
    title = "No attempts left"


class NotEnrolled(Conflict):
    code = "not-enrolled"
    title = "Not enrolled"


class QuizUnavailable(Conflict):
    code = "quiz-unavailable"
    title = "Quiz cannot be taken"


# Time ---------------------------------------------------------------------------------------


def deadline(quiz: Quiz, attempt: QuizAttempt) -> dt.datetime | None:
    candidates = [t for t in (attempt.deadline_at, quiz.closes_at) if t is not None]
    return min(candidates) if candidates else None


def seconds_left(quiz: Quiz, attempt: QuizAttempt, now: dt.datetime) -> int | None:
    end = deadline(quiz, attempt)
    if attempt.status is not AttemptStatus.in_progress or end is None:
        return None
    return max(0, int((end - now).total_seconds()))


def _expired(quiz: Quiz, attempt: QuizAttempt, now: dt.datetime) -> bool:
    end = deadline(quiz, attempt)
    return attempt.status is AttemptStatus.in_progress and end is not None and now >= end


def close_expired(
    session: Session, now: dt.datetime, *, quiz_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None, limit: int = 200
) -> int:
    """Close and grade attempts left open past their deadline; returns how many."""
    closed = 0
    for attempt in repository.claim_expired(session, now, quiz_id=quiz_id, user_id=user_id, limit=limit):
        quiz = repository.get_quiz(session, attempt.quiz_id)
        if _expired(quiz, attempt, now):
            _close_at_deadline(session, quiz, attempt, now)
            closed += 1
    return closed


def _close_at_deadline(session: Session, quiz: Quiz, attempt: QuizAttempt, now: dt.datetime) -> None:
    end = deadline(quiz, attempt)
    reason = FinishReason.time_limit if attempt.deadline_at is not None and attempt.deadline_at == end else FinishReason.quiz_closed
    _finish(session, quiz, attempt, now=now, submitted_at=end, reason=reason)


# Starting -----------------------------------------------------------------------------------


def _enrolled(session: Session, principal: Principal, course_id: uuid.UUID) -> bool:
    return any(e.course_id == course_id for e in enrolments_service.my_enrolments(session, principal))


@dataclass
class Standing:
    enrolled: bool
    attempts: list[QuizAttempt]
    open_attempt: QuizAttempt | None
    reason: str | None


def standing(session: Session, principal: Principal, ctx: QuizContext, now: dt.datetime) -> Standing:
    """The caller's attempts on the quiz and whether a new one may start (expired ones closed first)."""
    close_expired(session, now, quiz_id=ctx.quiz.id, user_id=principal.user_id)
    quiz = ctx.quiz
    attempts = repository.user_attempts(session, quiz.id, principal.user_id)
    open_attempt = next((a for a in attempts if a.status is AttemptStatus.in_progress), None)
    enrolled = _enrolled(session, principal, ctx.course.id)
    reason = None
    if open_attempt is None:
        if not enrolled:
            reason = "not_enrolled"
        elif quiz.opens_at is not None and now < quiz.opens_at:
            reason = "not_open"
        elif quiz.closes_at is not None and now >= quiz.closes_at:
            reason = "closed"
        elif quiz.max_attempts is not None and len(attempts) >= quiz.max_attempts:
            reason = "no_attempts_left"
        elif not quiz_service.slots_of(session, quiz):
            reason = "no_questions"
    return Standing(enrolled, attempts, open_attempt, reason)


def start(session: Session, principal: Principal, quiz_id: uuid.UUID, now: dt.datetime) -> tuple[QuizAttempt, bool]:
    """Start an attempt, or resume the caller's open one. Returns (attempt, created)."""
    ctx = quiz_service.get_quiz(session, principal, quiz_id)
    quiz = ctx.quiz
    state = standing(session, principal, ctx, now)
    if state.open_attempt is not None:
        return state.open_attempt, False
    if state.reason == "not_enrolled":
        raise NotEnrolled("Enrol in the course to take its assessments.")
    if state.reason == "not_open":
        raise QuizNotOpen(f"The quiz opens at {quiz.opens_at.isoformat()}.")
    if state.reason == "closed":
        raise QuizNotOpen(f"The quiz closed at {quiz.closes_at.isoformat()}.")
    if state.reason == "no_attempts_left":
        raise NoAttemptsLeft(f"You have used all {quiz.max_attempts} attempt(s) of this quiz.")
    if state.reason == "no_questions":
        raise QuizUnavailable("The quiz has no questions yet.")
    seed = draws.new_seed()
    slots = quiz_service.slots_of(session, quiz)
    try:
        drawn = draws.draw_questions(seed, quiz_service.slot_specs(session, slots), shuffle=quiz.shuffle_questions)
    except draws.NotEnoughQuestions as exc:
        raise QuizUnavailable(f"The quiz cannot be drawn: {exc}; ask the instructor.") from None
    questions = repository.live_questions(session, [qid for _, qid in drawn], repository.banks_usable_in_course(quiz.course_id))
    if len(questions) != len(drawn):
        raise QuizUnavailable("A question of the quiz was archived; ask the instructor to update the quiz.")
    versions = repository.current_versions(session, list(questions.values()))
    attempt = QuizAttempt(
        quiz_id=quiz.id, user_id=principal.user_id, number=max((a.number for a in state.attempts), default=0) + 1,
        status=AttemptStatus.in_progress, seed=seed, started_at=now, score_max=0.0,
        deadline_at=now + dt.timedelta(seconds=quiz.time_limit_seconds) if quiz.time_limit_seconds else None,
    )
    repository.add(session, attempt)
    slot_points = {s.position: s.points for s in slots}
    items = []
    for position, (slot_position, question_id) in enumerate(drawn, start=1):
        version = versions[question_id]
        items.append(AttemptItem(
            attempt_id=attempt.id, position=position, question_id=question_id, question_version_id=version.id,
            points=slot_points.get(slot_position) or version.points,
            layout=draws.layout(seed, position, version.type, version.data, shuffle_choices=quiz.shuffle_choices),
            needs_manual=False,
        ))
    repository.add(session, *items)
    attempt.score_max = round(sum(i.points for i in items), 6)
    enrolments_service.record_progress(
        session, user_id=principal.user_id, module_id=quiz.module_id, report=ProgressReport(attempt_started=True),
        kind="assessment", now=now,
    )
    statements = AttemptStatements(session, quiz, attempt)
    statements.record([statements.attempted()], now)
    session.flush()
    return attempt, True


# Reading ------------------------------------------------------------------------------------


def get_attempt(session: Session, principal: Principal, attempt_id: uuid.UUID, now: dt.datetime) -> tuple[QuizAttempt, QuizContext]:
    attempt = repository.get_attempt(session, principal, attempt_id)
    if attempt is None:
        raise NotFound(f"No attempt {attempt_id}.")
    quiz = repository.get_quiz(session, attempt.quiz_id)
    if _expired(quiz, attempt, now):
        attempt = repository.lock_attempt(session, attempt.id)
        if _expired(quiz, attempt, now):
            _close_at_deadline(session, quiz, attempt, now)
    # Staff and coordinators read attempts in courses they may not see otherwise; the module exists.
    ctx = quiz_service.QuizContext(quiz, *_module_and_course(session, quiz))
    return attempt, ctx


def _module_and_course(session: Session, quiz: Quiz):
    module = courses_service.module_by_id(session, quiz.module_id)
    course = courses_service.courses_by_id(session, [quiz.course_id])[quiz.course_id]
    return module, course


def list_attempts(
    session: Session, principal: Principal, quiz_id: uuid.UUID, *, user_id: uuid.UUID | None, cursor: str | None, limit: int,
    now: dt.datetime,
) -> tuple[QuizContext, list[QuizAttempt], str | None]:
    """Attempts in the caller's scope, oldest first, a page at a time."""
    ctx = quiz_service.get_quiz(session, principal, quiz_id)
    close_expired(session, now, quiz_id=ctx.quiz.id, user_id=None if principal.role is not Role.learner else principal.user_id)
    rows = repository.attempt_page(session, principal, ctx.quiz.id, user_id=user_id, after=decode_keyset(cursor),
                                   limit=limit + 1)
    page, next_cursor = keyset_page(rows, limit, lambda a: a.started_at)
    return ctx, page, next_cursor


def items_with_versions(session: Session, attempts: list[QuizAttempt]) -> tuple[dict[uuid.UUID, list[AttemptItem]], dict[uuid.UUID, QuestionVersion]]:
    items = repository.items(session, [a.id for a in attempts])
    versions = repository.versions_by_id(session, [i.question_version_id for rows in items.values() for i in rows])
    return items, versions


def is_reviewer(session: Session, principal: Principal, attempt: QuizAttempt, quiz: Quiz, *, manages: bool | None = None) -> bool:
    """Who sees an attempt in full: anyone in scope but its learner, and the course's teachers."""
    if attempt.user_id != principal.user_id:
        return True
    return manages if manages is not None else quiz_service.can_manage(session, principal, quiz.course_id)


# Answering ----------------------------------------------------------------------------------


def _own_attempt(session: Session, principal: Principal, attempt_id: uuid.UUID) -> tuple[QuizAttempt, Quiz]:
    attempt = repository.get_attempt(session, principal, attempt_id, lock=True)
    if attempt is None:
        raise NotFound(f"No attempt {attempt_id}.")
    if attempt.user_id != principal.user_id:
        raise Forbidden("Only the learner answers their attempt.")
    return attempt, repository.get_quiz(session, attempt.quiz_id)


def _closed(attempt: QuizAttempt, quiz: Quiz, detail: str) -> AttemptClosed:
    return AttemptClosed(detail, attempt_id=str(attempt.id), closed_at=(attempt.submitted_at or deadline(quiz, attempt)).isoformat())


def _store_answers(session: Session, attempt: QuizAttempt, answers: list[AnswerIn], now: dt.datetime) -> list[AttemptItem]:
    items = {i.id: i for i in repository.items(session, [attempt.id])[attempt.id]}
    versions = repository.versions_by_id(session, [i.question_version_id for i in items.values()])
    errors = []
    seen: set[uuid.UUID] = set()
    planned: list[tuple[AttemptItem, Any]] = []
    for index, answer in enumerate(answers):
        item = items.get(answer.item_id)
        if item is None:
            errors.append(field_error(["body", "answers", index, "item_id"], "not a question of this attempt"))
            continue
        if item.id in seen:
            errors.append(field_error(["body", "answers", index, "item_id"], "answered twice in one request"))
            continue
        seen.add(item.id)
        version = versions[item.question_version_id]
        try:
            planned.append((item, grading.check_response(version.type, version.data, answer.response)))
        except grading.ResponseInvalid as exc:
            errors.append(field_error(["body", "answers", index, "response"], str(exc)))
    if errors:
        raise ValidationFailed("Some answers do not fit their questions; none was saved.", errors=errors)
    for item, response in planned:
        item.response = response
        item.saved_at = now
    session.flush()
    return [item for item, _ in planned]


def save_answers(session: Session, principal: Principal, attempt_id: uuid.UUID, answers: list[AnswerIn], now: dt.datetime) -> tuple[QuizAttempt, Quiz, list[AttemptItem]]:
    attempt, quiz = _own_attempt(session, principal, attempt_id)
    if attempt.status is not AttemptStatus.in_progress:
        raise _closed(attempt, quiz, "The attempt was submitted; answers are no longer saved.")
    if _expired(quiz, attempt, now):
        _close_at_deadline(session, quiz, attempt, now)
        raise _closed(attempt, quiz, "Time is up: these answers arrived after the attempt closed and were not saved; "
                                     "the answers saved before were graded.")
    return attempt, quiz, _store_answers(session, attempt, answers, now)


def submit(session: Session, principal: Principal, attempt_id: uuid.UUID, answers: list[AnswerIn], now: dt.datetime) -> QuizAttempt:
    attempt, quiz = _own_attempt(session, principal, attempt_id)
    if attempt.status is not AttemptStatus.in_progress:
        if answers:
            raise _closed(attempt, quiz, "The attempt was already submitted; the answers sent were not saved.")
        return attempt  # a repeated (or concurrent) submission: graded once, same result
    if _expired(quiz, attempt, now):
        _close_at_deadline(session, quiz, attempt, now)
        if answers:
            raise _closed(attempt, quiz, "Time is up: the answers sent arrived after the attempt closed and were not saved; "
                                         "the answers saved before were graded.")
        return attempt
    if answers:
        _store_answers(session, attempt, answers, now)
    _finish(session, quiz, attempt, now=now, submitted_at=now, reason=FinishReason.submitted)
    return attempt


# Grading ------------------------------------------------------------------------------------


def _totals(attempt: QuizAttempt, quiz: Quiz, items: list[AttemptItem], now: dt.datetime) -> None:
    attempt.score_max = round(sum(i.points for i in items), 6)
    attempt.score_raw = round(sum(i.score or 0.0 for i in items), 6)
    attempt.score_scaled = grading.scaled(attempt.score_raw, attempt.score_max)
    attempt.passed = None if quiz.passing_score is None else attempt.score_scaled >= quiz.passing_score - 1e-9
    attempt.status = AttemptStatus.graded
    attempt.graded_at = now


def _finish(session: Session, quiz: Quiz, attempt: QuizAttempt, *, now: dt.datetime, submitted_at: dt.datetime, reason: FinishReason) -> None:
    items = repository.items(session, [attempt.id])[attempt.id]
    versions = repository.versions_by_id(session, [i.question_version_id for i in items])
    for item in items:
        version = versions[item.question_version_id]
        outcome = grading.grade(version.type, version.data, item.response)
        item.needs_manual = outcome.credit is None
        item.credit = outcome.credit
        item.score = None if outcome.credit is None else round(outcome.credit * item.points, 6)
    attempt.submitted_at = submitted_at
    attempt.finish_reason = reason
    attempt.time_spent_seconds = max(0, int((submitted_at - attempt.started_at).total_seconds()))
    pending = any(i.needs_manual for i in items)
    if pending:
        attempt.status = AttemptStatus.submitted
        attempt.score_max = round(sum(i.points for i in items), 6)
    else:
        _totals(attempt, quiz, items, now)
    session.flush()
    statements = AttemptStatements(session, quiz, attempt)
    batch = [statements.answered(i, versions[i.question_version_id]) for i in items if not grading.is_blank(i.response)]
    batch.append(statements.outcome(when=submitted_at, graded=not pending, at_submission=True))
    statements.record(batch, now)
    _report_progress(session, quiz, attempt, now, time_spent=attempt.time_spent_seconds, pending=pending)


def _report_progress(session: Session, quiz: Quiz, attempt: QuizAttempt, now: dt.datetime, *, time_spent: int, pending: bool) -> None:
    if pending:
        report = ProgressReport(status=ModuleStatus.completed, time_spent_seconds=time_spent)
    else:
        graded = [a.score_scaled for a in repository.user_attempts(session, quiz.id, attempt.user_id)
                  if a.status is AttemptStatus.graded and a.score_scaled is not None]
        grade = grading.quiz_grade(quiz.grading_method, graded)
        if quiz.passing_score is None:
            status = ModuleStatus.completed
        else:
            status = ModuleStatus.passed if grade is not None and grade >= quiz.passing_score - 1e-9 else ModuleStatus.failed
        report = ProgressReport(status=status, score_scaled=grade, time_spent_seconds=time_spent)
    try:
        enrolments_service.record_progress(session, user_id=attempt.user_id, module_id=quiz.module_id, report=report,
                                           kind="assessment", now=now)
    except (NotFound, enrolments_service.EnrolmentWithdrawn) as exc:
        # The attempt's grade stands; the learner left the course, so there is no progress to update.
        log.info("assessment progress not recorded", extra={"attempt_id": str(attempt.id), "reason": type(exc).__name__})


def grading_queue(session: Session, principal: Principal, quiz_id: uuid.UUID, now: dt.datetime):
    ctx = quiz_service.editable_quiz(session, principal, quiz_id)
    close_expired(session, now, quiz_id=ctx.quiz.id)
    rows = repository.pending_manual(session, principal, ctx.quiz.id)
    versions = repository.versions_by_id(session, [item.question_version_id for item, _ in rows])
    users = repository.users(session, [attempt.user_id for _, attempt in rows])
    return [(item, attempt, versions[item.question_version_id], users[attempt.user_id]) for item, attempt in rows]


def grade_item(
    session: Session, principal: Principal, attempt_id: uuid.UUID, item_id: uuid.UUID, *, points: float,
    comment: str | None, now: dt.datetime,
) -> QuizAttempt:
    attempt = repository.get_attempt(session, principal, attempt_id, lock=True)
    if attempt is None:
        raise NotFound(f"No attempt {attempt_id}.")
    quiz = repository.get_quiz(session, attempt.quiz_id)
    if not quiz_service.can_manage(session, principal, quiz.course_id):
        raise Forbidden("Only the course's instructors and admins grade attempts.")
    if attempt.status is AttemptStatus.in_progress:
        raise Conflict("The attempt is still in progress.")
    items = repository.items(session, [attempt.id])[attempt.id]
    item = next((i for i in items if i.id == item_id), None)
    if item is None:
        raise NotFound(f"No question {item_id} in this attempt.")
    if not item.needs_manual:
        raise Conflict("This question is graded automatically.")
    if points > item.points + 1e-9:
        raise ValidationFailed(f"At most {item.points} points.", errors=[field_error(["body", "points"], f"above {item.points}")])
    item.score = round(points, 6)
    item.credit = grading.scaled(points, item.points)
    item.grader_comment = comment
    item.graded_by_id = principal.user_id
    item.graded_at = now
    if any(i.needs_manual and i.score is None for i in items):
        session.flush()
        return attempt
    _totals(attempt, quiz, items, now)
    session.flush()
    statements = AttemptStatements(session, quiz, attempt)
    statements.record([statements.outcome(when=now, graded=True, at_submission=False)], now)
    _report_progress(session, quiz, attempt, now, time_spent=0, pending=False)
    return attempt

