"""Question banks, categories and versioned questions; GIFT and Moodle XML import and export.

Rules: admins manage every bank; instructors the banks of the courses they own or teach and every
thematic-area bank (shared across courses); coordinators and learners never see banks. Editing a
question's content adds a version (attempts keep the version they were given). A question used as
a fixed quiz question is not archived; one used in attempts is archived, never deleted.

Imports are atomic: every question of the file is checked first; when any is refused, nothing is
stored and the 422 problem carries the per-question report. `dry_run` checks without storing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from app.assessments import content, gift, moodle_xml, repository
from app.assessments.content import question_input
from app.assessments.interchange import DocumentUnreadable, ExportQuestion
from app.assessments.models import Question, QuestionBank, QuestionCategory, QuestionType, QuestionVersion
from app.assessments.schemas import BankCreate, BankUpdate, ImportReport, ImportRow
from app.auth.principal import Principal
from app.core.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed, field_error
from app.core.pagination import decode_keyset, keyset_page
from app.core.patching import apply_changes
from app.courses import service as courses_service
from app.reference import service as reference_service
from app.users.models import Role

ImportFormat = Literal["gift", "moodle_xml"]
TYPE_NAMES = frozenset(t.value for t in QuestionType)


class QuestionInUse(Conflict):
    code = "question-in-use"
    title = "Question in use"


def _staff(principal: Principal) -> None:
    if principal.role not in (Role.admin, Role.instructor):
        raise Forbidden("Only admins and instructors use question banks.")


# Banks ------------------------------------------------------------------------------------


def create_bank(session: Session, principal: Principal, data: BankCreate) -> QuestionBank:
    _staff(principal)
    if data.course_id is not None:
        courses_service.get_editable_course(session, principal, data.course_id)
    else:
        try:
            area = reference_service.get_thematic_area(session, data.thematic_area or "")
        except NotFound:
            area = None
        if area is None or not area.is_active:
            raise ValidationFailed(f"Unknown thematic area {data.thematic_area!r}.",
                                   errors=[field_error(["body", "thematic_area"], "unknown")])
    bank = QuestionBank(title=data.title, description=data.description, course_id=data.course_id,
                        thematic_area_code=data.thematic_area, owner_id=principal.user_id)
    repository.add(session, bank)
    return bank


def get_bank(session: Session, principal: Principal, bank_id: uuid.UUID) -> QuestionBank:
    bank = repository.get_bank(session, principal, bank_id)
    if bank is None:
        raise NotFound(f"No question bank {bank_id}.")
    return bank


def list_banks(session: Session, principal: Principal, *, course_id: uuid.UUID | None, thematic_area: str | None) -> list[QuestionBank]:
    _staff(principal)
    return repository.list_banks(session, principal, course_id=course_id, thematic_area=thematic_area)


def update_bank(session: Session, principal: Principal, bank_id: uuid.UUID, data: BankUpdate, now: dt.datetime) -> QuestionBank:
    bank = get_bank(session, principal, bank_id)
    if apply_changes(bank, data.model_dump(exclude_unset=True)):
        bank.updated_at = now
    session.flush()
    return bank


def delete_bank(session: Session, principal: Principal, bank_id: uuid.UUID) -> None:
    bank = get_bank(session, principal, bank_id)
    questions = repository.select_question_ids(bank.id)
    if repository.question_in_attempts(session, questions):
        raise QuestionInUse("Learners have answered questions of this bank; it is kept for their attempts and reports.")
    if repository.question_in_slots(session, questions) or repository.bank_categories_in_slots(session, bank.id):
        raise QuestionInUse("Quizzes use questions of this bank; remove them from the quizzes first.")
    session.delete(bank)
    session.flush()


def bank_question_counts(session: Session, bank_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    return repository.question_counts(session, bank_ids)


def categories(session: Session, bank: QuestionBank) -> list[tuple[QuestionCategory, int]]:
    counts = repository.category_counts(session, bank.id)
    return [(c, counts.get(c.id, 0)) for c in repository.categories(session, bank.id)]


def ensure_category(session: Session, bank: QuestionBank, path: str) -> tuple[QuestionCategory, bool]:
    """The category with this path, created (with its parents) when missing."""
    parts = [" ".join(p.split()) for p in path.split("/") if p.strip()]
    if not parts:
        raise ValidationFailed("A category path names at least one category.", errors=[field_error(["body", "category"], "empty")])
    created = False
    category = None
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])[:500]
        category = repository.category_by_path(session, bank.id, prefix)
        if category is None:
            category = QuestionCategory(bank_id=bank.id, path=prefix)
            repository.add(session, category)
            created = True
    assert category is not None
    return category, created


def create_category(session: Session, principal: Principal, bank_id: uuid.UUID, path: str) -> QuestionCategory:
    bank = get_bank(session, principal, bank_id)
    category, _ = ensure_category(session, bank, path)
    return category


def delete_category(session: Session, principal: Principal, category_id: uuid.UUID) -> None:
    category = repository.get_category(session, category_id)
    if category is None or repository.get_bank(session, principal, category.bank_id) is None:
        raise NotFound(f"No category {category_id}.")
    if repository.category_in_use(session, category.id):
        raise Conflict("Questions or quizzes use this category; move them first.")
    session.delete(category)
    session.flush()


# Questions --------------------------------------------------------------------------------


def get_question(session: Session, principal: Principal, question_id: uuid.UUID) -> Question:
    question = repository.get_question(session, principal, question_id)
    if question is None:
        raise NotFound(f"No question {question_id}.")
    return question


def _new_version(question: Question, body: BaseModel, number: int, principal: Principal, now: dt.datetime) -> QuestionVersion:
    return QuestionVersion(
        question_id=question.id, version=number, type=body.type, name=question.name, text=body.text,
        feedback=body.feedback, explanation=body.explanation, points=body.points, data=content.stored_data(body),
        created_at=now, created_by_id=principal.user_id,
    )


def _add_question(session: Session, principal: Principal, bank: QuestionBank, body: BaseModel, now: dt.datetime) -> tuple[Question, QuestionVersion, bool]:
    category, created = ensure_category(session, bank, body.category) if body.category else (None, False)
    name = body.name or content.default_name(body.text)
    question = Question(
        bank_id=bank.id, category_id=category.id if category else None, type=body.type, name=name, current_version=1,
        search_text=content.search_text(name, body.text), created_by_id=principal.user_id, created_at=now, updated_at=now,
    )
    repository.add(session, question)
    version = _new_version(question, body, 1, principal, now)
    repository.add(session, version)
    if body.tags:
        repository.replace_tags(session, question.id, body.tags)
    return question, version, created


def create_question(session: Session, principal: Principal, bank_id: uuid.UUID, body: BaseModel, now: dt.datetime) -> Question:
    bank = get_bank(session, principal, bank_id)
    question, _, _ = _add_question(session, principal, bank, body, now)
    return question


def _authoring(version: QuestionVersion) -> dict:
    """A version in the authoring shape, with defaults applied (to compare with an edit)."""
    raw = content.to_input(version.type, version.data, name=version.name, text=version.text, feedback=version.feedback,
                           explanation=version.explanation, points=version.points)
    return question_input.validate_python(raw).model_dump(mode="json", exclude={"category", "tags"})


def update_question(session: Session, principal: Principal, question_id: uuid.UUID, body: BaseModel, now: dt.datetime) -> Question:
    question = get_question(session, principal, question_id)
    if body.type != question.type:
        raise ValidationFailed("A question keeps its type; create a new question instead.",
                               errors=[field_error(["body", "type"], f"this question is {question.type.value}")])
    bank = get_bank(session, principal, question.bank_id)
    category, _ = ensure_category(session, bank, body.category) if body.category else (None, False)
    question.category_id = category.id if category else None
    repository.replace_tags(session, question.id, body.tags)
    current = repository.version(session, question.id, question.current_version)
    name = body.name or question.name
    edited = body.model_copy(update={"name": name}).model_dump(mode="json", exclude={"category", "tags"})
    if current is None or edited != _authoring(current):
        question.name = name
        question.current_version += 1
        repository.add(session, _new_version(question, body, question.current_version, principal, now))
        question.search_text = content.search_text(name, body.text)
    question.updated_at = now
    session.flush()
    return question


def archive_question(session: Session, principal: Principal, question_id: uuid.UUID, now: dt.datetime) -> Question:
    question = get_question(session, principal, question_id)
    if repository.question_in_slots(session, [question.id]):
        raise QuestionInUse("A quiz uses this question; remove it from the quiz first.")
    question.archived_at = question.archived_at or now
    question.updated_at = now
    session.flush()
    return question


def list_questions(
    session: Session, principal: Principal, bank_id: uuid.UUID, *, category_id: uuid.UUID | None, subcategories: bool,
    tag: str | None, qtype: QuestionType | None, q: str | None, archived: bool, cursor: str | None, limit: int,
) -> tuple[list[Question], str | None]:
    bank = get_bank(session, principal, bank_id)
    category_ids = None
    if category_id is not None:
        category = repository.get_category(session, category_id)
        if category is None or category.bank_id != bank.id:
            raise NotFound(f"No category {category_id} in this bank.")
        category_ids = [c.id for c in repository.categories(session, bank.id)
                        if c.id == category.id or (subcategories and c.path.startswith(category.path + "/"))]
    rows = repository.list_questions(session, bank.id, category_ids=category_ids, tag=tag, qtype=qtype, q=q,
                                     archived=archived, after=decode_keyset(cursor), limit=limit + 1)
    return keyset_page(rows, limit, lambda question: question.created_at)


def versions(session: Session, principal: Principal, question_id: uuid.UUID) -> list[QuestionVersion]:
    question = get_question(session, principal, question_id)
    return repository.versions_of(session, question.id)


def version(session: Session, principal: Principal, question_id: uuid.UUID, number: int) -> QuestionVersion:
    question = get_question(session, principal, question_id)
    found = repository.version(session, question.id, number)
    if found is None:
        raise NotFound(f"Question {question_id} has no version {number}.")
    return found


def question_details(session: Session, questions: list[Question]) -> tuple[dict, dict, dict]:
    """Current versions, tags and categories of questions (for responses)."""
    current = repository.current_versions(session, questions)
    tags = repository.tags_of(session, [q.id for q in questions])
    cats = repository.categories_by_id(session, [q.category_id for q in questions if q.category_id])
    return current, tags, cats


# Import and export ------------------------------------------------------------------------


def _error_text(err: dict) -> str:
    loc = [str(p) for p in err.get("loc", ())]
    if loc and loc[0] in TYPE_NAMES:
        loc = loc[1:]
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{'.'.join(loc)}: {msg}" if loc else msg


def import_questions(
    session: Session, principal: Principal, bank_id: uuid.UUID, data: bytes, *, fmt: ImportFormat, language: str,
    dry_run: bool, now: dt.datetime,
) -> ImportReport:
    bank = get_bank(session, principal, bank_id)
    reader = gift.parse if fmt == "gift" else moodle_xml.parse
    try:
        parsed = reader(data, default_language=language)
    except DocumentUnreadable as exc:
        raise BadRequest(str(exc)) from None
    if not parsed:
        raise ValidationFailed("The file holds no questions.", errors=[field_error(["body"], "no questions")])
    rows: list[ImportRow] = []
    accepted: list[tuple[ImportRow, BaseModel]] = []
    for p in parsed:
        qtype = (p.body or {}).get("type")
        row = ImportRow(index=p.index, line=p.line, name=p.name, type=qtype if qtype in TYPE_NAMES else None,
                        category=p.category, status="valid", errors=list(p.errors), warnings=list(p.warnings))
        rows.append(row)
        if p.skipped:
            row.status = "skipped"
            row.warnings.append(p.skipped)
            continue
        if not row.errors:
            try:
                body = question_input.validate_python(p.body)
            except ValidationError as exc:
                row.errors.extend(_error_text(e) for e in exc.errors())
            else:
                accepted.append((row, body))
        if row.errors:
            row.status = "refused"
    refused = [r for r in rows if r.status == "refused"]
    created: list[str] = []

    def report() -> ImportReport:
        return ImportReport(
            format=fmt, dry_run=dry_run, imported=sum(r.status == "imported" for r in rows), refused=len(refused),
            skipped=sum(r.status == "skipped" for r in rows), categories_created=created, questions=rows,
        )

    if refused:
        raise ValidationFailed(
            f"{len(refused)} of {len(rows)} questions are refused; nothing was imported.",
            errors=[field_error(["body", f"question {r.index}"], "; ".join(r.errors), "import_question") for r in refused],
            report=report().model_dump(mode="json"),
        )
    if not accepted:
        raise ValidationFailed("The file holds no importable question.", errors=[field_error(["body"], "only skipped entries")],
                               report=report().model_dump(mode="json"))
    if dry_run:
        return report()
    for row, body in accepted:
        question, _, new_category = _add_question(session, principal, bank, body, now)
        row.status = "imported"
        row.question_id = question.id
        if new_category and body.category not in created:
            created.append(body.category)
    return report()


def export_bank(
    session: Session, principal: Principal, bank_id: uuid.UUID, *, fmt: ImportFormat, category_id: uuid.UUID | None
) -> tuple[str, str]:
    """(file name, text) of the bank (or one category and its subcategories) in GIFT or Moodle XML."""
    bank = get_bank(session, principal, bank_id)
    category_ids = None
    if category_id is not None:
        category = repository.get_category(session, category_id)
        if category is None or category.bank_id != bank.id:
            raise NotFound(f"No category {category_id} in this bank.")
        category_ids = [c.id for c in repository.categories(session, bank.id)
                        if c.id == category.id or c.path.startswith(category.path + "/")]
    questions = repository.questions_of_bank(session, bank.id, category_ids)
    current, tags, cats = question_details(session, questions)
    exported = []
    for q in questions:
        v = current[q.id]
        body = content.to_input(v.type, v.data, name=v.name, text=v.text, feedback=v.feedback, explanation=v.explanation,
                                points=v.points)
        path = cats[q.category_id].path if q.category_id else None
        exported.append(ExportQuestion(id=str(q.id), version=v.version, category=path, tags=tags[q.id], body=body))
    exported.sort(key=lambda e: (e.category or "",))
    title = bank.title.get("en") or next(iter(bank.title.values()))
    if fmt == "gift":
        return f"bank-{bank.id}.gift.txt", gift.write(exported, title=title)
    return f"bank-{bank.id}.xml", moodle_xml.write(exported, title=title)
