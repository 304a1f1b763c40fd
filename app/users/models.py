from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, TimestampMixin, str_enum


class Role(str, enum.Enum):
    admin = "admin"
    coordinator = "coordinator"
    instructor = "instructor"
    learner = "learner"


class Sex(str, enum.Enum):
    female = "female"
    male = "male"
    other = "other"
    undisclosed = "undisclosed"


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Stored lower-cased: the unique index makes email unique case-insensitively on every database.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(str_enum(Role, "user_role"), index=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("countries.code"), index=True)
    institution_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("institutions.id"), index=True)
    preferred_language: Mapped[str] = mapped_column(ForeignKey("languages.tag"), default="en")
    sex: Mapped[Sex | None] = mapped_column(str_enum(Sex, "user_sex"))
    job_title: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[dt.datetime | None] = mapped_column()
    last_login_at: Mapped[dt.datetime | None] = mapped_column()
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
