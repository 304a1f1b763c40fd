from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from app.core.i18n import LanguageTag
from app.users.models import Role, Sex

FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
JobTitle = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str = Field(examples=["ana.petrovic@kirs.gov.rs"])
    full_name: str = Field(examples=["Ana Petrović"])
    role: Role
    country_code: str = Field(examples=["RS"])
    institution_id: uuid.UUID | None
    preferred_language: str = Field(examples=["sr-Latn"])
    sex: Sex | None
    job_title: str | None
    is_active: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None


class UserCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "marko.jovanovic@kirs.gov.rs",
                    "full_name": "Marko Jovanović",
                    "role": "learner",
                    "country_code": "RS",
                    "preferred_language": "sr-Latn",
                    "password": "a-long-initial-passphrase",
                }
            ]
        },
    )

    email: EmailStr
    full_name: FullName
    role: Role = Role.learner
    country_code: CountryCode
    institution_id: uuid.UUID | None = None
    preferred_language: LanguageTag = "en"
    sex: Sex | None = None
    job_title: JobTitle | None = None
    password: Password | None = Field(
        default=None, description="Initial password; without one the account cannot sign in until a reset"
    )


class UserSelfUpdate(BaseModel):
    """What anyone may change about themselves. Role, country and the rest are refused (422)."""

    model_config = ConfigDict(extra="forbid")

    full_name: FullName | None = None
    preferred_language: LanguageTag | None = None
    sex: Sex | None = None
    job_title: JobTitle | None = None


class UserUpdate(UserSelfUpdate):
    """What a manager may change about someone else (coordinators: not role or country)."""

    email: EmailStr | None = None
    institution_id: uuid.UUID | None = None
    is_active: bool | None = None
    role: Role | None = None
    country_code: CountryCode | None = None


class UserFilters(BaseModel):
    country_code: CountryCode | None = None
    role: Role | None = None
    institution_id: uuid.UUID | None = None
    is_active: bool | None = None
    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
