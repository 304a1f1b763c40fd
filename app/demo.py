"""The demo dataset: a few people in each beneficiary country, with a known password per role.

Idempotent: running it again finds the same accounts and resets their demo passwords.
Never loaded in production (the CLI refuses).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.progress import Progress
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory, writing
from app.core.passwords import PasswordHashing
from app.reference import service as reference_service
from app.users.models import Role, Sex, User
from app.users import service as users_service

DEMO_DOMAIN = "rmtc.example"
PASSWORDS = {
    Role.admin: "demo-admin-2026",
    Role.coordinator: "demo-coordinator-2026",
    Role.instructor: "demo-instructor-2026",
    Role.learner: "demo-learner-2026",
}


@dataclass(frozen=True)
class DemoPerson:
    email: str
    full_name: str
    role: Role
    country: str
    institution: str | None
    language: str
    sex: Sex | None = None


PEOPLE = [
    DemoPerson(f"admin@{DEMO_DOMAIN}", "Regional Centre Administrator", Role.admin, "RS", "KIRS", "en"),
    DemoPerson(f"instructor@{DEMO_DOMAIN}", "Ingrid Lindqvist", Role.instructor, "SE", "SMA", "en", Sex.female),
    DemoPerson(f"instructor.rs@{DEMO_DOMAIN}", "Dragana Nikolić", Role.instructor, "RS", "KIRS", "sr-Latn", Sex.female),
    DemoPerson(f"coordinator.rs@{DEMO_DOMAIN}", "Milan Petrović", Role.coordinator, "RS", "KIRS", "sr-Latn", Sex.male),
    DemoPerson(f"coordinator.me@{DEMO_DOMAIN}", "Jelena Vuković", Role.coordinator, "ME", "MUP-CG", "cnr", Sex.female),
    DemoPerson(f"coordinator.mk@{DEMO_DOMAIN}", "Aleksandar Stojanovski", Role.coordinator, "MK", "MVR", "mk", Sex.male),
    DemoPerson(f"coordinator.ba@{DEMO_DOMAIN}", "Amra Hadžić", Role.coordinator, "BA", "MS-BiH", "bs", Sex.female),
    DemoPerson(f"learner.rs@{DEMO_DOMAIN}", "Ana Jovanović", Role.learner, "RS", "KIRS", "sr-Cyrl", Sex.female),
    DemoPerson(f"learner2.rs@{DEMO_DOMAIN}", "Nikola Marković", Role.learner, "RS", "MUP-RS", "sr-Latn", Sex.male),
    DemoPerson(f"learner.me@{DEMO_DOMAIN}", "Marko Radović", Role.learner, "ME", "MUP-CG", "cnr", Sex.male),
    DemoPerson(f"learner2.me@{DEMO_DOMAIN}", "Ivana Popović", Role.learner, "ME", "MUP-CG", "en", Sex.female),
    DemoPerson(f"learner.mk@{DEMO_DOMAIN}", "Elena Trajkovska", Role.learner, "MK", "MVR", "mk", Sex.female),
    DemoPerson(f"learner2.mk@{DEMO_DOMAIN}", "Besnik Ahmeti", Role.learner, "MK", "MVR", "sq", Sex.male),
    DemoPerson(f"learner.ba@{DEMO_DOMAIN}", "Emir Kovačević", Role.learner, "BA", "MS-BiH", "bs", Sex.male),
    DemoPerson(f"learner2.ba@{DEMO_DOMAIN}", "Maja Jurić", Role.learner, "BA", "MS-BiH", "hr", None),
]


@dataclass(frozen=True)
class DemoLogin:
    role: str
    country: str
    email: str
    password: str


def _upsert_person(session: Session, passwords: PasswordHashing, person: DemoPerson) -> None:
    user = users_service.find_by_email(session, person.email)
    if user is None:
        user = User(email=person.email, full_name=person.full_name, role=person.role, country_code=person.country)
        session.add(user)
    institution = None
    if person.institution:
        institution = next(
            (i for i in reference_service.list_institutions(session, country_code=person.country)
             if i.acronym == person.institution),
            None,
        )
    user.full_name = person.full_name
    user.role = person.role
    user.country_code = person.country
    user.institution_id = institution.id if institution else None
    user.preferred_language = person.language
    user.sex = person.sex
    user.is_active = True
    user.password_hash = passwords.hash(PASSWORDS[person.role])
    session.flush()


def load_demo(settings: Settings, *, progress: Console | None = None) -> list[DemoLogin]:
    engine = make_engine(settings.resolved_database_url)
    passwords = PasswordHashing(settings)
    try:
        with make_session_factory(writing(engine))() as session, session.begin():
            with Progress(console=progress, transient=True, disable=progress is None) as bar:
                task = bar.add_task("demo people", total=len(PEOPLE))
                for person in PEOPLE:
                    _upsert_person(session, passwords, person)
                    bar.advance(task)
    finally:
        engine.dispose()
    return [DemoLogin(p.role.value, p.country, p.email, PASSWORDS[p.role]) for p in PEOPLE]
