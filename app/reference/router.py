from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from app.auth.dependencies import AdminPrincipal, CurrentPrincipal
from app.core.deps import PreferredLanguages, SessionDep
from app.core.i18n import pick
from app.core.openapi import problems
from app.reference import service
from app.reference.models import Country, Institution, ProgrammeRole, ThematicArea
from app.reference.schemas import (
    CountryCreate,
    CountryOut,
    CountryUpdate,
    InstitutionCreate,
    InstitutionOut,
    InstitutionUpdate,
    LanguageCreate,
    LanguageOut,
    LanguageUpdate,
    ThematicAreaCreate,
    ThematicAreaOut,
    ThematicAreaUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["reference"], responses=problems(401))
WRITE_ERRORS = problems(403, 404, 409, 422)


def _label(names: dict[str, str], preferred: list[str]) -> str:
    chosen = pick(names, preferred)
    return chosen[1] if chosen else ""


def _country(c: Country, preferred: list[str]) -> CountryOut:
    names = {"en": c.name, **c.names}
    return CountryOut(
        code=c.code,
        name=c.name,
        names=c.names,
        label=_label(names, preferred),
        programme_role=c.programme_role,
        footnote=c.footnote,
        is_active=c.is_active,
    )


def _institution(i: Institution, preferred: list[str]) -> InstitutionOut:
    return InstitutionOut(
        id=i.id,
        country_code=i.country_code,
        acronym=i.acronym,
        name=i.name,
        label=_label(i.name, preferred),
        is_active=i.is_active,
    )


def _area(a: ThematicArea, preferred: list[str]) -> ThematicAreaOut:
    return ThematicAreaOut(
        code=a.code, name=a.name, label=_label(a.name, preferred), description=a.description, is_active=a.is_active
    )


@router.get("/countries", response_model=list[CountryOut])
def list_countries(
    session: SessionDep,
    principal: CurrentPrincipal,
    lang: PreferredLanguages,
    programme_role: ProgrammeRole | None = None,
    include_inactive: bool = False,
) -> list[CountryOut]:
    """Countries of the programme with their role (beneficiary, associated partner, ...)."""
    rows = service.list_countries(
        session, include_inactive=include_inactive and principal.is_admin, programme_role=programme_role
    )
    return [_country(c, lang) for c in rows]


@router.get("/countries/{code}", response_model=CountryOut, responses=problems(404))
def get_country(code: str, session: SessionDep, principal: CurrentPrincipal, lang: PreferredLanguages) -> CountryOut:
    return _country(service.get_country(session, code), lang)


@router.post("/countries", response_model=CountryOut, status_code=status.HTTP_201_CREATED, responses=WRITE_ERRORS)
def create_country(
    data: CountryCreate, session: SessionDep, principal: AdminPrincipal, lang: PreferredLanguages
) -> CountryOut:
    return _country(service.create_country(session, data), lang)


@router.patch("/countries/{code}", response_model=CountryOut, responses=WRITE_ERRORS)
def update_country(
    code: str, data: CountryUpdate, session: SessionDep, principal: AdminPrincipal, lang: PreferredLanguages
) -> CountryOut:
    return _country(service.update_country(session, code, data), lang)


@router.get("/languages", response_model=list[LanguageOut])
def list_languages(
    session: SessionDep, principal: CurrentPrincipal, include_inactive: bool = False
) -> list[LanguageOut]:
    """Content and interface languages (BCP 47 tags)."""
    rows = service.list_languages(session, include_inactive=include_inactive and principal.is_admin)
    return [LanguageOut.model_validate(row, from_attributes=True) for row in rows]


@router.post("/languages", response_model=LanguageOut, status_code=status.HTTP_201_CREATED, responses=WRITE_ERRORS)
def create_language(data: LanguageCreate, session: SessionDep, principal: AdminPrincipal) -> LanguageOut:
    return LanguageOut.model_validate(service.create_language(session, data), from_attributes=True)


@router.patch("/languages/{tag}", response_model=LanguageOut, responses=WRITE_ERRORS)
def update_language(tag: str, data: LanguageUpdate, session: SessionDep, principal: AdminPrincipal) -> LanguageOut:
    return LanguageOut.model_validate(service.update_language(session, tag, data), from_attributes=True)


@router.get("/institutions", response_model=list[InstitutionOut])
def list_institutions(
    session: SessionDep,
    principal: CurrentPrincipal,
    lang: PreferredLanguages,
    country_code: str | None = None,
    include_inactive: bool = False,
) -> list[InstitutionOut]:
    rows = service.list_institutions(
        session, include_inactive=include_inactive and principal.is_admin, country_code=country_code
    )
    return [_institution(i, lang) for i in rows]


@router.get("/institutions/{institution_id}", response_model=InstitutionOut, responses=problems(404))
def get_institution(
    institution_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, lang: PreferredLanguages
) -> InstitutionOut:
    return _institution(service.get_institution(session, institution_id), lang)


@router.post(
    "/institutions", response_model=InstitutionOut, status_code=status.HTTP_201_CREATED, responses=WRITE_ERRORS
)
def create_institution(
    data: InstitutionCreate, session: SessionDep, principal: AdminPrincipal, lang: PreferredLanguages
) -> InstitutionOut:
    return _institution(service.create_institution(session, data), lang)


@router.patch("/institutions/{institution_id}", response_model=InstitutionOut, responses=WRITE_ERRORS)
def update_institution(
    institution_id: uuid.UUID,
    data: InstitutionUpdate,
    session: SessionDep,
    principal: AdminPrincipal,
    lang: PreferredLanguages,
) -> InstitutionOut:
    return _institution(service.update_institution(session, institution_id, data), lang)


@router.get("/thematic-areas", response_model=list[ThematicAreaOut])
def list_thematic_areas(
    session: SessionDep, principal: CurrentPrincipal, lang: PreferredLanguages, include_inactive: bool = False
) -> list[ThematicAreaOut]:
    rows = service.list_thematic_areas(session, include_inactive=include_inactive and principal.is_admin)
    return [_area(a, lang) for a in rows]


@router.get("/thematic-areas/{code}", response_model=ThematicAreaOut, responses=problems(404))
def get_thematic_area(
    code: str, session: SessionDep, principal: CurrentPrincipal, lang: PreferredLanguages
) -> ThematicAreaOut:
    return _area(service.get_thematic_area(session, code), lang)


@router.post(
    "/thematic-areas", response_model=ThematicAreaOut, status_code=status.HTTP_201_CREATED, responses=WRITE_ERRORS
)
def create_thematic_area(
    data: ThematicAreaCreate, session: SessionDep, principal: AdminPrincipal, lang: PreferredLanguages
) -> ThematicAreaOut:
    return _area(service.create_thematic_area(session, data), lang)


@router.patch("/thematic-areas/{code}", response_model=ThematicAreaOut, responses=WRITE_ERRORS)
def update_thematic_area(
    code: str, data: ThematicAreaUpdate, session: SessionDep, principal: AdminPrincipal, lang: PreferredLanguages
) -> ThematicAreaOut:
    return _area(service.update_thematic_area(session, code, data), lang)
