from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.courses.models import CompletionRule, ModuleKind
from app.enrolments.models import EnrolmentSource, EnrolmentStatus, ModuleStatus

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SelfEnrol(_Strict):
    due_at: dt.datetime | None = None


class BulkEnrol(_Strict):
    user_ids: list[uuid.UUID] = Field(default_factory=list, max_length=5000)
    emails: list[Annotated[str, StringConstraints(max_length=320)]] = Field(default_factory=list, max_length=5000)
    due_at: dt.datetime | None = None
    atomic: bool = Field(default=False, description="Refuse the whole request (422) when any row fails")

    @model_validator(mode="after")
    def _someone(self) -> BulkEnrol:
        if not self.user_ids and not self.emails:
            raise ValueError("give `user_ids` or `emails`")
        return self


class RowResult(BaseModel):
    row: int = Field(description="1-based position in the request (CSV: line number)")
    input: str
    status: Literal["enrolled", "re_enrolled", "already_enrolled", "error"]
    user_id: uuid.UUID | None = None
    enrolment_id: uuid.UUID | None = None
    error: str | None = None


class BulkReport(BaseModel):
    course_id: uuid.UUID
    enrolled: int
    already_enrolled: int
    failed: int
    rows: list[RowResult]


class ModuleProgressOut(BaseModel):
    module_id: uuid.UUID
    position: int
    title: dict[str, str]
    kind: ModuleKind
    required: bool
    completion_rule: CompletionRule
    satisfied: bool
    status: ModuleStatus
    viewed: bool
    score_scaled: float | None
    time_spent_seconds: int
    attempts: int
    last_activity_at: dt.datetime | None
    completed_at: dt.datetime | None


class EnrolmentOut(BaseModel):
    id: uuid.UUID
    course_id: uuid.UUID
    user_id: uuid.UUID
    cohort_id: uuid.UUID | None
    status: EnrolmentStatus
    source: EnrolmentSource
    enrolled_at: dt.datetime
    completed_at: dt.datetime | None
    withdrawn_at: dt.datetime | None
    due_at: dt.datetime | None
    last_activity_at: dt.datetime | None
    progress: float = Field(description="Share of the counted (required) modules satisfied, 0..1")
    time_spent_seconds: int


class EnrolmentDetail(EnrolmentOut):
    modules: list[ModuleProgressOut]


class LearnerProgress(EnrolmentOut):
    full_name: str
    email: str
    country_code: str


class DashboardEntry(EnrolmentOut):
    course_slug: str
    course_title: dict[str, str]
    course_status: str


class EnrolmentPage(BaseModel):
    items: list[EnrolmentOut]
    next_cursor: str | None = None
    next: str | None = None


class EnrolmentFilters(BaseModel):
    course_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    cohort_id: uuid.UUID | None = None
    status: EnrolmentStatus | None = None


class CohortCreate(_Strict):
    course_id: uuid.UUID
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        examples=["Asylum procedures - Belgrade, March 2026 cohort"]
    )
    country_code: CountryCode | None = Field(default=None, description="Coordinators: always their own country")
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None

    @model_validator(mode="after")
    def _dates(self) -> CohortCreate:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("`ends_on` is before `starts_on`")
        return self


class CohortUpdate(_Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None


class CohortOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    course_id: uuid.UUID
    name: str
    country_code: str | None
    starts_on: dt.date | None
    ends_on: dt.date | None
    member_count: int = 0


class CohortMembers(_Strict):
    user_ids: list[uuid.UUID] = Field(default_factory=list, max_length=5000)
    emails: list[Annotated[str, StringConstraints(max_length=320)]] = Field(default_factory=list, max_length=5000)
    due_at: dt.datetime | None = None

    @model_validator(mode="after")
    def _someone(self) -> CohortMembers:
        if not self.user_ids and not self.emails:
            raise ValueError("give `user_ids` or `emails`")
        return self


class ProgressReport(_Strict):
    """What a producer (package runtime, assessment) reports about a learner's module."""

    status: ModuleStatus | None = None
    score_scaled: float | None = Field(default=None, ge=0, le=1)
    time_spent_seconds: int = Field(default=0, ge=0)
    attempt_started: bool = False
    viewed: bool = False


