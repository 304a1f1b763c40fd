"""Question banks, versioned questions, quizzes (course modules of kind `assessment`) and attempts.

A question's content lives in immutable `QuestionVersion` rows: editing a question adds a version,
and an attempt points at the versions it was given, so a graded attempt never changes. An attempt
stores what was drawn and how it was shuffled (its items), so resuming on another device shows
exactly the same quiz.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, PortableJSON, TimestampMixin, str_enum, utcnow


class QuestionType(str, enum.Enum):
    single_choice = "single_choice"
    multiple_response = "multiple_response"
    true_false = "true_false"
    short_text = "short_text"
    numeric = "numeric"
    matching = "matching"
    ordering = "ordering"
    essay = "essay"


class GradingMethod(str, enum.Enum):
    highest = "highest"
    average = "average"
    first = "first"
    last = "last"


class TestPhase(str, enum.Enum):
    pre = "pre"
    post = "post"


class AttemptStatus(str, enum.Enum):
    in_progress = "in_progress"
    submitted = "submitted"  # waiting for an instructor to grade its essays
    graded = "graded"


class FinishReason(str, enum.Enum):
    submitted = "submitted"  # the learner submitted
    time_limit = "time_limit"  # closed by the server at the end of the time limit
    quiz_closed = "quiz_closed"  # closed by the server when the quiz's window ended


class QuestionBank(TimestampMixin, Base):
    """Questions of one course, or shared by every instructor of a thematic area."""

    __tablename__ = "question_banks"
    __table_args__ = (
        CheckConstraint("(course_id IS NULL) <> (thematic_area_code IS NULL)", name="one_owner"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    title: Mapped[dict[str, Any]] = mapped_column()
    description: Mapped[dict[str, Any]] = mapped_column(default=dict)
    course_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    thematic_area_code: Mapped[str | None] = mapped_column(ForeignKey("thematic_areas.code"), index=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class QuestionCategory(Base):
    """A category is a path inside its bank ("Asylum/Vulnerable persons"), as in Moodle."""

    __tablename__ = "question_categories"
    __table_args__ = (UniqueConstraint("bank_id", "path"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    bank_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("question_banks.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Question(TimestampMixin, Base):
    __tablename__ = "questions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    bank_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("question_banks.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("question_categories.id"), index=True)
    type: Mapped[QuestionType] = mapped_column(str_enum(QuestionType, "question_type"))
    name: Mapped[str] = mapped_column(String(255))
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    # Lower-cased name and texts in every language, for searching a bank.
    search_text: Mapped[str] = mapped_column(Text, default="")
    archived_at: Mapped[dt.datetime | None] = mapped_column()
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class QuestionVersion(Base):
    """Immutable content of a question: texts, points and the type's data (choices, answer key)."""

    __tablename__ = "question_versions"
    __table_args__ = (UniqueConstraint("question_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    question_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    type: Mapped[QuestionType] = mapped_column(str_enum(QuestionType, "question_type"))
    name: Mapped[str] = mapped_column(String(255))
    text: Mapped[dict[str, Any]] = mapped_column()
    feedback: Mapped[dict[str, Any]] = mapped_column(default=dict)
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    points: Mapped[float] = mapped_column(Float)
    data: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class QuestionTag(Base):
    __tablename__ = "question_tags"

    question_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class Quiz(TimestampMixin, Base):
    """The assessment a course module of kind `assessment` plays."""

    __tablename__ = "quizzes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    module_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("course_modules.id", ondelete="CASCADE"), unique=True)
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    intro: Mapped[dict[str, Any]] = mapped_column(default=dict)
    time_limit_seconds: Mapped[int | None] = mapped_column(Integer)
    opens_at: Mapped[dt.datetime | None] = mapped_column()
    closes_at: Mapped[dt.datetime | None] = mapped_column()
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    passing_score: Mapped[float | None] = mapped_column(Float)
    grading_method: Mapped[GradingMethod] = mapped_column(
        str_enum(GradingMethod, "grading_method"), default=GradingMethod.highest
    )
    shuffle_questions: Mapped[bool] = mapped_column(default=False)
    shuffle_choices: Mapped[bool] = mapped_column(default=True)
    test_phase: Mapped[TestPhase | None] = mapped_column(str_enum(TestPhase, "test_phase"))
    pre_test_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("quizzes.id", ondelete="SET NULL"))
    review_after_submit: Mapped[list[str]] = mapped_column(default=list)
    review_after_close: Mapped[list[str]] = mapped_column(default=list)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class QuizSlot(Base):
    """One place in a quiz: a fixed question, or `draw_count` questions drawn from a category."""

    __tablename__ = "quiz_slots"
    __table_args__ = (
        UniqueConstraint("quiz_id", "position"),
        CheckConstraint("(question_id IS NULL) <> (category_id IS NULL)", name="fixed_or_drawn"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    quiz_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    question_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("questions.id"), index=True)
    category_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("question_categories.id"), index=True)
    draw_count: Mapped[int] = mapped_column(Integer, default=1)
    include_subcategories: Mapped[bool] = mapped_column(default=False)
    tags: Mapped[list[str]] = mapped_column(default=list)
    points: Mapped[float | None] = mapped_column(Float)


class QuizAttempt(Base):
    __tablename__ = "quiz_attempts"
    __table_args__ = (
        UniqueConstraint("quiz_id", "user_id", "number"),
        Index("ix_quiz_attempts_user_quiz", "user_id", "quiz_id"),
        Index("ix_quiz_attempts_open", "status", "deadline_at"),
    )

    # Also the xAPI registration of the attempt's statements.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    quiz_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("quizzes.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[AttemptStatus] = mapped_column(str_enum(AttemptStatus, "attempt_status"), default=AttemptStatus.in_progress)
    seed: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[dt.datetime] = mapped_column()
    # End of the time limit (null without one); the quiz's closing time applies as well.
    deadline_at: Mapped[dt.datetime | None] = mapped_column()
    submitted_at: Mapped[dt.datetime | None] = mapped_column()
    graded_at: Mapped[dt.datetime | None] = mapped_column()
    finish_reason: Mapped[FinishReason | None] = mapped_column(str_enum(FinishReason, "attempt_finish_reason"))
    score_raw: Mapped[float | None] = mapped_column(Float)
    score_max: Mapped[float] = mapped_column(Float, default=0)
    score_scaled: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column()
    time_spent_seconds: Mapped[int | None] = mapped_column(Integer)


class AttemptItem(Base):
    """One question of an attempt: the version given, its shuffle, the saved response, the grade."""

    __tablename__ = "attempt_items"
    __table_args__ = (UniqueConstraint("attempt_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("quiz_attempts.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    question_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("questions.id"), index=True)
    question_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("question_versions.id"), index=True)
    points: Mapped[float] = mapped_column(Float)
    # The order the learner sees: {"choices": [ids]} or {"prompts": [...], "matches": [...]}.
    layout: Mapped[dict[str, Any]] = mapped_column(default=dict)
    response: Mapped[Any] = mapped_column(PortableJSON, nullable=True)
    saved_at: Mapped[dt.datetime | None] = mapped_column()
    credit: Mapped[float | None] = mapped_column(Float)  # 0..1 of the points
    score: Mapped[float | None] = mapped_column(Float)
    needs_manual: Mapped[bool] = mapped_column(default=False)
    graded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    graded_at: Mapped[dt.datetime | None] = mapped_column()
    grader_comment: Mapped[str | None] = mapped_column(Text)
