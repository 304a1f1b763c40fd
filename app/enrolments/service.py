"""Enrolments, cohorts and learner progress.

- Learners enrol themselves into published courses open to their country.
- Coordinators enrol people of their own country (one, many, or a CSV of emails); admins anyone.
- Cohorts are named groups of one course whose members are enrolled when added.
- Progress is per enrolment and module; `record_progress` is the one call every producer
  (resource views, package runtime, assessments) uses; it keeps the enrolment's status and
  course completion current and appends a `ProgressEvent` (the LRS records those as statements).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.core.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed, field_error
from app.core.pagination import decode_keyset, keyset_page
from app.core.patching import apply_changes
from app.courses import service as courses_service
from app.courses.models import Course, CourseStatus, Module, ModuleKind
from app.enrolments import lrs_feed, repository
from app.enrolments.completion import ProgressState, completion_ratio, course_completed, merge_status, module_satisfied
from app.enrolments.models import (
    Cohort,
    CohortMember,
    Enrolment,
    EnrolmentSource,
    EnrolmentStatus,
    ModuleProgress,
    ModuleStatus,
    ProgressEvent,
)
from app.enrolments.schemas import (
    BulkReport,
    CohortCreate,
    CohortUpdate,
    EnrolmentFilters,
    ProgressReport,
    RowResult,
)
from app.users import service as users_service
from app.users.models import Role, User

MAX_CSV_ROWS = 5000


class CourseClosed(Conflict):
    code = "course-closed"
    title = "Course takes no enrolments"


class EnrolmentWithdrawn(Conflict):
    code = "enrolment-withdrawn"
    title = "Enrolment withdrawn"


# Enrolling --------------------------------------------------------------------------------


def _require_open(course: Course) -> None:
    if course.status is not CourseStatus.published:
        raise CourseClosed(f"The course is {course.status.value}; it takes no new enrolments.")


def _enrol(
    session: Session,
    course: Course,
    user: User,
    *,
    source: EnrolmentSource,
    by: uuid.UUID | None,
    due_at: dt.datetime | None,
    cohort_id: uuid.UUID | None,
    now: dt.datetime,
) -> tuple[Enrolment, str]:
    existing = repository.find(session, course.id, user.id)
    if existing is not None and existing.status is not EnrolmentStatus.withdrawn:
        if cohort_id and existing.cohort_id is None:
            existing.cohort_id = cohort_id
        return existing, "already_enrolled"
    if existing is not None:
        existing.status = EnrolmentStatus.enrolled
        existing.withdrawn_at = None
        existing.enrolled_at = now
        existing.source = source
        existing.enrolled_by_id = by
        existing.due_at = due_at
        existing.cohort_id = cohort_id or existing.cohort_id
        session.flush()
        _recompute(session, existing, now)
        return existing, "re_enrolled"
    enrolment = Enrolment(
        course_id=course.id,
        user_id=user.id,
        cohort_id=cohort_id,
        status=EnrolmentStatus.enrolled,
        source=source,
        enrolled_at=now,
        due_at=due_at,
        enrolled_by_id=by,
    )
    repository.add(session, enrolment)
    return enrolment, "enrolled"


def self_enrol(
    session: Session, principal: Principal, course_id: uuid.UUID, *, due_at: dt.datetime | None, now: dt.datetime
) -> Enrolment:
    course = courses_service.get_course(session, principal, course_id)
    _require_open(course)
    if not courses_service.is_open_to_country(session, course, principal.country_code):
        raise NotFound(f"No course {course_id}.")
    user = users_service.get_by_id(session, principal.user_id)
    enrolment, _ = _enrol(
        session, course, user, source=EnrolmentSource.self, by=user.id, due_at=due_at, cohort_id=None, now=now
    )
    return enrolment


def _resolve_rows(
    session: Session, principal: Principal, user_ids: list[uuid.UUID], emails: list[tuple[int, str]]
) -> list[tuple[int, str, User | None, str | None]]:
    """(row, input, user or None, error) for every requested person, within the caller's scope."""
    rows: list[tuple[int, str, User | None, str | None]] = []
    for index, user_id in enumerate(user_ids, start=1):
        user = None
        try:
            user = users_service.get_user(session, principal, user_id)
        except NotFound:
            pass
        rows.append((index, str(user_id), user, None if user else "no such user in your scope"))
    offset = len(user_ids)
    for line, raw in emails:
        text = raw.strip()
        try:
            normalised = validate_email(text, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            rows.append((offset + line, text, None, "not an email address"))
            continue
        user = users_service.find_visible_by_email(session, principal, normalised)
        rows.append((offset + line, text, user, None if user else "no user with this email in your scope"))
    return rows


def bulk_enrol(
    session: Session,
    principal: Principal,
    course_id: uuid.UUID,
    *,
    user_ids: list[uuid.UUID],
    emails: list[tuple[int, str]],
    due_at: dt.datetime | None,
    atomic: bool,
    now: dt.datetime,
    cohort: Cohort | None = None,
) -> BulkReport:
    """Enrol many people; every row gets a result. Invalid rows create nothing; with `atomic`,
    any invalid row refuses the whole request."""
    if principal.role not in (Role.admin, Role.coordinator):
        raise Forbidden("Only admins and coordinators enrol other people.")
    course = courses_service.get_course(session, principal, course_id)
    _require_open(course)
    results: list[RowResult] = []
    seen: set[uuid.UUID] = set()
    planned: list[tuple[RowResult, User]] = []
    for row, given, user, error in _resolve_rows(session, principal, user_ids, emails):
        if user is not None and error is None:
            if not user.is_active:
                error = "the account is deactivated"
            elif cohort is not None and cohort.country_code and user.country_code != cohort.country_code:
                error = f"the cohort is for {cohort.country_code}"
            elif not courses_service.is_open_to_country(session, course, user.country_code):
                error = f"the course is not open to {user.country_code}"
            elif user.id in seen:
                error = "listed twice"
        if error is not None:
            results.append(RowResult(row=row, input=given, status="error", error=error))
            continue
        seen.add(user.id)
        result = RowResult(row=row, input=given, status="enrolled", user_id=user.id)
        results.append(result)
        planned.append((result, user))
    failed = sum(r.status == "error" for r in results)
    if atomic and failed:
        raise ValidationFailed(
            f"{failed} of {len(results)} rows cannot be enrolled; nothing was changed.",
            errors=[field_error(["body", str(r.row)], r.error or "", "enrolment_row") for r in results if r.status == "error"],
            rows=[r.model_dump(mode="json") for r in results],
        )
    for result, user in planned:
        enrolment, outcome = _enrol(
            session,
            course,
            user,
            source=EnrolmentSource.cohort if cohort else EnrolmentSource.manager,
            by=principal.user_id,
            due_at=due_at,
            cohort_id=cohort.id if cohort else None,
            now=now,
        )
        result.status = outcome  # type: ignore[assignment]
        result.enrolment_id = enrolment.id
    results.sort(key=lambda r: r.row)
    return BulkReport(
        course_id=course.id,
        enrolled=sum(r.status in ("enrolled", "re_enrolled") for r in results),
        already_enrolled=sum(r.status == "already_enrolled" for r in results),
        failed=failed,
        rows=results,
    )


def parse_email_csv(data: bytes) -> list[tuple[int, str]]:
    """Emails from a CSV: the `email` column when there is a header row, else the first column.
    Returns (line number, email) pairs; blank lines are skipped."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("The CSV must be UTF-8 text.") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t") if text.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    rows: list[tuple[int, str]] = []
    column = 0
    try:
        for line_no, record in enumerate(reader, start=1):
            cells = [c.strip() for c in record]
            if not any(cells):
                continue
            if line_no == 1 and not rows and "@" not in "".join(cells):
                lowered = [c.lower() for c in cells]
                if "email" not in lowered and "e-mail" not in lowered:
                    raise BadRequest("The CSV header has no `email` column.")
                column = lowered.index("email") if "email" in lowered else lowered.index("e-mail")
                continue
            rows.append((line_no, cells[column] if column < len(cells) else ""))
            if len(rows) > MAX_CSV_ROWS:
                raise BadRequest(f"At most {MAX_CSV_ROWS} rows per CSV.")
    except csv.Error as exc:
        raise BadRequest(f"The CSV cannot be read: {exc}") from None
    if not rows:
        raise BadRequest("The CSV lists no emails.")
    return rows


def withdraw(session: Session, principal: Principal, enrolment_id: uuid.UUID, *, now: dt.datetime) -> Enrolment:
    enrolment = get_enrolment(session, principal, enrolment_id)
    if principal.role is Role.instructor:
        raise Forbidden("Instructors do not unenrol learners.")
    if enrolment.status is not EnrolmentStatus.withdrawn:
        enrolment.status = EnrolmentStatus.withdrawn
        enrolment.withdrawn_at = now
        session.flush()
    return enrolment


# Reading ----------------------------------------------------------------------------------


def get_enrolment(session: Session, principal: Principal, enrolment_id: uuid.UUID) -> Enrolment:
    enrolment = repository.get_visible(session, principal, enrolment_id)
    if enrolment is None:
        raise NotFound(f"No enrolment {enrolment_id}.")
    return enrolment


def list_enrolments(
    session: Session, principal: Principal, filters: EnrolmentFilters, *, cursor: str | None, limit: int
) -> tuple[list[Enrolment], str | None]:
    rows = repository.list_visible(session, principal, filters, after=decode_keyset(cursor), limit=limit + 1)
    return keyset_page(rows, limit, lambda e: e.enrolled_at)


def course_learners(session: Session, principal: Principal, course_id: uuid.UUID) -> list[tuple[Enrolment, User]]:
    if principal.role is Role.learner:
        raise Forbidden("Learners do not see other learners' progress.")
    course = courses_service.get_course(session, principal, course_id)
    if principal.role is Role.instructor and not courses_service.can_edit(session, principal, course.id):
        raise Forbidden("Only the course's instructors see its learners.")
    return repository.with_users(session, principal, course.id)


def user_enrolments(session: Session, principal: Principal, user_id: uuid.UUID) -> list[Enrolment]:
    if principal.role is not Role.instructor:
        users_service.get_user(session, principal, user_id)  # 404 outside the caller's scope
    return repository.of_user(session, principal, user_id, include_withdrawn=True)


def my_enrolments(session: Session, principal: Principal) -> list[Enrolment]:
    return repository.of_user(session, principal, principal.user_id, include_withdrawn=False)


class ProgressView:
    """Module progress of a set of enrolments, with the course's modules, for responses."""

    def __init__(self, session: Session, enrolments: list[Enrolment]):
        course_ids = list({e.course_id for e in enrolments})
        self.modules = courses_service.modules_for(session, course_ids)
        self.courses = courses_service.courses_by_id(session, course_ids)
        self.progress: dict[uuid.UUID, dict[uuid.UUID, ModuleProgress]] = {e.id: {} for e in enrolments}
        for row in repository.progress_rows(session, [e.id for e in enrolments]):
            self.progress[row.enrolment_id][row.module_id] = row

    def states(self, enrolment: Enrolment) -> dict[uuid.UUID, ProgressState]:
        return {mid: _state(row) for mid, row in self.progress[enrolment.id].items()}

    def ratio(self, enrolment: Enrolment) -> float:
        return completion_ratio(self.modules[enrolment.course_id], self.states(enrolment))

    def time_spent(self, enrolment: Enrolment) -> int:
        return sum(row.time_spent_seconds for row in self.progress[enrolment.id].values())

    def module_rows(self, enrolment: Enrolment) -> list[tuple[Module, ModuleProgress | None, bool]]:
        states = self.states(enrolment)
        return [
            (m, self.progress[enrolment.id].get(m.id), module_satisfied(m.completion_rule, m.min_score, states.get(m.id)))
            for m in self.modules[enrolment.course_id]
        ]


def _state(row: ModuleProgress) -> ProgressState:
    return ProgressState(status=row.status, viewed=row.viewed, score_scaled=row.score_scaled)


# Progress ---------------------------------------------------------------------------------


def _add_event(session: Session, event: ProgressEvent) -> None:
    """Append to the learner's history and record the change in the LRS (same transaction)."""
    repository.add_event(session, event)
    lrs_feed.record(session, event)


def _recompute(session: Session, enrolment: Enrolment, now: dt.datetime) -> None:
    """Derive the enrolment's status from its modules' progress (completion is never taken back)."""
    if enrolment.status in (EnrolmentStatus.withdrawn, EnrolmentStatus.completed):
        return
    modules = courses_service.modules_of(session, enrolment.course_id)
    rows = repository.progress_rows(session, [enrolment.id])
    states = {row.module_id: _state(row) for row in rows}
    if course_completed(modules, states):
        enrolment.status = EnrolmentStatus.completed
        enrolment.completed_at = now
        _add_event(
            session, ProgressEvent(enrolment_id=enrolment.id, module_id=None, kind="course_completed", status="completed", occurred_at=now)
        )
    elif rows and any(r.status is not ModuleStatus.not_started or r.viewed for r in rows):
        enrolment.status = EnrolmentStatus.in_progress


def record_progress(
    session: Session, *, user_id: uuid.UUID, module_id: uuid.UUID, report: ProgressReport, kind: str, now: dt.datetime
) -> ModuleProgress:
    """The one call through which every producer reports a learner's progress on a module."""
    module = courses_service.module_by_id(session, module_id)
    if module is None:
        raise NotFound(f"No module {module_id}.")
    enrolment = repository.find(session, module.course_id, user_id)
    if enrolment is None:
        raise NotFound(f"No enrolment in the course of module {module_id}.")
    if enrolment.status is EnrolmentStatus.withdrawn:
        raise EnrolmentWithdrawn("The enrolment was withdrawn; progress is not recorded.")
    row = repository.progress_for(session, enrolment.id, module.id)
    if row is None:
        row = ModuleProgress(enrolment_id=enrolment.id, module_id=module.id, status=ModuleStatus.not_started, viewed=False,
                             time_spent_seconds=0, attempts=0)
        repository.add(session, row)
    before = (row.status, row.score_scaled, row.viewed)
    if report.status is not None:
        row.status = merge_status(row.status, report.status)
    elif row.status is ModuleStatus.not_started:
        row.status = ModuleStatus.in_progress
    if report.score_scaled is not None:
        row.score_scaled = report.score_scaled
    row.viewed = row.viewed or report.viewed
    row.time_spent_seconds += report.time_spent_seconds
    row.attempts += 1 if report.attempt_started else 0
    row.first_activity_at = row.first_activity_at or now
    row.last_activity_at = now
    if row.status in (ModuleStatus.completed, ModuleStatus.passed) and row.completed_at is None:
        row.completed_at = now
    enrolment.last_activity_at = now
    if (row.status, row.score_scaled, row.viewed) != before or report.attempt_started:
        _add_event(
            session,
            ProgressEvent(enrolment_id=enrolment.id, module_id=module.id, kind=kind, status=row.status.value,
                          score_scaled=row.score_scaled, occurred_at=now),
        )
    session.flush()
    _recompute(session, enrolment, now)
    session.flush()
    return row


def mark_viewed(session: Session, principal: Principal, module_id: uuid.UUID, *, now: dt.datetime) -> ModuleProgress:
    """A learner opened a module (resources: this completes them)."""
    module, _course = courses_service.get_module(session, principal, module_id)
    report = ProgressReport(viewed=True, status=ModuleStatus.completed if module.kind is ModuleKind.resource else None)
    return record_progress(session, user_id=principal.user_id, module_id=module.id, report=report, kind="viewed", now=now)


# Cohorts ----------------------------------------------------------------------------------


def create_cohort(session: Session, principal: Principal, data: CohortCreate) -> Cohort:
    if principal.role not in (Role.admin, Role.coordinator):
        raise Forbidden("Only admins and coordinators manage cohorts.")
    country = data.country_code
    if principal.role is Role.coordinator:
        if country not in (None, principal.country_code):
            raise Forbidden("Coordinators create cohorts of their own country only.")
        country = principal.country_code
    course = courses_service.get_course(session, principal, data.course_id)
    _require_open(course)
    if country and not courses_service.is_open_to_country(session, course, country):
        raise ValidationFailed(f"The course is not open to {country}.", errors=[field_error(["body", "country_code"], "course not open to this country")])
    cohort = Cohort(
        course_id=course.id, name=data.name, country_code=country, starts_on=data.starts_on, ends_on=data.ends_on,
        created_by_id=principal.user_id,
    )
    repository.add(session, cohort)
    return cohort


def get_cohort(session: Session, principal: Principal, cohort_id: uuid.UUID) -> Cohort:
    cohort = repository.get_cohort_visible(session, principal, cohort_id)
    if cohort is None:
        raise NotFound(f"No cohort {cohort_id}.")
    return cohort


def _managed_cohort(session: Session, principal: Principal, cohort_id: uuid.UUID) -> Cohort:
    cohort = get_cohort(session, principal, cohort_id)
    if principal.role not in (Role.admin, Role.coordinator):
        raise Forbidden("Only admins and coordinators manage cohorts.")
    return cohort


def list_cohorts(session: Session, principal: Principal, course_id: uuid.UUID | None) -> list[Cohort]:
    return repository.list_cohorts(session, principal, course_id)


def member_counts(session: Session, cohort_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    return repository.member_counts(session, cohort_ids)


def update_cohort(session: Session, principal: Principal, cohort_id: uuid.UUID, data: CohortUpdate) -> Cohort:
    cohort = _managed_cohort(session, principal, cohort_id)
    apply_changes(cohort, data.model_dump(exclude_unset=True), nullable=frozenset({"starts_on", "ends_on"}))
    if cohort.starts_on and cohort.ends_on and cohort.ends_on < cohort.starts_on:
        raise ValidationFailed("`ends_on` is before `starts_on`.", errors=[field_error(["body", "ends_on"], "before starts_on")])
    session.flush()
    return cohort


def delete_cohort(session: Session, principal: Principal, cohort_id: uuid.UUID) -> None:
    """Remove the group; its members stay enrolled."""
    cohort = _managed_cohort(session, principal, cohort_id)
    session.delete(cohort)
    session.flush()


def add_members(
    session: Session, principal: Principal, cohort_id: uuid.UUID, *, user_ids: list[uuid.UUID],
    emails: list[tuple[int, str]], due_at: dt.datetime | None, now: dt.datetime,
) -> BulkReport:
    cohort = _managed_cohort(session, principal, cohort_id)
    report = bulk_enrol(
        session, principal, cohort.course_id, user_ids=user_ids, emails=emails, due_at=due_at, atomic=False,
        now=now, cohort=cohort,
    )
    for row in report.rows:
        if row.status != "error" and row.user_id and repository.membership(session, cohort.id, row.user_id) is None:
            repository.add(session, CohortMember(cohort_id=cohort.id, user_id=row.user_id, added_at=now))
    return report


def cohort_members(session: Session, principal: Principal, cohort_id: uuid.UUID) -> list[tuple[User, Enrolment | None]]:
    cohort = get_cohort(session, principal, cohort_id)
    if principal.role is Role.learner:
        raise Forbidden("Learners do not see the members of cohorts.")
    return repository.members(session, cohort.id)


def remove_member(session: Session, principal: Principal, cohort_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Take someone out of the cohort; their enrolment (and progress) stays."""
    cohort = _managed_cohort(session, principal, cohort_id)
    users_service.get_user(session, principal, user_id)
    membership = repository.membership(session, cohort.id, user_id)
    if membership is None:
        raise NotFound(f"{user_id} is not a member of this cohort.")
    session.delete(membership)
    enrolment = repository.find(session, cohort.course_id, user_id)
    if enrolment is not None and enrolment.cohort_id == cohort.id:
        enrolment.cohort_id = None
    session.flush()
