"""The demo dataset: a few people in each beneficiary country with a known password per role,
three multilingual courses, a cohort, and enrolments with some progress.

Idempotent: running it again finds the same accounts and resets their demo passwords.
Never loaded in production (the CLI refuses).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from rich.console import Console
from rich.progress import Progress
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.core.config import Settings
from app.core.db import make_engine, make_session_factory, utcnow, writing
from app.courses import repository as courses_repository
from app.courses import service as courses_service
from app.courses.models import ModuleKind
from app.courses.schemas import CourseCreate, ModuleCreate
from app.enrolments import service as enrolments_service
from app.enrolments.schemas import CohortCreate
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


COURSES = [
    {
        "slug": "asylum-procedures-eu-acquis",
        "title": {
            "en": "Asylum procedures under the EU acquis",
            "sr-Latn": "Postupak azila prema pravnim tekovinama EU",
            "sr-Cyrl": "Поступак азила према правним тековинама ЕУ",
            "mk": "Постапки за азил според правото на ЕУ",
        },
        "summary": {
            "en": "From registration to a first-instance decision, in line with the Pact on Migration and Asylum.",
            "sr-Latn": "Od registracije do prvostepene odluke, u skladu sa Paktom o migracijama i azilu.",
        },
        "thematic_areas": ["asylum", "eu-acquis-pact"],
        "languages": ["en", "sr-Latn", "sr-Cyrl", "mk"],
        "level": "intermediate",
        "estimated_minutes": 240,
        "modules": [
            ({"en": "The Pact on Migration and Asylum: an overview", "sr-Latn": "Pakt o migracijama i azilu: pregled"},
             "https://home-affairs.ec.europa.eu/policies/migration-and-asylum/pact-migration-and-asylum_en", True),
            ({"en": "Asylum Procedures Regulation: key steps", "sr-Latn": "Uredba o postupku azila: ključni koraci"},
             "https://eur-lex.europa.eu/eli/reg/2024/1348/oj", True),
            ({"en": "Further reading: EUAA practical guides", "sr-Latn": "Dodatna literatura: praktični vodiči EUAA"},
             "https://euaa.europa.eu/publications", False),
        ],
    },
    {
        "slug": "identification-of-vulnerable-migrants",
        "title": {
            "en": "Identification of vulnerable migrants",
            "bs": "Identifikacija ranjivih migranata",
            "sq": "Identifikimi i migrantëve në nevojë",
        },
        "summary": {"en": "Recognising and referring unaccompanied children, victims of trafficking and survivors of torture."},
        "thematic_areas": ["vulnerable-migrants", "irregular-migration"],
        "languages": ["en", "bs", "sq"],
        "level": "introductory",
        "estimated_minutes": 120,
        "modules": [
            ({"en": "Indicators of vulnerability", "bs": "Indikatori ranjivosti"},
             "https://euaa.europa.eu/publications/practical-guide-identification-persons-special-needs", True),
            ({"en": "Referral mechanisms", "bs": "Mehanizmi upućivanja"}, "https://www.iom.int/", True),
        ],
    },
    {
        "slug": "return-and-reintegration-counselling",
        "title": {
            "en": "Return and reintegration counselling",
            "mk": "Советување за враќање и реинтеграција",
            "cnr": "Savjetovanje o povratku i reintegraciji",
        },
        "summary": {"en": "Counselling returnees on assisted voluntary return and sustainable reintegration."},
        "thematic_areas": ["return", "reintegration"],
        "languages": ["en", "mk", "cnr"],
        "level": "advanced",
        "estimated_minutes": 180,
        "modules": [
            ({"en": "Assisted voluntary return", "mk": "Потпомогнато доброволно враќање"}, "https://www.iom.int/", True),
            ({"en": "Reintegration planning", "mk": "Планирање на реинтеграција"}, "https://www.iom.int/", True),
        ],
    },
]
COHORT = ("asylum-procedures-eu-acquis", "Asylum procedures - Belgrade, March 2026 cohort", "RS",
          ["learner.rs", "learner2.rs"])
SELF_ENROLMENTS = [("learner.me", "identification-of-vulnerable-migrants", 1),
                   ("learner.mk", "return-and-reintegration-counselling", 1),
                   ("learner.ba", "identification-of-vulnerable-migrants", 2)]


def _principal(user: User) -> Principal:
    return Principal(user_id=user.id, email=user.email, role=user.role, country_code=user.country_code,
                     session_id=uuid.UUID(int=0))


def _load_courses(session: Session, now: dt.datetime) -> None:
    instructor = _principal(users_service.find_by_email(session, f"instructor@{DEMO_DOMAIN}"))
    for spec in COURSES:
        if courses_repository.slug_taken(session, spec["slug"]):
            continue
        fields = {k: v for k, v in spec.items() if k != "modules"}
        course = courses_service.create_course(session, instructor, CourseCreate(**fields))
        for title, url, required in spec["modules"]:
            courses_service.add_module(
                session, instructor, course.id,
                ModuleCreate(title=title, kind=ModuleKind.resource, required=required, resource_url=url, resource_mime="text/html"),
            )
        courses_service.publish(session, instructor, course.id)
    slug, name, country, members = COHORT
    coordinator = _principal(users_service.find_by_email(session, f"coordinator.{country.lower()}@{DEMO_DOMAIN}"))
    course = courses_service.get_course_by_slug(session, coordinator, slug)
    if not any(c.name == name for c in enrolments_service.list_cohorts(session, coordinator, course.id)):
        cohort = enrolments_service.create_cohort(
            session, coordinator,
            CohortCreate(course_id=course.id, name=name, starts_on=dt.date(2026, 3, 2), ends_on=dt.date(2026, 3, 27)),
        )
        enrolments_service.add_members(
            session, coordinator, cohort.id, user_ids=[], due_at=None, now=now,
            emails=[(i, f"{m}@{DEMO_DOMAIN}") for i, m in enumerate(members, start=1)],
        )
    for who, slug, viewed in SELF_ENROLMENTS:
        learner = _principal(users_service.find_by_email(session, f"{who}@{DEMO_DOMAIN}"))
        course = courses_service.get_course_by_slug(session, learner, slug)
        enrolments_service.self_enrol(session, learner, course.id, due_at=None, now=now)
        for module in courses_service.modules_of(session, course.id)[:viewed]:
            enrolments_service.mark_viewed(session, learner, module.id, now=now)


def load_demo(settings: Settings, *, progress: Console | None = None) -> list[DemoLogin]:
    engine = make_engine(settings.resolved_database_url)
    passwords = PasswordHashing(settings)
    try:
        with make_session_factory(writing(engine), settings.public_base_url)() as session, session.begin():
            with Progress(console=progress, transient=True, disable=progress is None) as bar:
                task = bar.add_task("demo people", total=len(PEOPLE))
                for person in PEOPLE:
                    _upsert_person(session, passwords, person)
                    bar.advance(task)
                bar.add_task("demo courses", total=None)
                _load_courses(session, utcnow())
    finally:
        engine.dispose()
    return [DemoLogin(p.role.value, p.country, p.email, PASSWORDS[p.role]) for p in PEOPLE]
