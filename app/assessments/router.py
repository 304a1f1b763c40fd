from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from pydantic import AfterValidator

from app.assessments import attempt_service, quiz_service, report_service, service, views
from app.assessments.content import QuestionInput, no_nul
from app.assessments.models import QuestionType
from app.assessments.schemas import (
    AnswersIn,
    AttemptOut,
    AttemptPage,
    BankCreate,
    BankOut,
    BankUpdate,
    CategoryCreate,
    CategoryOut,
    ImportReport,
    ManualGrade,
    PrePostReport,
    QuestionOut,
    QuestionPage,
    QuestionReport,
    QuestionVersionOut,
    QueueEntry,
    QuizCreate,
    QuizOut,
    QuizReport,
    QuizUpdate,
    SavedAnswer,
    SaveResult,
    SlotsIn,
    SubmitIn,
)
from app.auth.dependencies import CurrentPrincipal
from app.core.db import utcnow
from app.core.deps import PreferredLanguages, SessionDep
from app.core.errors import UnsupportedMediaType
from app.core.i18n import LanguageTag
from app.core.openapi import problems
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.uploads import SpooledUpload, spooled_body

router = APIRouter(prefix="/api/v1", responses=problems(401))


def _no_nul(value: str | None) -> str | None:
    return None if value is None else no_nul(value)


ERRORS = problems(403, 404, 409, 422)
Format = Literal["gift", "moodle_xml"]
XML_TYPES = ("application/xml", "text/xml")

QUESTION_EXAMPLES = {
    "single_choice": {
        "summary": "Single choice, English and Serbian",
        "value": {
            "type": "single_choice",
            "category": "Vulnerability/Indicators",
            "tags": ["vulnerability"],
            "points": 1,
            "text": {"en": "Which applicant has special procedural needs?",
                     "sr-Latn": "Koji tražilac ima posebne procesne potrebe?"},
            "choices": [
                {"text": {"en": "An unaccompanied child", "sr-Latn": "Dete bez pratnje"}, "correct": True},
                {"text": {"en": "An adult travelling with family", "sr-Latn": "Odrasla osoba koja putuje sa porodicom"}},
            ],
            "explanation": {"en": "Unaccompanied children always have special procedural needs."},
        },
    },
    "numeric": {
        "summary": "Numeric with tolerance",
        "value": {"type": "numeric", "text": {"en": "Within how many days must an application be registered?"},
                  "answers": [{"value": 3, "tolerance": 0}]},
    },
    "matching": {
        "summary": "Matching",
        "value": {"type": "matching", "text": {"en": "Match each indicator with the vulnerability it suggests."},
                  "pairs": [{"prompt": {"en": "Scars, fear of uniforms"}, "match": {"en": "Survivor of torture"}},
                            {"prompt": {"en": "Documents held by a third person"}, "match": {"en": "Victim of trafficking"}}]},
    },
}
QuestionBody = Annotated[QuestionInput, Body(openapi_examples=QUESTION_EXAMPLES)]
QUIZ_EXAMPLE = {
    "module_id": "5d1c2a0e-3b0f-4c59-9d51-0f5a3b8b7e21",
    "intro": {"en": "Pre-test: identification of vulnerable persons", "sr-Latn": "Ulazni test: identifikacija ranjivih lica"},
    "time_limit_seconds": 1200,
    "max_attempts": 1,
    "passing_score": 0.6,
    "grading_method": "first",
    "test_phase": "pre",
    "review_after_submit": ["score"],
    "review_after_close": ["score", "answers", "marks", "correct_answers", "feedback"],
    "slots": [{"question_id": "0f8b7a9e-7d1c-4d7a-8f61-2c1e9b0d4a11"},
              {"category_id": "9a2e4c1b-5f3d-4e8a-b6c7-1d2e3f4a5b6c", "count": 5, "include_subcategories": True}],
}


# Banks --------------------------------------------------------------------------------------


@router.post("/question-banks", response_model=BankOut, status_code=status.HTTP_201_CREATED, responses=ERRORS, tags=["question-banks"])
def create_bank(data: BankCreate, session: SessionDep, principal: CurrentPrincipal) -> BankOut:
    """A bank of one course (its instructors) or of a thematic area (every instructor)."""
    return views.bank_out(session, service.create_bank(session, principal, data))


@router.get("/question-banks", response_model=list[BankOut], responses=problems(403), tags=["question-banks"])
def list_banks(
    session: SessionDep, principal: CurrentPrincipal, course_id: uuid.UUID | None = None,
    thematic_area: Annotated[str | None, Query(max_length=64), AfterValidator(_no_nul)] = None,
) -> list[BankOut]:
    banks = service.list_banks(session, principal, course_id=course_id, thematic_area=thematic_area)
    return [views.bank_out(session, b) for b in banks]


