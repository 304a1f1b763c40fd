from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.core.i18n import LanguageMap, LanguageTag
from app.courses.models import CompletionRule, CourseLevel, CourseStatus, ModuleKind

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", min_length=3, max_length=120)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
AreaCode = Annotated[str, StringConstraints(max_length=64)]
OptionalMap = dict[LanguageTag, Annotated[str, StringConstraints(max_length=20000)]]
MimeType = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$", max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CourseFields(_Strict):
    title: LanguageMap = Field(examples=[{"en": "Asylum procedures under the EU acquis", "sr-Latn": "Postupak azila"}])
    summary: OptionalMap = Field(default_factory=dict)
    description: OptionalMap = Field(default_factory=dict)
    thematic_areas: list[AreaCode] = Field(default_factory=list, max_length=20, examples=[["asylum", "eu-acquis-pact"]])
    languages: list[LanguageTag] = Field(default_factory=list, max_length=30, examples=[["en", "sr-Latn", "mk"]])
    level: CourseLevel = CourseLevel.introductory
    estimated_minutes: int | None = Field(default=None, ge=1, le=100000)
    owner_institution_id: uuid.UUID | None = None
    available_to_all: bool = Field(default=True, description="Open to every country; else only to `countries`")
    countries: list[CountryCode] = Field(default_factory=list, max_length=50)


class CourseCreate(CourseFields):
    slug: Slug = Field(examples=["asylum-procedures-eu-acquis"])

    @model_validator(mode="after")
    def _countries_needed(self) -> CourseCreate:
        if not self.available_to_all and not self.countries:
            raise ValueError("a course not open to all countries needs `countries`")
        return self


class CourseUpdate(_Strict):
    slug: Slug | None = None
    title: LanguageMap | None = None
    summary: OptionalMap | None = None
    description: OptionalMap | None = None
    thematic_areas: list[AreaCode] | None = Field(default=None, max_length=20)
    languages: list[LanguageTag] | None = Field(default=None, max_length=30)
    level: CourseLevel | None = None
    estimated_minutes: int | None = Field(default=None, ge=1, le=100000)
    owner_institution_id: uuid.UUID | None = None
    available_to_all: bool | None = None
    countries: list[CountryCode] | None = Field(default=None, max_length=50)


class Translations(BaseModel):
    title: dict[str, str]
    summary: dict[str, str] | None = None
    description: dict[str, str] | None = None


class ResourceOut(BaseModel):
    url: str | None = Field(description="External link, or the download URL of the stored file")
    external: bool
    mime_type: str | None
    filename: str | None
    size: int | None


class ModuleOut(BaseModel):
    id: uuid.UUID
    course_id: uuid.UUID
    position: int
    title: str
    language: str
    kind: ModuleKind
    required: bool
    completion_rule: CompletionRule
    min_score: float | None = Field(description="Scaled 0..1, for the `score` rule")
    resource: ResourceOut | None
    translations: Translations | None = None


class CourseSummary(BaseModel):
    id: uuid.UUID
    slug: str
    status: CourseStatus
    language: str = Field(description="Language of title/summary/description in this response")
    title: str
    summary: str | None
    level: CourseLevel
    estimated_minutes: int | None
    thematic_areas: list[str]
    languages: list[str]
    available_to_all: bool
    countries: list[str]
    owner_institution_id: uuid.UUID | None
    cover_url: str | None
    module_count: int
    published_at: dt.datetime | None
    updated_at: dt.datetime
    translations: Translations | None = None


class CourseDetail(CourseSummary):
    description: str | None
    owner_id: uuid.UUID | None
    instructor_ids: list[uuid.UUID]
    modules: list[ModuleOut]


class CoursePage(BaseModel):
    items: list[CourseSummary]
    next_cursor: str | None = None
    next: str | None = None


class CourseFilters(BaseModel):
    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    thematic_area: AreaCode | None = None
    language: LanguageTag | None = None
    country: CountryCode | None = Field(default=None, description="Only courses open to this country")
    status: CourseStatus | None = Field(default=None, description="Staff only; learners see published courses")


class ModuleCreate(_Strict):
    title: LanguageMap
    kind: ModuleKind
    required: bool = True
    completion_rule: CompletionRule | None = Field(
        default=None, description="Default: `viewed` for resources, `completed` for packages, `passed` for assessments"
    )
    min_score: float | None = Field(default=None, ge=0, le=1)
    resource_url: AnyHttpUrl | None = Field(default=None, description="External link (resources)")
    resource_mime: MimeType | None = None

    @model_validator(mode="after")
    def _rule_fits(self) -> ModuleCreate:
        if self.completion_rule is CompletionRule.score and self.min_score is None:
            raise ValueError("the `score` rule needs `min_score`")
        if self.resource_url is not None and self.kind is not ModuleKind.resource:
            raise ValueError("`resource_url` is for resource modules")
        return self


class ModuleUpdate(_Strict):
    title: LanguageMap | None = None
    required: bool | None = None
    completion_rule: CompletionRule | None = None
    min_score: float | None = Field(default=None, ge=0, le=1)
    resource_url: AnyHttpUrl | None = None
    resource_mime: MimeType | None = None


class ModuleOrder(_Strict):
    module_ids: list[uuid.UUID] = Field(min_length=1, max_length=500, description="Every module of the course, in the new order")


class InstructorAssignment(_Strict):
    user_ids: list[uuid.UUID] = Field(max_length=100)
