from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.reference.models import Country, Institution, Language, ProgrammeRole, ThematicArea


def list_countries(
    session: Session, *, include_inactive: bool, programme_role: ProgrammeRole | None = None
) -> list[Country]:
    stmt = select(Country).order_by(Country.code)
    if not include_inactive:
        stmt = stmt.where(Country.is_active.is_(True))
    if programme_role:
        stmt = stmt.where(Country.programme_role == programme_role)
    return list(session.scalars(stmt))


def get_country(session: Session, code: str) -> Country | None:
    return session.get(Country, code)


def list_languages(session: Session, *, include_inactive: bool) -> list[Language]:
    stmt = select(Language).order_by(Language.tag)
    if not include_inactive:
        stmt = stmt.where(Language.is_active.is_(True))
    return list(session.scalars(stmt))


def get_language(session: Session, tag: str) -> Language | None:
    # Tags are case-insensitive (RFC 5646); the stored form is canonical.
    return session.scalars(select(Language).where(func.lower(Language.tag) == tag.lower())).first()


def list_institutions(session: Session, *, include_inactive: bool, country_code: str | None) -> list[Institution]:
    stmt = select(Institution).order_by(Institution.country_code, Institution.acronym)
    if not include_inactive:
        stmt = stmt.where(Institution.is_active.is_(True))
    if country_code:
        stmt = stmt.where(Institution.country_code == country_code)
    return list(session.scalars(stmt))


def get_institution(session: Session, institution_id: uuid.UUID) -> Institution | None:
    return session.get(Institution, institution_id)


def find_institution(session: Session, country_code: str, acronym: str) -> Institution | None:
    stmt = select(Institution).where(Institution.country_code == country_code, Institution.acronym == acronym)
    return session.scalars(stmt).first()


def list_thematic_areas(session: Session, *, include_inactive: bool) -> list[ThematicArea]:
    stmt = select(ThematicArea).order_by(ThematicArea.code)
    if not include_inactive:
        stmt = stmt.where(ThematicArea.is_active.is_(True))
    return list(session.scalars(stmt))


def get_thematic_area(session: Session, code: str) -> ThematicArea | None:
    return session.get(ThematicArea, code)


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()