@router.get("/question-banks/{bank_id}", response_model=BankOut, responses=problems(404), tags=["question-banks"])
def get_bank(bank_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> BankOut:
    return views.bank_out(session, service.get_bank(session, principal, bank_id))


@router.patch("/question-banks/{bank_id}", response_model=BankOut, responses=ERRORS, tags=["question-banks"])
def update_bank(bank_id: uuid.UUID, data: BankUpdate, session: SessionDep, principal: CurrentPrincipal) -> BankOut:
    return views.bank_out(session, service.update_bank(session, principal, bank_id, data, utcnow()))


@router.delete("/question-banks/{bank_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS, tags=["question-banks"])
def delete_bank(bank_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> None:
    """Delete a bank whose questions no quiz and no attempt uses (409 otherwise)."""
    service.delete_bank(session, principal, bank_id)


@router.post("/question-banks/{bank_id}/categories", response_model=CategoryOut, status_code=status.HTTP_201_CREATED,
             responses=ERRORS, tags=["question-banks"])
def create_category(bank_id: uuid.UUID, data: CategoryCreate, session: SessionDep, principal: CurrentPrincipal) -> CategoryOut:
    """A category path such as `Vulnerability/Indicators` (parents are created too)."""
    category = service.create_category(session, principal, bank_id, data.path)
    return CategoryOut(id=category.id, path=category.path, question_count=0)


@router.delete("/question-categories/{category_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS, tags=["question-banks"])
def delete_category(category_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> None:
    """Delete a category no question and no quiz uses (409 otherwise)."""
    service.delete_category(session, principal, category_id)


# Questions ----------------------------------------------------------------------------------


@router.post("/question-banks/{bank_id}/questions", response_model=QuestionOut, status_code=status.HTTP_201_CREATED,
             responses=ERRORS, tags=["question-banks"])
def create_question(bank_id: uuid.UUID, data: QuestionBody, session: SessionDep, principal: CurrentPrincipal) -> QuestionOut:
    """Add a question (version 1). Types: single_choice, multiple_response, true_false, short_text,
    numeric, matching, ordering, essay. The response has the stored form with opaque ids."""
    question = service.create_question(session, principal, bank_id, data, utcnow())
    return views.questions_out(session, [question])[0]


@router.get("/question-banks/{bank_id}/questions", response_model=QuestionPage, responses=problems(400, 404, 422), tags=["question-banks"])
def list_questions(
    bank_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal,
    category_id: uuid.UUID | None = None,
    subcategories: bool = Query(default=False, description="With `category_id`: include its subcategories"),
    tag: Annotated[str | None, Query(max_length=64), AfterValidator(_no_nul)] = None,
    type: QuestionType | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Words in the name or text, any language"),
                 AfterValidator(_no_nul)] = None,
    archived: bool = False,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> QuestionPage:
    rows, next_cursor = service.list_questions(
        session, principal, bank_id, category_id=category_id, subcategories=subcategories, tag=tag, qtype=type, q=q,
        archived=archived, cursor=cursor, limit=limit,
    )
    return QuestionPage(items=views.questions_out(session, rows), next_cursor=next_cursor,
                        next=str(request.url.include_query_params(cursor=next_cursor)) if next_cursor else None)


@router.get("/questions/{question_id}", response_model=QuestionOut, responses=problems(404), tags=["question-banks"])
def get_question(question_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> QuestionOut:
    return views.questions_out(session, [service.get_question(session, principal, question_id)])[0]


@router.put("/questions/{question_id}", response_model=QuestionOut, responses=ERRORS, tags=["question-banks"])
def update_question(question_id: uuid.UUID, data: QuestionBody, session: SessionDep, principal: CurrentPrincipal) -> QuestionOut:
    """Replace the question's content: a changed content is a new version (attempts keep theirs);
    category and tags change in place."""
    question = service.update_question(session, principal, question_id, data, utcnow())
    return views.questions_out(session, [question])[0]


@router.delete("/questions/{question_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS, tags=["question-banks"])
def archive_question(question_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> None:
    """Archive: no longer listed or drawn; attempts and reports keep it. 409 while a quiz has it fixed."""
    service.archive_question(session, principal, question_id, utcnow())


@router.get("/questions/{question_id}/versions", response_model=list[QuestionVersionOut], responses=problems(404), tags=["question-banks"])
def list_versions(question_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> list[QuestionVersionOut]:
    return [views.version_out(v) for v in service.versions(session, principal, question_id)]


@router.get("/questions/{question_id}/versions/{number}", response_model=QuestionVersionOut, responses=problems(404),
            tags=["question-banks"])
def get_version(question_id: uuid.UUID, number: int, session: SessionDep, principal: CurrentPrincipal) -> QuestionVersionOut:
    return views.version_out(service.version(session, principal, question_id, number))


IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/plain": {"schema": {"type": "string"}, "example": (
                "$CATEGORY: $course$/top/Vulnerability\n\n"
                "::UAC::{mlang en}Who is an unaccompanied child?{mlang}{mlang sr_lt}Ko je dete bez pratnje?{mlang} {\n"
                "\t=A person under 18 without a responsible adult\n\t~Any person under 18\n}\n")},
            "application/xml": {"schema": {"type": "string"}},
        },
    }
}


@router.post("/question-banks/{bank_id}/import", response_model=ImportReport, responses={**ERRORS, **problems(400, 413, 415)},
             openapi_extra=IMPORT_BODY, tags=["question-banks"])
def import_questions(
    bank_id: uuid.UUID,
    upload: Annotated[SpooledUpload, Depends(spooled_body)],
    session: SessionDep,
    principal: CurrentPrincipal,
    format: Format | None = Query(default=None, description="Default: moodle_xml for an XML body, else gift"),
    language: Annotated[LanguageTag, Query(description="Language of texts without multilingual markup")] = "en",
    dry_run: bool = Query(default=False, description="Check and report without storing"),
) -> ImportReport:
    """Import a GIFT or Moodle XML file (the raw body). All or nothing: when any question is
    refused, nothing is stored and the 422 problem's `report` says why, question by question."""
    fmt = format or ("moodle_xml" if upload.content_type in XML_TYPES else "gift")
    if upload.content_type not in (None, "text/plain", "application/octet-stream", *XML_TYPES):
        raise UnsupportedMediaType("Send the file as the body: text/plain (GIFT) or application/xml (Moodle XML).")
    return service.import_questions(session, principal, bank_id, upload.file.read(), fmt=fmt, language=language,
                                    dry_run=dry_run, now=utcnow())


@router.get("/question-banks/{bank_id}/export", response_class=Response, responses={**problems(404),
            200: {"content": {"text/plain": {}, "application/xml": {}}}}, tags=["question-banks"])
def export_bank(
    bank_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, format: Format = "gift",
    category_id: uuid.UUID | None = Query(default=None, description="Only this category and its subcategories"),
) -> Response:
    """The bank as GIFT (`{mlang}` blocks for several languages) or Moodle XML."""
    filename, text = service.export_bank(session, principal, bank_id, fmt=format, category_id=category_id)
    media = "text/plain; charset=utf-8" if format == "gift" else "application/xml; charset=utf-8"
    return Response(text, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# Quizzes ------------------------------------------------------------------------------------


@router.post("/quizzes", response_model=QuizOut, status_code=status.HTTP_201_CREATED, responses=ERRORS, tags=["quizzes"])
def create_quiz(
    data: Annotated[QuizCreate, Body(openapi_examples={"pre_test": {"summary": "A timed pre-test", "value": QUIZ_EXAMPLE}})],
    session: SessionDep, principal: CurrentPrincipal, lang: PreferredLanguages,
) -> QuizOut:
    """Give an `assessment` module its quiz: settings and questions (fixed and/or drawn)."""
    now = utcnow()
    return views.quiz_out(session, principal, quiz_service.create_quiz(session, principal, data, now), lang, now)


@router.get("/quizzes/{quiz_id}", response_model=QuizOut, responses=problems(404), tags=["quizzes"])
def get_quiz(quiz_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, lang: PreferredLanguages,
             translations: bool = False) -> QuizOut:
    """The quiz with the caller's standing (`me`); its slots for the course's staff."""
    now = utcnow()
    return views.quiz_out(session, principal, quiz_service.get_quiz(session, principal, quiz_id), lang, now, translations=translations)


@router.get("/modules/{module_id}/quiz", response_model=QuizOut, responses=problems(404), tags=["quizzes"])
def get_module_quiz(module_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, lang: PreferredLanguages) -> QuizOut:
    now = utcnow()
    return views.quiz_out(session, principal, quiz_service.get_quiz_of_module(session, principal, module_id), lang, now)


@router.patch("/quizzes/{quiz_id}", response_model=QuizOut, responses=ERRORS, tags=["quizzes"])
def update_quiz(quiz_id: uuid.UUID, data: QuizUpdate, session: SessionDep, principal: CurrentPrincipal, lang: PreferredLanguages) -> QuizOut:
    """Change settings; attempts already started keep their questions and time limit."""
    now = utcnow()
    return views.quiz_out(session, principal, quiz_service.update_quiz(session, principal, quiz_id, data, now), lang, now)


@router.put("/quizzes/{quiz_id}/slots", response_model=QuizOut, responses=ERRORS, tags=["quizzes"])
def set_slots(quiz_id: uuid.UUID, data: SlotsIn, session: SessionDep, principal: CurrentPrincipal, lang: PreferredLanguages) -> QuizOut:
    """Replace the quiz's questions: fixed questions and draws from categories, in order."""
    now = utcnow()
    return views.quiz_out(session, principal, quiz_service.set_slots(session, principal, quiz_id, data.slots, now), lang, now)


@router.delete("/quizzes/{quiz_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS, tags=["quizzes"])
def delete_quiz(quiz_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> None:
    """Delete a quiz nobody has attempted (409 otherwise)."""
    quiz_service.delete_quiz(session, principal, quiz_id)


# Attempts -----------------------------------------------------------------------------------


@router.post("/quizzes/{quiz_id}/attempts", response_model=AttemptOut, status_code=status.HTTP_201_CREATED,
             responses={**ERRORS, 200: {"model": AttemptOut, "description": "Your open attempt, resumed"}}, tags=["quizzes"])
def start_attempt(quiz_id: uuid.UUID, response: Response, session: SessionDep, principal: CurrentPrincipal,
                  lang: PreferredLanguages) -> AttemptOut:
    """Start an attempt (201), or resume your open one (200) on any device. The questions drawn
    and their order are fixed for the attempt. 409: not open yet or closed, no attempts left,
    not enrolled."""
    now = utcnow()
    attempt, created = attempt_service.start(session, principal, quiz_id, now)
    if not created:
        response.status_code = status.HTTP_200_OK
    ctx = quiz_service.get_quiz(session, principal, quiz_id)
    return views.attempt_out(session, principal, ctx, attempt, lang, now)


@router.get("/quizzes/{quiz_id}/attempts", response_model=AttemptPage, responses=problems(400, 404), tags=["quizzes"])
def list_attempts(
    quiz_id: uuid.UUID, request: Request, session: SessionDep, principal: CurrentPrincipal, user_id: uuid.UUID | None = None,
    cursor: str | None = Query(default=None, max_length=500), limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> AttemptPage:
    """Attempts in your scope, oldest first: a learner's own; the course's instructors,
    coordinators (their country) and admins see learners' attempts."""
    now = utcnow()
    ctx, rows, next_cursor = attempt_service.list_attempts(session, principal, quiz_id, user_id=user_id, cursor=cursor,
                                                           limit=limit, now=now)
    manages = quiz_service.can_manage(session, principal, ctx.course.id)
    return AttemptPage(
        items=[views.attempt_summary(ctx.quiz, a, now, reviewer=attempt_service.is_reviewer(session, principal, a, ctx.quiz, manages=manages))
               for a in rows],
        next_cursor=next_cursor, next=str(request.url.include_query_params(cursor=next_cursor)) if next_cursor else None,
    )


@router.get("/attempts/{attempt_id}", response_model=AttemptOut, responses=problems(404), tags=["quizzes"])
def get_attempt(attempt_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, lang: PreferredLanguages) -> AttemptOut:
    """An attempt with its questions; what a learner sees after submitting follows the quiz's review options."""
    now = utcnow()
    attempt, ctx = attempt_service.get_attempt(session, principal, attempt_id, now)
    return views.attempt_out(session, principal, ctx, attempt, lang, now)


ANSWERS_EXAMPLE = {"answers": [{"item_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "response": "a3f09c1e"},
                               {"item_id": "16fd2706-8baf-433b-82eb-8c7fada847da", "response": ["b71c02d4", "0e9a33f1"]}]}


@router.patch("/attempts/{attempt_id}/answers", response_model=SaveResult, responses=ERRORS, tags=["quizzes"])
def save_answers(
    attempt_id: uuid.UUID, data: Annotated[AnswersIn, Body(examples=[ANSWERS_EXAMPLE])], session: SessionDep,
    principal: CurrentPrincipal,
) -> SaveResult:
    """Autosave some answers (the others stay). 409 `attempt-closed` after the time limit: those
    answers are not saved, and the attempt is graded with the ones saved before."""
    now = utcnow()
    attempt, quiz, saved = attempt_service.save_answers(session, principal, attempt_id, data.answers, now)
    return SaveResult(attempt_id=attempt.id, saved=[SavedAnswer(item_id=i.id, saved_at=i.saved_at) for i in saved],
                      deadline_at=attempt_service.deadline(quiz, attempt), seconds_left=attempt_service.seconds_left(quiz, attempt, now))


@router.post("/attempts/{attempt_id}/submit", response_model=AttemptOut, responses=ERRORS, tags=["quizzes"])
def submit_attempt(attempt_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, lang: PreferredLanguages,
                   data: SubmitIn | None = None) -> AttemptOut:
    """Submit (optionally with last answers): graded on the server at once (essays wait for an
    instructor). Submitting again returns the same result."""
    now = utcnow()
    attempt_service.submit(session, principal, attempt_id, data.answers if data else [], now)
    attempt, ctx = attempt_service.get_attempt(session, principal, attempt_id, now)
    return views.attempt_out(session, principal, ctx, attempt, lang, now)


@router.get("/quizzes/{quiz_id}/grading-queue", response_model=list[QueueEntry], responses=problems(403, 404), tags=["quizzes"])
def grading_queue(quiz_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> list[QueueEntry]:
    """Essays waiting for a grade, oldest submission first (the course's instructors, admins)."""
    return views.queue_out(attempt_service.grading_queue(session, principal, quiz_id, utcnow()))


@router.put("/attempts/{attempt_id}/items/{item_id}/grade", response_model=AttemptOut, responses=ERRORS, tags=["quizzes"])
def grade_item(attempt_id: uuid.UUID, item_id: uuid.UUID, data: ManualGrade, session: SessionDep, principal: CurrentPrincipal,
               lang: PreferredLanguages) -> AttemptOut:
    """Grade an essay. When the attempt's last essay is graded, its score is final and reaches
    progress and the LRS; grading again updates them."""
    now = utcnow()
    attempt_service.grade_item(session, principal, attempt_id, item_id, points=data.points, comment=data.comment, now=now)
    attempt, ctx = attempt_service.get_attempt(session, principal, attempt_id, now)
    return views.attempt_out(session, principal, ctx, attempt, lang, now)


# Reports ------------------------------------------------------------------------------------

CSV = {200: {"content": {"text/csv": {}}}}


def _csv(text: str, name: str) -> Response:
    return Response(text, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/quizzes/{quiz_id}/report", response_model=QuizReport, responses=problems(403, 404), tags=["assessment-reports"])
def quiz_report(quiz_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> QuizReport:
    """Learners, attempts, grade distribution, pass rate, per country (coordinators: their country)."""
    return report_service.quiz_report(session, principal, quiz_id, utcnow())


@router.get("/quizzes/{quiz_id}/report/questions", response_model=QuestionReport, responses={**problems(403, 404), **CSV},
            tags=["assessment-reports"])
def question_report(
    quiz_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, lang: PreferredLanguages,
    attempts: Literal["all", "first"] = Query(default="all", description="Graded attempts analysed: all, or each learner's first"),
    format: Literal["json", "csv"] = "json",
) -> Response | QuestionReport:
    """Item analysis: facility index, discrimination index, distractor frequencies."""
    report = report_service.question_report(session, principal, quiz_id, utcnow(), which=attempts, languages=lang)
    return _csv(report_service.questions_csv(report), f"quiz-{quiz_id}-questions.csv") if format == "csv" else report


@router.get("/quizzes/{quiz_id}/report/pre-post", response_model=PrePostReport, responses={**problems(403, 404, 409), **CSV},
            tags=["assessment-reports"])
def pre_post_report(quiz_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal,
                    format: Literal["json", "csv"] = "json") -> Response | PrePostReport:
    """Pre-test and post-test grades per learner, and mean gains overall and per country
    (the quiz may be either of the pair)."""
    report = report_service.pre_post_report(session, principal, quiz_id, utcnow())
    return _csv(report_service.pre_post_csv(report), f"quiz-{quiz_id}-pre-post.csv") if format == "csv" else report


@router.get("/quizzes/{quiz_id}/report/attempts.csv", response_class=Response, responses={**problems(403, 404), **CSV},
            tags=["assessment-reports"])
def attempts_csv(quiz_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> Response:
    """Every attempt in your scope, one row each."""
    return _csv(report_service.attempts_csv(session, principal, quiz_id, utcnow()), f"quiz-{quiz_id}-attempts.csv")
