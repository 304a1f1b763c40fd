from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, TimestampMixin, str_enum, utcnow


class Standard(str, enum.Enum):
    scorm12 = "scorm12"
    scorm2004 = "scorm2004"
    cmi5 = "cmi5"
    xapi = "xapi"


class VersionStatus(str, enum.Enum):
    awaiting_upload = "awaiting_upload"
    queued = "queued"
    processing = "processing"
    ready = "ready"
    failed = "failed"


class Package(TimestampMixin, Base):
    __tablename__ = "packages"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    title: Mapped[dict[str, Any]] = mapped_column(default=dict)
    standard: Mapped[Standard | None] = mapped_column(str_enum(Standard, "package_standard"))
    identifier: Mapped[str | None] = mapped_column(String(500))
    latest_ready_version: Mapped[int | None] = mapped_column(Integer)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)


class PackageVersion(Base):
    """One upload of a package; also the import job (its status resource)."""

    __tablename__ = "package_versions"
    __table_args__ = (
        UniqueConstraint("package_id", "number"),
        Index("ix_package_versions_status", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    package_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[VersionStatus] = mapped_column(str_enum(VersionStatus, "package_version_status"))
    standard: Mapped[Standard | None] = mapped_column(str_enum(Standard, "package_version_standard"))
    edition: Mapped[str | None] = mapped_column(String(10))
    title: Mapped[dict[str, Any]] = mapped_column(default=dict)
    description: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source_filename: Mapped[str | None] = mapped_column(String(255))
    source_kind: Mapped[str] = mapped_column(String(10), default="zip")  # "zip" or "cmi5-xml"
    upload_key: Mapped[str | None] = mapped_column(String(300))
    storage_prefix: Mapped[str] = mapped_column(String(300))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    uncompressed_bytes: Mapped[int | None] = mapped_column(BigInteger)
    file_count: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    structure: Mapped[dict[str, Any]] = mapped_column(default=dict)  # activity tree + extra manifest data
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"errors": [...], "warnings": [...]}
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column()


class LaunchUnit(Base):
    """A launchable unit of a version: a SCO or asset (SCORM), an AU (cmi5), an activity (xAPI)."""

    __tablename__ = "package_units"
    __table_args__ = (UniqueConstraint("version_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("package_versions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    identifier: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(10))
    title: Mapped[dict[str, Any]] = mapped_column(default=dict)
    launch: Mapped[str] = mapped_column(String(2000))
    parameters: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # mastery, thresholds, moveOn, ...


class ModulePackage(Base):
    """A course module of kind `package` plays this package."""

    __tablename__ = "module_packages"

    module_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("course_modules.id", ondelete="CASCADE"), primary_key=True)
    package_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("packages.id", ondelete="CASCADE"), index=True)
    # How learners play it: attempts allowed (none = unlimited), whether a completed attempt may be
    # followed by a new one, and how attempts grade the module.
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    new_attempt_after_completion: Mapped[bool] = mapped_column(default=True, server_default=true())
    grading_method: Mapped[str] = mapped_column(String(10), default="highest", server_default="highest")
