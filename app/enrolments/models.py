from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, TimestampMixin, str_enum, utcnow


class EnrolmentStatus(str, enum.Enum):
    enrolled = "enrolled"
    in_progress = "in_progress"
    completed = "completed"
    withdrawn = "withdrawn"


class EnrolmentSource(str, enum.Enum):
    self = "self"
    manager = "manager"
    cohort = "cohort"


class ModuleStatus(str, enum.Enum):
    not_started = "not_started"
    in_progress = "in_progress"
    completed = "completed"
    passed = "passed"
    failed = "failed"


class Cohort(TimestampMixin, Base):
    __tablename__ = "cohorts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # A coordinator's cohort belongs to their country; an admin's may be regional (no country).
    country_code: Mapped[str | None] = mapped_column(ForeignKey("countries.code"), index=True)
    starts_on: Mapped[dt.date | None] = mapped_column()
    ends_on: Mapped[dt.date | None] = mapped_column()
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class CohortMember(Base):
    __tablename__ = "cohort_members"

    cohort_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    added_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Enrolment(TimestampMixin, Base):
    __tablename__ = "enrolments"
    __table_args__ = (
        UniqueConstraint("course_id", "user_id"),
        Index("ix_enrolments_user_status", "user_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    cohort_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cohorts.id", ondelete="SET NULL"), index=True)
    status: Mapped[EnrolmentStatus] = mapped_column(
        str_enum(EnrolmentStatus, "enrolment_status"), default=EnrolmentStatus.enrolled
    )
    source: Mapped[EnrolmentSource] = mapped_column(str_enum(EnrolmentSource, "enrolment_source"))
    enrolled_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column()
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column()
    due_at: Mapped[dt.datetime | None] = mapped_column()
    last_activity_at: Mapped[dt.datetime | None] = mapped_column()
    enrolled_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ModuleProgress(Base):
    __tablename__ = "module_progress"
    __table_args__ = (UniqueConstraint("enrolment_id", "module_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    enrolment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("course_modules.id", ondelete="CASCADE"), index=True)
    status: Mapped[ModuleStatus] = mapped_column(str_enum(ModuleStatus, "module_status"), default=ModuleStatus.not_started)
    viewed: Mapped[bool] = mapped_column(default=False)
    score_scaled: Mapped[float | None] = mapped_column(Float)
    time_spent_seconds: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    first_activity_at: Mapped[dt.datetime | None] = mapped_column()
    last_activity_at: Mapped[dt.datetime | None] = mapped_column()
    completed_at: Mapped[dt.datetime | None] = mapped_column()


class ProgressEvent(Base):
    """Every change of module progress, in order: the learner's history, and the outbox from
    which the LRS records each change as an xAPI statement."""

    __tablename__ = "progress_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    enrolment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("course_modules.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str | None] = mapped_column(String(20))
    score_scaled: Mapped[float | None] = mapped_column(Float)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
