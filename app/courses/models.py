from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, TimestampMixin, str_enum


class CourseStatus(str, enum.Enum):
    draft = "draft"
    published = "published"
    archived = "archived"


class CourseLevel(str, enum.Enum):
    introductory = "introductory"
    intermediate = "intermediate"
    advanced = "advanced"


class ModuleKind(str, enum.Enum):
    package = "package"
    assessment = "assessment"
    resource = "resource"


class CompletionRule(str, enum.Enum):
    viewed = "viewed"
    completed = "completed"
    passed = "passed"
    score = "score"


class Course(TimestampMixin, Base):
    __tablename__ = "courses"
    __table_args__ = (Index("ix_courses_status_created", "status", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[dict[str, Any]] = mapped_column()
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    description: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Lower-cased text of every title, summary and description, for search in any language.
    search_text: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[CourseLevel] = mapped_column(str_enum(CourseLevel, "course_level"), default=CourseLevel.introductory)
    estimated_minutes: Mapped[int | None] = mapped_column(Integer)
    owner_institution_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("institutions.id"))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    available_to_all: Mapped[bool] = mapped_column(default=True)
    status: Mapped[CourseStatus] = mapped_column(str_enum(CourseStatus, "course_status"), default=CourseStatus.draft)
    published_at: Mapped[dt.datetime | None] = mapped_column()
    archived_at: Mapped[dt.datetime | None] = mapped_column()
    cover_key: Mapped[str | None] = mapped_column(String(300))
    cover_content_type: Mapped[str | None] = mapped_column(String(100))


class CourseThematicArea(Base):
    __tablename__ = "course_thematic_areas"

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    area_code: Mapped[str] = mapped_column(ForeignKey("thematic_areas.code"), primary_key=True, index=True)


class CourseLanguage(Base):
    __tablename__ = "course_languages"

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    language_tag: Mapped[str] = mapped_column(ForeignKey("languages.tag"), primary_key=True, index=True)


class CourseCountry(Base):
    """Countries a course is open to, when it is not open to all."""

    __tablename__ = "course_countries"

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("countries.code"), primary_key=True, index=True)


class CourseInstructor(Base):
    __tablename__ = "course_instructors"

    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class Module(TimestampMixin, Base):
    __tablename__ = "course_modules"
    __table_args__ = (UniqueConstraint("course_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    course_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[dict[str, Any]] = mapped_column()
    kind: Mapped[ModuleKind] = mapped_column(str_enum(ModuleKind, "module_kind"))
    required: Mapped[bool] = mapped_column(default=True)
    completion_rule: Mapped[CompletionRule] = mapped_column(str_enum(CompletionRule, "completion_rule"))
    min_score: Mapped[float | None] = mapped_column(Float)
    # What the module points at: a resource file or link here; packages and assessments attach
    # their own records (by module id) in their domains, without changing this shape.
    resource_url: Mapped[str | None] = mapped_column(String(2000))
    resource_key: Mapped[str | None] = mapped_column(String(300))
    resource_filename: Mapped[str | None] = mapped_column(String(255))
    resource_mime: Mapped[str | None] = mapped_column(String(100))
    resource_size: Mapped[int | None] = mapped_column(Integer)
