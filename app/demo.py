"""The demo dataset: a few people in each beneficiary country with a known password per role,
three multilingual courses, a cohort, enrolments with some progress, and a pre-test/post-test on
identifying vulnerable persons (a question bank imported from GIFT) that two learners have taken.

Idempotent: running it again finds the same accounts and resets their demo passwords.
Never loaded in production (the CLI refuses).
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from sqlalchemy.orm import Session

from app.assessments import attempt_service, grading, quiz_service
from app.assessments import service as assessments_service
from app.assessments.schemas import AnswerIn, BankCreate, QuizCreate, SlotIn
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


ASSESSED_COURSE = "asylum-procedures-eu-acquis"
ASSESSMENT_BANK_TITLE = {"en": "Identification of vulnerable persons", "sr-Latn": "Identifikacija ranjivih lica"}
# Written as a trainer would bring it from Moodle: GIFT with multilang2 blocks (English, Serbian Latin).
ASSESSMENT_BANK_GIFT = r"""
$CATEGORY: $course$/top/Vulnerable persons/Identification

// [tag:vulnerability] [tag:children]
::Unaccompanied child::{mlang en}Who is an unaccompanied child?{mlang}{mlang sr_lt}Ko je dete bez pratnje?{mlang} {
  ={mlang en}A person under 18 who arrived without a responsible adult{mlang}{mlang sr_lt}Lice mlađe od 18 godina koje je stiglo bez odgovorne odrasle osobe{mlang}
  ~{mlang en}Any person under 21{mlang}{mlang sr_lt}Svako lice mlađe od 21 godine{mlang}
  ~{mlang en}A child travelling with an aunt{mlang}{mlang sr_lt}Dete koje putuje sa tetkom{mlang}#{mlang en}A child with a relative who is not their carer is a separated child.{mlang}{mlang sr_lt}Dete sa rođakom koji mu nije staratelj je razdvojeno dete.{mlang}
  ####{mlang en}Unaccompanied children have special procedural and reception needs.{mlang}{mlang sr_lt}Deca bez pratnje imaju posebne procesne i prihvatne potrebe.{mlang}
}

// [tag:vulnerability] [tag:trafficking]
::Trafficking indicators::{mlang en}Which are possible indicators of trafficking in human beings?{mlang}{mlang sr_lt}Koji su mogući pokazatelji trgovine ljudima?{mlang} {
  ~%50%{mlang en}Someone else holds the person's identity documents{mlang}{mlang sr_lt}Neko drugi drži lična dokumenta osobe{mlang}
  ~%50%{mlang en}The person is paying off a debt for the journey{mlang}{mlang sr_lt}Osoba otplaćuje dug za putovanje{mlang}
  ~%-50%{mlang en}The person travels with a valid visa{mlang}{mlang sr_lt}Osoba putuje sa važećom vizom{mlang}
  ~%-50%{mlang en}The person speaks several languages{mlang}{mlang sr_lt}Osoba govori više jezika{mlang}
}

// [tag:vulnerability] [tag:children]
::Age assessment::{mlang en}A medical age assessment is a measure of last resort.{mlang}{mlang sr_lt}Medicinska procena starosti je mera poslednjeg izbora.{mlang}{TRUE}

