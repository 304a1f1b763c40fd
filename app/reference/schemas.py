from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.core.i18n import LanguageMap, LanguageTag
from app.reference.models import ProgrammeRole

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
AreaCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CountryOut(BaseModel):
    code: str = Field(examples=["RS"])
    name: str = Field(description="Display name in English", examples=["Serbia"])
    names: dict[str, str] = Field(description="Names in other languages", examples=[{"sr-Latn": "Srbija"}])
    label: str = Field(description="Name in the negotiated language")
    programme_role: ProgrammeRole
    footnote: str | None = Field(description="Shown wherever the name is shown (Kosovo*)")
    is_active: bool


class CountryCreate(_Strict):
    code: CountryCode
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)]
    names: dict[LanguageTag, str] = Field(default_factory=dict)
    programme_role: ProgrammeRole
    footnote: Annotated[str, StringConstraints(max_length=500)] | None = None


class CountryUpdate(_Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100)] | None = None
    names: dict[LanguageTag, str] | None = None
    programme_role: ProgrammeRole | None = None
    footnote: Annotated[str, StringConstraints(max_length=500)] | None = None
    is_active: bool | None = None


class LanguageOut(BaseModel):
    tag: str = Field(examples=["sr-Latn"])
    name: str = Field(examples=["Serbian (Latin)"])
    native_name: str = Field(examples=["Srpski (latinica)"])
    is_active: bool


class LanguageCreate(_Strict):
    tag: LanguageTag
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    native_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class LanguageUpdate(_Strict):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    native_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    is_active: bool | None = None


class InstitutionOut(BaseModel):
    id: uuid.UUID
    country_code: str
    acronym: str
    name: dict[str, str]
    label: str
    is_active: bool


class InstitutionCreate(_Strict):
    country_code: CountryCode
    acronym: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
    name: LanguageMap = Field(examples=[{"en": "Ministry of Interior of Montenegro"}])


class InstitutionUpdate(_Strict):
    acronym: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)] | None = None
    name: LanguageMap | None = None
    is_active: bool | None = None


class ThematicAreaOut(BaseModel):
    code: str
    name: dict[str, str]
    label: str
    description: dict[str, str]
    is_active: bool


class ThematicAreaCreate(_Strict):
    code: AreaCode
    name: LanguageMap
    description: dict[LanguageTag, str] = Field(default_factory=dict)


class ThematicAreaUpdate(_Strict):
    name: LanguageMap | None = None
    description: dict[LanguageTag, str] | None = None
    is_active: bool | None = None

