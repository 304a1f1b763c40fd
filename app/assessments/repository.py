"""Queries of the assessments domain, with the scope filters that make out-of-scope rows 404.

Who reads what:
- banks (and their questions): admins all; instructors the banks of the courses they own or
  teach, and every thematic-area bank (those are shared); nobody else.
- attempts: admins all; coordinators those of their country's people; instructors those in the
  courses they teach; everybody their own.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, and_, delete, exists, false, func, or_, select, true
from sqlalchemy.orm import Session

from app.assessments.models import (
    AttemptItem,
    AttemptStatus,
    Question,
    QuestionBank,
    QuestionCategory,
    QuestionTag,
    QuestionType,
    QuestionVersion,
    Quiz,
    QuizAttempt,
    QuizSlot,
)
from app.auth.principal import Principal
from app.courses import service as courses_service
from app.users.models import Role, User


def add(session: Session, *objects: object) -> None:
    session.add_all(objects)
    session.flush()


# Banks and questions -----------------------------------------------------------------------


def banks_visible_to(principal: Principal) -> ColumnElement[bool]:
    if principal.role is Role.admin:
        return true()
    if principal.role is Role.instructor:
        return or_(
            QuestionBank.thematic_area_code.is_not(None),
            QuestionBank.course_id.in_(courses_service.courses_taught_by(principal.user_id)),
        )
    return false()


def get_bank(session: Session, principal: Principal, bank_id: uuid.UUID) -> QuestionBank | None:
    return session.scalars(select(QuestionBank).where(QuestionBank.id == bank_id, banks_visible_to(principal))).first()


def list_banks(
    session: Session, principal: Principal, *, course_id: uuid.UUID | None, thematic_area: str | None
) -> list[QuestionBank]:
    stmt = select(QuestionBank).where(banks_visible_to(principal))
    if course_id is not None:
        stmt = stmt.where(QuestionBank.course_id == course_id)
    if thematic_area is not None:
        stmt = stmt.where(QuestionBank.thematic_area_code == thematic_area)
    return list(session.scalars(stmt.order_by(QuestionBank.created_at, QuestionBank.id)))


def banks_usable_in_course(course_id: uuid.UUID) -> Select:
    """Ids of the banks a quiz of this course may take questions from."""
    return select(QuestionBank.id).where(or_(QuestionBank.course_id == course_id, QuestionBank.thematic_area_code.is_not(None)))


def question_counts(session: Session, bank_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not bank_ids:
        return {}
    rows = session.execute(
        select(Question.bank_id, func.count())
        .where(Question.bank_id.in_(bank_ids), Question.archived_at.is_(None))
        .group_by(Question.bank_id)
    )
    return {bank_id: n for bank_id, n in rows}


def categories(session: Session, bank_id: uuid.UUID) -> list[QuestionCategory]:
    return list(session.scalars(select(QuestionCategory).where(QuestionCategory.bank_id == bank_id).order_by(QuestionCategory.path)))


def category_counts(session: Session, bank_id: uuid.UUID) -> dict[uuid.UUID, int]:
    rows = session.execute(
        select(Question.category_id, func.count())
        .where(Question.bank_id == bank_id, Question.archived_at.is_(None), Question.category_id.is_not(None))
        .group_by(Question.category_id)
    )
    return {cid: n for cid, n in rows}


def category_by_path(session: Session, bank_id: uuid.UUID, path: str) -> QuestionCategory | None:
    stmt = select(QuestionCategory).where(QuestionCategory.bank_id == bank_id, QuestionCategory.path == path)
    return session.scalars(stmt).first()


def get_category(session: Session, category_id: uuid.UUID) -> QuestionCategory | None:
    return session.get(QuestionCategory, category_id)


def category_in_use(session: Session, category_id: uuid.UUID) -> bool:
    used_by_questions = select(Question.id).where(Question.category_id == category_id).limit(1)
    used_by_slots = select(QuizSlot.id).where(QuizSlot.category_id == category_id).limit(1)
    return session.scalars(used_by_questions).first() is not None or session.scalars(used_by_slots).first() is not None


def get_question(session: Session, principal: Principal, question_id: uuid.UUID) -> Question | None:
    stmt = (
        select(Question)
        .join(QuestionBank, QuestionBank.id == Question.bank_id)
        .where(Question.id == question_id, banks_visible_to(principal))
    )
    return session.scalars(stmt).first()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_questions(
    session: Session,
    bank_id: uuid.UUID,
    *,
    category_ids: list[uuid.UUID] | None,
    tag: str | None,
    qtype: QuestionType | None,
    q: str | None,
    archived: bool,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> list[Question]:
    stmt = select(Question).where(Question.bank_id == bank_id)
    stmt = stmt.where(Question.archived_at.is_not(None) if archived else Question.archived_at.is_(None))
    if category_ids is not None:
        stmt = stmt.where(Question.category_id.in_(category_ids))
    if tag:
        stmt = stmt.where(exists().where(QuestionTag.question_id == Question.id, QuestionTag.tag == tag))
    if qtype:
        stmt = stmt.where(Question.type == qtype)
    if q:
        for word in q.lower().split()[:8]:
            stmt = stmt.where(Question.search_text.like(f"%{_escape_like(word)}%", escape="\\"))
    if after is not None:
        created, qid = after
        stmt = stmt.where(or_(Question.created_at > created, and_(Question.created_at == created, Question.id > qid)))
    return list(session.scalars(stmt.order_by(Question.created_at, Question.id).limit(limit)))


def questions_of_bank(session: Session, bank_id: uuid.UUID, category_ids: list[uuid.UUID] | None = None) -> list[Question]:
    stmt = select(Question).where(Question.bank_id == bank_id, Question.archived_at.is_(None))
    if category_ids is not None:
        stmt = stmt.where(Question.category_id.in_(category_ids))
    return list(session.scalars(stmt.order_by(Question.created_at, Question.id)))


def version(session: Session, question_id: uuid.UUID, number: int) -> QuestionVersion | None:
    stmt = select(QuestionVersion).where(QuestionVersion.question_id == question_id, QuestionVersion.version == number)
    return session.scalars(stmt).first()


def current_versions(session: Session, questions: Sequence[Question]) -> dict[uuid.UUID, QuestionVersion]:
    if not questions:
        return {}
    wanted = [and_(QuestionVersion.question_id == q.id, QuestionVersion.version == q.current_version) for q in questions]
    result: dict[uuid.UUID, QuestionVersion] = {}
    for start in range(0, len(wanted), 200):
        for v in session.scalars(select(QuestionVersion).where(or_(*wanted[start:start + 200]))):
            result[v.question_id] = v
    return result


def versions_of(session: Session, question_id: uuid.UUID) -> list[QuestionVersion]:
    stmt = select(QuestionVersion).where(QuestionVersion.question_id == question_id).order_by(QuestionVersion.version)
    return list(session.scalars(stmt))


def versions_by_id(session: Session, version_ids: list[uuid.UUID]) -> dict[uuid.UUID, QuestionVersion]:
    if not version_ids:
        return {}
    return {v.id: v for v in session.scalars(select(QuestionVersion).where(QuestionVersion.id.in_(list(set(version_ids)))))}


def tags_of(session: Session, question_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    result: dict[uuid.UUID, list[str]] = {qid: [] for qid in question_ids}
    if question_ids:
        stmt = select(QuestionTag.question_id, QuestionTag.tag).where(QuestionTag.question_id.in_(question_ids)).order_by(QuestionTag.tag)
        for qid, tag in session.execute(stmt):
            result[qid].append(tag)
    return result


def replace_tags(session: Session, question_id: uuid.UUID, tags: list[str]) -> None:
    session.execute(delete(QuestionTag).where(QuestionTag.question_id == question_id))
    session.add_all([QuestionTag(question_id=question_id, tag=t) for t in dict.fromkeys(tags)])
    session.flush()


def categories_by_id(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, QuestionCategory]:
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(QuestionCategory).where(QuestionCategory.id.in_(list(set(ids)))))}


def select_question_ids(bank_id: uuid.UUID) -> Select:
    return select(Question.id).where(Question.bank_id == bank_id)


def question_in_attempts(session: Session, question_ids: Select | list[uuid.UUID]) -> bool:
    stmt = select(AttemptItem.id).where(AttemptItem.question_id.in_(question_ids)).limit(1)
    return session.scalars(stmt).first() is not None


def question_in_slots(session: Session, question_ids: Select | list[uuid.UUID]) -> bool:
    stmt = select(QuizSlot.id).where(QuizSlot.question_id.in_(question_ids)).limit(1)
    return session.scalars(stmt).first() is not None


def bank_categories_in_slots(session: Session, bank_id: uuid.UUID) -> bool:
    stmt = select(QuizSlot.id).where(QuizSlot.category_id.in_(select(QuestionCategory.id).where(QuestionCategory.bank_id == bank_id)))
    return session.scalars(stmt.limit(1)).first() is not None


def pool(session: Session, category_paths: list[QuestionCategory], tags: list[str], *, subcategories: bool) -> list[uuid.UUID]:
    """Ids of the live questions of the given categories (and their subcategories) having every tag."""
    conditions = []
    for cat in category_paths:
        if subcategories:
            prefix = _escape_like(cat.path) + "/%"
            sub = select(QuestionCategory.id).where(
                QuestionCategory.bank_id == cat.bank_id,
                or_(QuestionCategory.path == cat.path, QuestionCategory.path.like(prefix, escape="\\")),
            )
            conditions.append(Question.category_id.in_(sub))
        else:
            conditions.append(Question.category_id == cat.id)
    if not conditions:
        return []
    stmt = select(Question.id).where(or_(*conditions), Question.archived_at.is_(None))
    for tag in tags:
        stmt = stmt.where(exists().where(QuestionTag.question_id == Question.id, QuestionTag.tag == tag))
    return list(session.scalars(stmt))


def live_questions(session: Session, ids: list[uuid.UUID], bank_ids: Select) -> dict[uuid.UUID, Question]:
    if not ids:
        return {}
    stmt = select(Question).where(Question.id.in_(ids), Question.archived_at.is_(None), Question.bank_id.in_(bank_ids))
    return {q.id: q for q in session.scalars(stmt)}


def usable_categories(session: Session, ids: list[uuid.UUID], bank_ids: Select) -> dict[uuid.UUID, QuestionCategory]:
    if not ids:
        return {}
    stmt = select(QuestionCategory).where(QuestionCategory.id.in_(ids), QuestionCategory.bank_id.in_(bank_ids))
    return {c.id: c for c in session.scalars(stmt)}


# Quizzes -----------------------------------------------------------------------------------


def get_quiz(session: Session, quiz_id: uuid.UUID) -> Quiz | None:
    return session.get(Quiz, quiz_id)


def quiz_of_module(session: Session, module_id: uuid.UUID) -> Quiz | None:
    return session.scalars(select(Quiz).where(Quiz.module_id == module_id)).first()


def slots(session: Session, quiz_id: uuid.UUID) -> list[QuizSlot]:
    return list(session.scalars(select(QuizSlot).where(QuizSlot.quiz_id == quiz_id).order_by(QuizSlot.position)))


def replace_slots(session: Session, quiz_id: uuid.UUID, new: list[QuizSlot]) -> None:
    session.execute(delete(QuizSlot).where(QuizSlot.quiz_id == quiz_id))
    session.flush()
    add(session, *new)


def post_test_of(session: Session, pre_test_id: uuid.UUID) -> Quiz | None:
    stmt = select(Quiz).where(Quiz.pre_test_id == pre_test_id).order_by(Quiz.created_at, Quiz.id)
    return session.scalars(stmt).first()


def quiz_has_attempts(session: Session, quiz_id: uuid.UUID) -> bool:
    return session.scalars(select(QuizAttempt.id).where(QuizAttempt.quiz_id == quiz_id).limit(1)).first() is not None


# Attempts ----------------------------------------------------------------------------------


def attempts_visible_to(principal: Principal) -> ColumnElement[bool]:
    own = QuizAttempt.user_id == principal.user_id
    if principal.role is Role.admin:
        return true()
    if principal.role is Role.coordinator:
        return or_(own, QuizAttempt.user_id.in_(select(User.id).where(User.country_code == principal.country_code)))
    if principal.role is Role.instructor:
        taught = select(Quiz.id).where(Quiz.course_id.in_(courses_service.courses_taught_by(principal.user_id)))
        return or_(own, QuizAttempt.quiz_id.in_(taught))
    return own


def get_attempt(session: Session, principal: Principal, attempt_id: uuid.UUID, *, lock: bool = False) -> QuizAttempt | None:
    stmt = select(QuizAttempt).where(QuizAttempt.id == attempt_id, attempts_visible_to(principal))
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def lock_attempt(session: Session, attempt_id: uuid.UUID) -> QuizAttempt:
    """Re-read an attempt under a row lock (PostgreSQL); the status seen is the committed one."""
    stmt = select(QuizAttempt).where(QuizAttempt.id == attempt_id).with_for_update().execution_options(populate_existing=True)
    return session.scalars(stmt).one()


def attempts(
    session: Session, principal: Principal, quiz_id: uuid.UUID, *, user_id: uuid.UUID | None = None,
    statuses: Sequence[AttemptStatus] | None = None,
) -> list[QuizAttempt]:
    stmt = select(QuizAttempt).where(QuizAttempt.quiz_id == quiz_id, attempts_visible_to(principal))
    if user_id is not None:
        stmt = stmt.where(QuizAttempt.user_id == user_id)
    if statuses is not None:
        stmt = stmt.where(QuizAttempt.status.in_(list(statuses)))
    return list(session.scalars(stmt.order_by(QuizAttempt.user_id, QuizAttempt.number)))


def attempt_page(
    session: Session, principal: Principal, quiz_id: uuid.UUID, *, user_id: uuid.UUID | None,
    after: tuple[dt.datetime, uuid.UUID] | None, limit: int,
) -> list[QuizAttempt]:
    stmt = select(QuizAttempt).where(QuizAttempt.quiz_id == quiz_id, attempts_visible_to(principal))
    if user_id is not None:
        stmt = stmt.where(QuizAttempt.user_id == user_id)
    if after is not None:
        started, aid = after
        stmt = stmt.where(or_(QuizAttempt.started_at > started, and_(QuizAttempt.started_at == started, QuizAttempt.id > aid)))
    return list(session.scalars(stmt.order_by(QuizAttempt.started_at, QuizAttempt.id).limit(limit)))


def user_attempts(session: Session, quiz_id: uuid.UUID, user_id: uuid.UUID) -> list[QuizAttempt]:
    stmt = select(QuizAttempt).where(QuizAttempt.quiz_id == quiz_id, QuizAttempt.user_id == user_id).order_by(QuizAttempt.number)
    return list(session.scalars(stmt))


def items(session: Session, attempt_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[AttemptItem]]:
    result: dict[uuid.UUID, list[AttemptItem]] = {aid: [] for aid in attempt_ids}
    for start in range(0, len(attempt_ids), 500):
        chunk = attempt_ids[start:start + 500]
        stmt = select(AttemptItem).where(AttemptItem.attempt_id.in_(chunk)).order_by(AttemptItem.attempt_id, AttemptItem.position)
        for item in session.scalars(stmt):
            result[item.attempt_id].append(item)
    return result


def claim_expired(
    session: Session, now: dt.datetime, *, quiz_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None, limit: int = 200
) -> list[QuizAttempt]:
    """Attempts still open past their time limit or their quiz's closing time, locked for this
    transaction (PostgreSQL: rows another transaction holds are skipped, it is closing them)."""
    stmt = (
        select(QuizAttempt)
        .join(Quiz, Quiz.id == QuizAttempt.quiz_id)
        .where(
            QuizAttempt.status == AttemptStatus.in_progress,
            or_(QuizAttempt.deadline_at <= now, Quiz.closes_at <= now),
        )
    )
    if quiz_id is not None:
        stmt = stmt.where(QuizAttempt.quiz_id == quiz_id)
    if user_id is not None:
        stmt = stmt.where(QuizAttempt.user_id == user_id)
    stmt = (
        stmt.order_by(QuizAttempt.started_at, QuizAttempt.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=QuizAttempt)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(stmt))


def pending_manual(session: Session, principal: Principal, quiz_id: uuid.UUID) -> list[tuple[AttemptItem, QuizAttempt]]:
    stmt = (
        select(AttemptItem, QuizAttempt)
        .join(QuizAttempt, QuizAttempt.id == AttemptItem.attempt_id)
        .where(
            QuizAttempt.quiz_id == quiz_id,
            QuizAttempt.status == AttemptStatus.submitted,
            AttemptItem.needs_manual.is_(True),
            AttemptItem.score.is_(None),
            attempts_visible_to(principal),
        )
        .order_by(QuizAttempt.submitted_at, AttemptItem.position)
    )
    return [(item, attempt) for item, attempt in session.execute(stmt)]


def users(session: Session, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, User]:
    if not user_ids:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(list(set(user_ids)))))}
