from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, TimestampMixin, str_enum


class ProgrammeRole(str, enum.Enum):
    beneficiary = "beneficiary"
    prospective_beneficiary = "prospective_beneficiary"
    associated_partner = "associated_partner"
    lead_partner = "lead_partner"
    partner_training_centre = "partner_training_centre"
    other = "other"


class Country(TimestampMixin, Base):
    __tablename__ = "countries"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    names: Mapped[dict[str, Any]] = mapped_column(default=dict)
    programme_role: Mapped[ProgrammeRole] = mapped_column(str_enum(ProgrammeRole, "programme_role"))
    footnote: Mapped[str | None] = mapped_column(String(500))
    is_active: Mapped[bool] = mapped_column(default=True)


class Language(TimestampMixin, Base):
    __tablename__ = "languages"

    tag: Mapped[str] = mapped_column(String(35), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    native_name: Mapped[str] = mapped_column(String(100))
    is_active: Mapped[bool] = mapped_column(default=True)


class Institution(TimestampMixin, Base):
    __tablename__ = "institutions"
    __table_args__ = (UniqueConstraint("country_code", "acronym"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    country_code: Mapped[str] = mapped_column(ForeignKey("countries.code"), index=True)
    acronym: Mapped[str] = mapped_column(String(20))
    name: Mapped[dict[str, Any]] = mapped_column()
    is_active: Mapped[bool] = mapped_column(default=True)


class ThematicArea(TimestampMixin, Base):
    __tablename__ = "thematic_areas"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[dict[str, Any]] = mapped_column()
    description: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_active: Mapped[bool] = mapped_column(default=True)
