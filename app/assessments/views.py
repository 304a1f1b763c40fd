"""Responses: banks and questions for authors, quizzes and attempts for learners and reviewers.

The learner's view of an attempt is built from what the quiz's review options allow at this
moment, field by field: while the attempt is open there is no score, key, feedback or
explanation in it at all; after submitting, only the review items the quiz grants. Texts are in
one language per response (`?lang=` / Accept-Language, then English, then the course's languages).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from app.assessments import attempt_service, grading, quiz_service, repository, service
from app.assessments.models import (
    AttemptItem,
    AttemptStatus,
    Question,
    QuestionBank,
    QuestionType,
    QuestionVersion,
    Quiz,
    QuizAttempt,
)
from app.assessments.quiz_service import QuizContext
from app.assessments.schemas import (
    REVIEW_ITEMS,
    AttemptOut,
    AttemptScore,
    AttemptSummary,
    BankOut,
    CategoryOut,
    ItemOut,
    ItemReview,
    LearnerState,
    Option,
    QuestionOut,
    QuestionVersionOut,
    QueueEntry,
    QuizOut,
    SlotOut,
)
from app.auth.principal import Principal
from app.core.i18n import pick
from app.courses import service as courses_service

# Labels of true/false answers in the programme's languages (the item's language picks one).
TRUE_FALSE = {
    "en": {"true": "True", "false": "False"},
    "sr-Latn": {"true": "Tačno", "false": "Netačno"},
    "sr-Cyrl": {"true": "Тачно", "false": "Нетачно"},
    "bs": {"true": "Tačno", "false": "Netačno"},
    "hr": {"true": "Točno", "false": "Netočno"},
    "cnr": {"true": "Tačno", "false": "Netačno"},
    "mk": {"true": "Точно", "false": "Неточно"},
    "sq": {"true": "E vërtetë", "false": "E gabuar"},
    "sl": {"true": "Drži", "false": "Ne drži"},
    "de": {"true": "Richtig", "false": "Falsch"},
    "el": {"true": "Σωστό", "false": "Λάθος"},
}


class Texts:
    """Picks one language for a response."""

    def __init__(self, preferred: list[str], fallback: list[str]):
        self.preferred = preferred
        self.fallback = ("en", *fallback)

    def language(self, value: dict[str, str]) -> str:
        chosen = pick(value, self.preferred, self.fallback)
        return chosen[0] if chosen else "en"

    def text(self, value: dict[str, str] | None, language: str | None = None) -> str | None:
        if not value:
            return None
        chosen = pick(value, [language] if language else self.preferred, (*self.preferred, *self.fallback))
        return chosen[1] if chosen else None


def texts_for(session: Session, course_id, preferred: list[str]) -> Texts:
    languages = courses_service.links(session, [course_id])["languages"][course_id]
    return Texts(preferred, languages)


# Banks and questions ------------------------------------------------------------------------


def bank_out(session: Session, bank: QuestionBank) -> BankOut:
    count = service.bank_question_counts(session, [bank.id]).get(bank.id, 0)
    return BankOut(
        id=bank.id, title=bank.title, description=bank.description, course_id=bank.course_id,
        thematic_area=bank.thematic_area_code, owner_id=bank.owner_id, question_count=count,
        categories=[CategoryOut(id=c.id, path=c.path, question_count=n) for c, n in service.categories(session, bank)],
        created_at=bank.created_at, updated_at=bank.updated_at,
    )


def questions_out(session: Session, questions: list[Question]) -> list[QuestionOut]:
    current, tags, cats = service.question_details(session, questions)
    out = []
    for q in questions:
        v = current[q.id]
        out.append(QuestionOut(
            id=q.id, bank_id=q.bank_id, type=q.type, name=q.name, category_id=q.category_id,
            category=cats[q.category_id].path if q.category_id else None, tags=tags[q.id], version=v.version,
            points=v.points, text=v.text, feedback=v.feedback, explanation=v.explanation, data=v.data,
            archived_at=q.archived_at, created_at=q.created_at, updated_at=q.updated_at,
        ))
    return out


def version_out(v: QuestionVersion) -> QuestionVersionOut:
    return QuestionVersionOut(
        question_id=v.question_id, version=v.version, type=v.type, name=v.name, points=v.points, text=v.text,
        feedback=v.feedback, explanation=v.explanation, data=v.data, created_at=v.created_at, created_by_id=v.created_by_id,
    )


# Quizzes ------------------------------------------------------------------------------------


def review_now(quiz: Quiz, attempt: QuizAttempt, now: dt.datetime, *, reviewer: bool) -> set[str]:
    """What the review shows of an attempt at this moment."""
    if reviewer:
        return set(REVIEW_ITEMS)
    if attempt.status is AttemptStatus.in_progress:
        return set()
    allowed = set(quiz.review_after_submit)
    if quiz.closes_at is not None and now >= quiz.closes_at:
        allowed |= set(quiz.review_after_close)
    return allowed


def _scores_visible(quiz: Quiz, now: dt.datetime) -> bool:
    return "score" in quiz.review_after_submit or (
        quiz.closes_at is not None and now >= quiz.closes_at and "score" in quiz.review_after_close
    )


def quiz_out(
    session: Session, principal: Principal, ctx: QuizContext, preferred: list[str], now: dt.datetime, *, translations: bool = False
) -> QuizOut:
    quiz = ctx.quiz
    texts = texts_for(session, ctx.course.id, preferred)
    language = texts.language(ctx.module.title)
    slots = quiz_service.slots_of(session, quiz)
    slot_views = None
    if quiz_service.can_manage(session, principal, ctx.course.id):
        names = {q.id: q.name for q in repository.live_questions(
            session, [s.question_id for s in slots if s.question_id], repository.banks_usable_in_course(quiz.course_id)).values()}
        cats = repository.categories_by_id(session, [s.category_id for s in slots if s.category_id])
        specs = {spec.position: spec for spec in quiz_service.slot_specs(session, slots)}
        slot_views = [
            SlotOut(position=s.position, question_id=s.question_id, question_name=names.get(s.question_id) if s.question_id else None,
                    category_id=s.category_id, category=cats[s.category_id].path if s.category_id else None,
                    count=s.draw_count if s.category_id else 1, include_subcategories=s.include_subcategories, tags=s.tags,
                    points=s.points, available=len(specs[s.position].pool) if s.category_id else None)
            for s in slots
        ]
    state = attempt_service.standing(session, principal, ctx, now)
    graded = [a.score_scaled for a in state.attempts if a.status is AttemptStatus.graded and a.score_scaled is not None]
    grade = grading.quiz_grade(quiz.grading_method, graded) if _scores_visible(quiz, now) else None
    me = LearnerState(
        enrolled=state.enrolled,
        attempts_used=len(state.attempts),
        attempts_left=None if quiz.max_attempts is None else max(0, quiz.max_attempts - len(state.attempts)),
        open_attempt_id=state.open_attempt.id if state.open_attempt else None,
        can_start=state.reason is None,
        reason=state.reason,
        grade=grade,
        passed=None if grade is None or quiz.passing_score is None else grade >= quiz.passing_score - 1e-9,
    )
    return QuizOut(
        id=quiz.id, module_id=quiz.module_id, course_id=quiz.course_id, language=language,
        title=texts.text(ctx.module.title, language) or "", intro=texts.text(quiz.intro, language),
        time_limit_seconds=quiz.time_limit_seconds, opens_at=quiz.opens_at, closes_at=quiz.closes_at,
        max_attempts=quiz.max_attempts, passing_score=quiz.passing_score, grading_method=quiz.grading_method,
        shuffle_questions=quiz.shuffle_questions, shuffle_choices=quiz.shuffle_choices, test_phase=quiz.test_phase,
        pre_test_id=quiz.pre_test_id, review_after_submit=quiz.review_after_submit, review_after_close=quiz.review_after_close,
        question_count=quiz_service.question_count(slots), slots=slot_views,
        translations={"title": ctx.module.title, "intro": quiz.intro} if translations else None, me=me,
    )


# Attempts -----------------------------------------------------------------------------------


def _options(entries: list[dict[str, Any]], order: list[str], texts: Texts, language: str) -> list[Option]:
    by_id = {e["id"]: e for e in entries}
    return [Option(id=i, text=texts.text(by_id[i]["text"], language) or "") for i in order if i in by_id]


def _state(item: AttemptItem) -> str:
    if grading.is_blank(item.response):
        return "unanswered"
    if item.score is None:
        return "pending"
    if item.credit is not None and item.credit >= 1 - 1e-9:
        return "correct"
    return "partial" if item.credit else "incorrect"


def item_out(item: AttemptItem, version: QuestionVersion, texts: Texts, review: set[str], *, open_attempt: bool) -> ItemOut:
    language = texts.language(version.text)
    data = version.data
    out = ItemOut(id=item.id, position=item.position, type=version.type, points=item.points, language=language,
                  text=texts.text(version.text, language) or "")
    layout = item.layout or {}
    if version.type in (QuestionType.single_choice, QuestionType.multiple_response):
        out.choices = _options(data["choices"], layout.get("choices", []), texts, language)
    elif version.type is QuestionType.matching:
        out.prompts = _options(data["prompts"], layout.get("prompts", []), texts, language)
        out.matches = _options(data["matches"], layout.get("matches", []), texts, language)
    elif version.type is QuestionType.ordering:
        out.items = _options(data["items"], layout.get("items", []), texts, language)
    elif version.type is QuestionType.true_false:
        labels = TRUE_FALSE.get(language) or TRUE_FALSE.get(language.split("-")[0]) or TRUE_FALSE["en"]
        out.choices = [Option(id="true", text=labels["true"]), Option(id="false", text=labels["false"])]
    elif version.type is QuestionType.essay:
        out.min_words, out.max_words = data.get("min_words"), data.get("max_words")
    if open_attempt or "answers" in review:
        out.response = item.response
        out.saved_at = item.saved_at
    if open_attempt or not review & {"marks", "feedback", "correct_answers"}:
        return out
    r = ItemReview()
    if "marks" in review:
        r.state = _state(item)
        r.score = item.score
        r.comment = item.grader_comment
    if "feedback" in review:
        chosen = [texts.text(fb, language) for fb in grading.response_feedback(version.type, data, item.response)]
        general = texts.text(version.feedback, language)
        r.feedback = [t for t in [*chosen, general] if t]
    if "correct_answers" in review:
        r.correct_response = grading.correct_response(version.type, data)
        r.explanation = texts.text(version.explanation, language)
    out.review = r
    return out


def attempt_summary(quiz: Quiz, attempt: QuizAttempt, now: dt.datetime, *, reviewer: bool) -> AttemptSummary:
    review = review_now(quiz, attempt, now, reviewer=reviewer)
    score = None
    if "score" in review and attempt.status is not AttemptStatus.in_progress:
        score = AttemptScore(raw=attempt.score_raw, max=attempt.score_max, scaled=attempt.score_scaled, passed=attempt.passed)
    return AttemptSummary(
        id=attempt.id, quiz_id=attempt.quiz_id, user_id=attempt.user_id, number=attempt.number, status=attempt.status,
        started_at=attempt.started_at, deadline_at=attempt_service.deadline(quiz, attempt),
        seconds_left=attempt_service.seconds_left(quiz, attempt, now), submitted_at=attempt.submitted_at,
        finish_reason=attempt.finish_reason, time_spent_seconds=attempt.time_spent_seconds, score=score,
        review=[r for r in REVIEW_ITEMS if r in review],
    )


def attempt_out(
    session: Session, principal: Principal, ctx: QuizContext, attempt: QuizAttempt, preferred: list[str], now: dt.datetime
) -> AttemptOut:
    reviewer = attempt_service.is_reviewer(session, principal, attempt, ctx.quiz)
    summary = attempt_summary(ctx.quiz, attempt, now, reviewer=reviewer)
    items, versions = attempt_service.items_with_versions(session, [attempt])
    texts = texts_for(session, ctx.course.id, preferred)
    review = set(summary.review)
    open_attempt = attempt.status is AttemptStatus.in_progress
    return AttemptOut(
        **summary.model_dump(),
        items=[item_out(i, versions[i.question_version_id], texts, review, open_attempt=open_attempt) for i in items[attempt.id]],
    )


def queue_out(rows) -> list[QueueEntry]:
    return [
        QueueEntry(
            attempt_id=attempt.id, item_id=item.id, user_id=attempt.user_id, full_name=user.full_name,
            submitted_at=attempt.submitted_at, question_id=version.question_id, question_name=version.name, text=version.text,
            grader_info=version.data.get("grader_info") or {}, points=item.points, response=item.response,
        )
        for item, attempt, version, user in rows
    ]
