"""A registration per learner and package module (its id is also the xAPI registration), the
attempts inside it, the state of each unit (SCO/AU) per attempt, and the run-time sessions."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, str_enum, utcnow


class GradingMethod(str, enum.Enum):
    highest = "highest"
    average = "average"
    first = "first"
    last = "last"


class Registration(Base):
    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("user_id", "module_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    module_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("course_modules.id", ondelete="CASCADE"), index=True)
    package_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"))
    # The version this learner plays; a new upload does not move them (an instructor may).
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("package_versions.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="not_started")  # module status vocabulary
    score_scaled: Mapped[float | None] = mapped_column(Float)  # graded across attempts
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    # SCORM 2004 shared data buckets (adl.data) of this learner in this package: targetID -> store.
    shared_data: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Attempt(Base):
    __tablename__ = "registration_attempts"
    __table_args__ = (UniqueConstraint("registration_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    registration_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("package_versions.id", ondelete="CASCADE"))
    completion_status: Mapped[str] = mapped_column(String(20), default="not attempted")
    success_status: Mapped[str] = mapped_column(String(20), default="unknown")
    score_scaled: Mapped[float | None] = mapped_column(Float)
    total_time_cs: Mapped[int] = mapped_column(BigInteger, default=0)
    # Persisted activity-tree state (rollup results, attempt counts, hidden/disabled items).
    tree_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    current_unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("package_units.id", ondelete="SET NULL"))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column()


class UnitState(Base):
    """The CMI data of one SCO (or the state of an AU) within an attempt."""

    __tablename__ = "attempt_units"
    __table_args__ = (UniqueConstraint("attempt_id", "unit_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    attempt_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("registration_attempts.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("package_units.id", ondelete="CASCADE"))
    cmi: Mapped[dict[str, Any]] = mapped_column(default=dict)  # flat element -> value, untrusted text
    completion_status: Mapped[str] = mapped_column(String(20), default="not attempted")
    success_status: Mapped[str] = mapped_column(String(20), default="unknown")
    score_scaled: Mapped[float | None] = mapped_column(Float)
    total_time_cs: Mapped[int] = mapped_column(BigInteger, default=0)
    exit: Mapped[str] = mapped_column(String(20), default="")
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    activity_attempts: Mapped[int] = mapped_column(Integer, default=0)  # sessions not resuming a suspended one
    interactions_recorded: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RuntimeSession(Base):
    """One launch of a unit: commits carry its token; its session time is counted once."""

    __tablename__ = "runtime_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    unit_state_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("attempt_units.id", ondelete="CASCADE"), index=True)
    entry: Mapped[str] = mapped_column(String(20), default="ab-initio")
    mode: Mapped[str] = mapped_column(String(10), default="normal")  # normal | review
    last_sequence: Mapped[int] = mapped_column(BigInteger, default=-1)
    session_time_cs: Mapped[int] = mapped_column(BigInteger, default=0)
    reported_time_cs: Mapped[int] = mapped_column(BigInteger, default=0)  # already added to module progress
    initialized: Mapped[bool] = mapped_column(default=False)
    terminated: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_commit_at: Mapped[dt.datetime | None] = mapped_column()  # SCORM commit or AU statement
    # cmi5 and xAPI launches: the AU's temporary LRS credential (its statements belong to this
    # session), when the one-time fetch URL was used, and whether the LMS abandoned the session.
    lrs_client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("xapi_clients.id", ondelete="SET NULL"), index=True)
    fetched_at: Mapped[dt.datetime | None] = mapped_column()
    abandoned: Mapped[bool] = mapped_column(default=False)