::Age of majority::{mlang en}Below which age (in years) is a person a child under EU asylum law?{mlang}{mlang sr_lt}Do koje godine starosti je osoba dete prema pravu EU o azilu?{mlang} {#18}

$CATEGORY: $course$/top/Vulnerable persons/Referral

// [tag:vulnerability] [tag:torture]
::Istanbul Protocol::{mlang en}Which UN manual guides the medical documentation of torture?{mlang}{mlang sr_lt}Koji priručnik UN usmerava medicinsko dokumentovanje mučenja?{mlang} {
  =Istanbul Protocol =Istanbulski protokol
}

// [tag:vulnerability] [tag:referral]
::Referral::{mlang en}Match each person with the service they are referred to.{mlang}{mlang sr_lt}Povežite svaku osobu sa službom kojoj se upućuje.{mlang} {
  ={mlang en}Survivor of torture{mlang}{mlang sr_lt}Žrtva mučenja{mlang} -> {mlang en}Medical and psychological care{mlang}{mlang sr_lt}Medicinska i psihološka pomoć{mlang}
  ={mlang en}Victim of trafficking{mlang}{mlang sr_lt}Žrtva trgovine ljudima{mlang} -> {mlang en}National referral mechanism{mlang}{mlang sr_lt}Nacionalni mehanizam upućivanja{mlang}
  ={mlang en}Unaccompanied child{mlang}{mlang sr_lt}Dete bez pratnje{mlang} -> {mlang en}Guardianship authority{mlang}{mlang sr_lt}Organ starateljstva{mlang}
  = -> {mlang en}Border police{mlang}{mlang sr_lt}Granična policija{mlang}
}
"""
# Learners who took the pre-test before the training, and how many questions each got right.
PRE_TEST_TAKERS = [("learner.rs", 2), ("learner2.rs", 4)]


def _key_response(version) -> object:
    """The right answer to a demo question, shaped as a learner's response."""
    key = grading.correct_response(version.type, version.data)
    if version.type.value in ("single_choice", "short_text"):
        return key[0]
    if version.type.value == "numeric":
        return key[0]["value"]
    return key


def _load_assessments(session: Session, now: dt.datetime) -> None:
    """A pre-test and a post-test (modules of the asylum course) drawing from a bank imported from
    GIFT; two Belgrade cohort learners took the pre-test."""
    instructor = _principal(users_service.find_by_email(session, f"instructor@{DEMO_DOMAIN}"))
    course = courses_service.get_course_by_slug(session, instructor, ASSESSED_COURSE)
    if assessments_service.list_banks(session, instructor, course_id=course.id, thematic_area=None):
        return
    bank = assessments_service.create_bank(session, instructor, BankCreate(title=ASSESSMENT_BANK_TITLE, course_id=course.id))
    assessments_service.import_questions(session, instructor, bank.id, ASSESSMENT_BANK_GIFT.encode(), fmt="gift",
                                         language="en", dry_run=False, now=now)
    category, _ = assessments_service.ensure_category(session, bank, "Vulnerable persons")
    draw_all = [SlotIn(category_id=category.id, count=6, include_subcategories=True)]
    quizzes = {}
    for phase, title, required in (
        ("pre", {"en": "Pre-test: identifying vulnerable persons", "sr-Latn": "Ulazni test: identifikacija ranjivih lica"}, False),
        ("post", {"en": "Post-test: identifying vulnerable persons", "sr-Latn": "Izlazni test: identifikacija ranjivih lica"}, True),
    ):
        module = courses_service.add_module(session, instructor, course.id, ModuleCreate(title=title, kind=ModuleKind.assessment, required=required))
        settings = (
            {"max_attempts": 1, "grading_method": "first", "review_after_submit": ["score"]}
            if phase == "pre" else
            {"max_attempts": 3, "grading_method": "highest", "passing_score": 0.7, "pre_test_id": quizzes["pre"],
             "review_after_submit": ["score", "answers", "marks", "correct_answers", "feedback"]}
        )
        ctx = quiz_service.create_quiz(session, instructor, QuizCreate(
            module_id=module.id, test_phase=phase, time_limit_seconds=900, shuffle_questions=True, slots=draw_all,
            intro={"en": "Six questions, 15 minutes.", "sr-Latn": "Šest pitanja, 15 minuta."}, **settings), now)
        quizzes[phase] = ctx.quiz.id
    for who, right in PRE_TEST_TAKERS:
        learner = _principal(users_service.find_by_email(session, f"{who}@{DEMO_DOMAIN}"))
        attempt, _ = attempt_service.start(session, learner, quizzes["pre"], now)
        items, versions = attempt_service.items_with_versions(session, [attempt])
        answers = [AnswerIn(item_id=item.id, response=_key_response(versions[item.question_version_id]))
                   for item in items[attempt.id][:right]]
        attempt_service.submit(session, learner, attempt.id, answers, now)


CONTENT_PACKAGES = Path(__file__).resolve().parent.parent / "content_packages"
# Playable modules from this repository's content_packages/ (folder, course slug, module title).
DEMO_PACKAGES = [
    ("cmi5-return-counselling", "return-and-reintegration-counselling",
     {"en": "Interactive lesson: the counselling interview (cmi5)", "sr-Latn": "Interaktivna lekcija: savetodavni razgovor (cmi5)"}),
]


def zip_folder(folder: Path) -> bytes:
    """A package zip of a folder (e.g. one of content_packages/)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _load_packages(settings: Settings, session_factory, now: dt.datetime) -> None:
    """Import the sample packages and add each as an optional module of its demo course."""
    from app.core.storage import make_storage
    from app.packages import service as packages_service

    storage = make_storage(settings)
    for folder, slug, title in DEMO_PACKAGES:
        if not (CONTENT_PACKAGES / folder).is_dir():
            continue  # an installation without the repository's sample content
        with session_factory() as session, session.begin():
            instructor = _principal(users_service.find_by_email(session, f"instructor@{DEMO_DOMAIN}"))
            course = courses_service.get_course_by_slug(session, instructor, slug)
            if any(m.title == title for m in courses_service.modules_of(session, course.id)):
                continue
            blob = zip_folder(CONTENT_PACKAGES / folder)
            version = packages_service.upload(session, storage, settings, instructor, io.BytesIO(blob), size=len(blob),
                                              sha256=None, filename=f"{folder}.zip", package_id=None)
        packages_service.claim(session_factory, version.id, now)
        packages_service.process(session_factory, storage, settings, version.id)
        with session_factory() as session, session.begin():
            module = courses_service.add_module(session, instructor, course.id,
                                                ModuleCreate(title=title, kind=ModuleKind.package, required=False))
            packages_service.attach_to_module(session, instructor, module.id, version.package_id)


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
                _load_assessments(session, utcnow())
        _load_packages(settings, make_session_factory(writing(engine), settings.public_base_url), utcnow())
    finally:
        engine.dispose()
    return [DemoLogin(p.role.value, p.country, p.email, PASSWORDS[p.role]) for p in PEOPLE]
