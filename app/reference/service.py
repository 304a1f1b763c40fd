"""Reference data: countries (with their role in the programme), languages, institutions,
thematic areas. Read by everyone signed in; edited by admins."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from app.core.errors import Conflict, NotFound, ValidationFailed, field_error
from app.core.patching import apply_changes
from app.reference import repository
from app.reference.models import Country, Institution, Language, ProgrammeRole, ThematicArea
from app.reference.schemas import (
    CountryCreate,
    CountryUpdate,
    InstitutionCreate,
    InstitutionUpdate,
    LanguageCreate,
    LanguageUpdate,
    ThematicAreaCreate,
    ThematicAreaUpdate,
)

KOSOVO_CODE = "XK"
KOSOVO_NAME = "Kosovo*"
KOSOVO_FOOTNOTE = (
    "This designation is without prejudice to positions on status, and is in line with UNSCR 1244/1999 "
    "and the ICJ Opinion on the Kosovo declaration of independence."
)


def _enforce_kosovo_designation(country: Country) -> None:
    """Kosovo is always shown as "Kosovo*" with its footnote, whatever an edit asks for."""
    if country.code != KOSOVO_CODE:
        return
    if country.name != KOSOVO_NAME or country.footnote != KOSOVO_FOOTNOTE:
        raise ValidationFailed(
            f'{KOSOVO_CODE} is always designated "{KOSOVO_NAME}" with its footnote; name and footnote are fixed',
            errors=[field_error(["body", "name"], "fixed designation", "fixed_value")],
        )
    for tag, text in country.names.items():
        if not text.endswith("*"):
            raise ValidationFailed(
                f"every name of {KOSOVO_CODE} carries the asterisk",
                errors=[field_error(["body", "names", tag], "must end with '*'", "fixed_value")],
            )


# Countries ------------------------------------------------------------------------------------


def list_countries(
    session: Session, *, include_inactive: bool = False, programme_role: ProgrammeRole | None = None
) -> list[Country]:
    return repository.list_countries(session, include_inactive=include_inactive, programme_role=programme_role)


def get_country(session: Session, code: str) -> Country:
    country = repository.get_country(session, code.upper())
    if country is None:
        raise NotFound(f"No country {code!r}.")
    return country


def create_country(session: Session, data: CountryCreate) -> Country:
    if repository.get_country(session, data.code):
        raise Conflict(f"Country {data.code} exists already.")
    country = Country(**data.model_dump())
    if country.code == KOSOVO_CODE:
        country.footnote = country.footnote or KOSOVO_FOOTNOTE
    _enforce_kosovo_designation(country)
    repository.add(session, country)
    return country


def update_country(session: Session, code: str, data: CountryUpdate) -> Country:
    country = get_country(session, code)
    apply_changes(country, data.model_dump(exclude_unset=True), nullable=frozenset({"footnote"}))
    _enforce_kosovo_designation(country)
    session.flush()
    return country


def require_active_country(session: Session, code: str, *, field: str = "country_code") -> Country:
    country = repository.get_country(session, code)
    if country is None or not country.is_active:
        raise ValidationFailed(
            f"Unknown or inactive country {code!r}.", errors=[field_error(["body", field], "unknown country")]
        )
    return country


# Languages ------------------------------------------------------------------------------------


def list_languages(session: Session, *, include_inactive: bool = False) -> list[Language]:
    return repository.list_languages(session, include_inactive=include_inactive)


def get_language(session: Session, tag: str) -> Language:
    language = repository.get_language(session, tag)
    if language is None:
        raise NotFound(f"No language {tag!r}.")
    return language


def create_language(session: Session, data: LanguageCreate) -> Language:
    if repository.get_language(session, data.tag):
        raise Conflict(f"Language {data.tag} exists already.")
    language = Language(**data.model_dump())
    repository.add(session, language)
    return language


def update_language(session: Session, tag: str, data: LanguageUpdate) -> Language:
    language = get_language(session, tag)
    apply_changes(language, data.model_dump(exclude_unset=True))
    session.flush()
    return language


def require_active_language(session: Session, tag: str, *, field: str = "preferred_language") -> Language:
    language = repository.get_language(session, tag)
    if language is None or not language.is_active:
        raise ValidationFailed(
            f"Unknown or inactive language {tag!r}.", errors=[field_error(["body", field], "unknown language")]
        )
    return language


# Institutions ---------------------------------------------------------------------------------


def list_institutions(
    session: Session, *, include_inactive: bool = False, country_code: str | None = None
) -> list[Institution]:
    return repository.list_institutions(session, include_inactive=include_inactive, country_code=country_code)


def get_institution(session: Session, institution_id: uuid.UUID) -> Institution:
    institution = repository.get_institution(session, institution_id)
    if institution is None:
        raise NotFound(f"No institution {institution_id}.")
    return institution


def create_institution(session: Session, data: InstitutionCreate) -> Institution:
    require_active_country(session, data.country_code)
    if repository.find_institution(session, data.country_code, data.acronym):
        raise Conflict(f"{data.country_code} already has an institution {data.acronym!r}.")
    institution = Institution(**data.model_dump())
    repository.add(session, institution)
    return institution


def update_institution(session: Session, institution_id: uuid.UUID, data: InstitutionUpdate) -> Institution:
    institution = get_institution(session, institution_id)
    changes = data.model_dump(exclude_unset=True)
    acronym = changes.get("acronym")
    if acronym and acronym != institution.acronym and repository.find_institution(
        session, institution.country_code, acronym
    ):
        raise Conflict(f"{institution.country_code} already has an institution {acronym!r}.")
    apply_changes(institution, changes)
    session.flush()
    return institution


def require_institution_in_country(
    session: Session, institution_id: uuid.UUID, country_code: str, *, field: str = "institution_id"
) -> Institution:
    institution = repository.get_institution(session, institution_id)
    if institution is None or not institution.is_active:
        raise ValidationFailed(
            f"Unknown or inactive institution {institution_id}.",
            errors=[field_error(["body", field], "unknown institution")],
        )
    if institution.country_code != country_code:
        raise ValidationFailed(
            f"Institution {institution.acronym} belongs to {institution.country_code}, not {country_code}.",
            errors=[field_error(["body", field], "institution of another country")],
        )
    return institution


# Thematic areas -------------------------------------------------------------------------------


def list_thematic_areas(session: Session, *, include_inactive: bool = False) -> list[ThematicArea]:
    return repository.list_thematic_areas(session, include_inactive=include_inactive)


def get_thematic_area(session: Session, code: str) -> ThematicArea:
    area = repository.get_thematic_area(session, code)
    if area is None:
        raise NotFound(f"No thematic area {code!r}.")
    return area


def create_thematic_area(session: Session, data: ThematicAreaCreate) -> ThematicArea:
    if repository.get_thematic_area(session, data.code):
        raise Conflict(f"Thematic area {data.code} exists already.")
    area = ThematicArea(**data.model_dump())
    repository.add(session, area)
    return area


def update_thematic_area(session: Session, code: str, data: ThematicAreaUpdate) -> ThematicArea:
    area = get_thematic_area(session, code)
    apply_changes(area, data.model_dump(exclude_unset=True))
    session.flush()
    return area
