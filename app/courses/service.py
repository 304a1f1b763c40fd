"""Courses and their modules: authoring, publishing rules, covers, resources, instructors.

Rules: admins edit every course, instructors the courses they own or are assigned to; a course is
published only when it has at least one module; archived courses take no new enrolments but stay
readable for their learners and in reports. Courses a caller cannot see are not found (404); a
visible course the caller may not edit is 403.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterator

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.core.db import after_commit, utcnow
from app.core.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, field_error
from app.core.pagination import decode_keyset, keyset_page
from app.core.patching import apply_changes
from app.core.storage import ObjectInfo, Storage
from app.core.uploads import SpooledUpload
from app.courses import repository
from app.courses.models import (
    CompletionRule,
    Course,
    CourseCountry,
    CourseInstructor,
    CourseLanguage,
    CourseStatus,
    CourseThematicArea,
    Module,
    ModuleKind,
)
from app.courses.schemas import CourseCreate, CourseFilters, CourseUpdate, ModuleCreate, ModuleOrder, ModuleUpdate
from app.reference import service as reference_service
from app.users import service as users_service
from app.users.models import Role

DEFAULT_RULES = {
    ModuleKind.resource: CompletionRule.viewed,
    ModuleKind.package: CompletionRule.completed,
    ModuleKind.assessment: CompletionRule.passed,
}
COVER_TYPES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/webp": (b"RIFF",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


class CourseNotPublishable(Conflict):
    code = "course-not-publishable"
    title = "Course cannot be published"


class InvalidStatusChange(Conflict):
    code = "invalid-status-change"
    title = "Invalid status change"


# Access -----------------------------------------------------------------------------------


def get_course(session: Session, principal: Principal, course_id: uuid.UUID) -> Course:
    course = repository.get_visible(session, principal, course_id)
    if course is None:
        raise NotFound(f"No course {course_id}.")
    return course


def get_course_by_slug(session: Session, principal: Principal, slug: str) -> Course:
    course = repository.get_visible_by_slug(session, principal, slug)
    if course is None:
        raise NotFound(f"No course {slug!r}.")
    return course


def get_editable_course(session: Session, principal: Principal, course_id: uuid.UUID) -> Course:
    course = repository.get_editable(session, principal, course_id)
    if course is not None:
        return course
    get_course(session, principal, course_id)  # 404 when not even visible
    raise Forbidden("You may read this course but not change it.")


def can_edit(session: Session, principal: Principal, course_id: uuid.UUID) -> bool:
    return repository.get_editable(session, principal, course_id) is not None


def courses_taught_by(user_id: uuid.UUID):
    return repository.courses_taught_by(user_id)


def is_open_to_country(session: Session, course: Course, country_code: str) -> bool:
    if course.available_to_all:
        return True
    return country_code in links(session, [course.id])["countries"][course.id]


def get_module(session: Session, principal: Principal, module_id: uuid.UUID) -> tuple[Module, Course]:
    module = repository.get_module(session, module_id)
    if module is None:
        raise NotFound(f"No module {module_id}.")
    course = repository.get_visible(session, principal, module.course_id)
    if course is None:
        raise NotFound(f"No module {module_id}.")
    return module, course


def _editable_module(session: Session, principal: Principal, module_id: uuid.UUID) -> tuple[Module, Course]:
    module, course = get_module(session, principal, module_id)
    return module, get_editable_course(session, principal, course.id)


# Listing ----------------------------------------------------------------------------------


def list_courses(
    session: Session, principal: Principal, filters: CourseFilters, *, cursor: str | None, limit: int
) -> tuple[list[Course], str | None]:
    rows = repository.list_visible(session, principal, filters, after=decode_keyset(cursor), limit=limit + 1)
    return keyset_page(rows, limit, lambda c: c.created_at)


def links(session: Session, course_ids: list[uuid.UUID]) -> dict[str, dict[uuid.UUID, list[str]]]:
    return {
        "thematic_areas": repository.link_codes(session, CourseThematicArea, course_ids, "area_code"),
        "languages": repository.link_codes(session, CourseLanguage, course_ids, "language_tag"),
        "countries": repository.link_codes(session, CourseCountry, course_ids, "country_code"),
    }


def module_counts(session: Session, course_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    return repository.module_counts(session, course_ids)


def modules_of(session: Session, course_id: uuid.UUID) -> list[Module]:
    return repository.modules_of(session, course_id)


def instructor_ids(session: Session, course_id: uuid.UUID) -> list[uuid.UUID]:
    return repository.instructor_ids(session, course_id)


# Authoring --------------------------------------------------------------------------------


def _search_text(course: Course) -> str:
    parts = [course.slug, *course.title.values(), *course.summary.values(), *course.description.values()]
    text = " ".join(parts).lower()
    return unicodedata.normalize("NFC", text)


def _validate_references(session: Session, *, areas=None, languages=None, countries=None, institution_id=None) -> dict:
    """Check referenced reference data exists and is active; returns canonical values."""
    out: dict = {}
    if areas is not None:
        known = {a.code for a in reference_service.list_thematic_areas(session)}
        unknown = [a for a in areas if a not in known]
        if unknown:
            raise ValidationFailed(
                f"Unknown thematic areas: {', '.join(unknown)}",
                errors=[field_error(["body", "thematic_areas"], f"unknown: {', '.join(unknown)}")],
            )
        out["thematic_areas"] = areas
    if languages is not None:
        out["languages"] = [
            reference_service.require_active_language(session, tag, field="languages").tag for tag in languages
        ]
    if countries is not None:
        for code in countries:
            reference_service.require_active_country(session, code, field="countries")
        out["countries"] = countries
    if institution_id is not None:
        reference_service.get_institution(session, institution_id)
    return out


def _store_links(session: Session, course: Course, values: dict) -> None:
    if "thematic_areas" in values:
        repository.replace_links(session, CourseThematicArea, course.id, "area_code", values["thematic_areas"])
    if "languages" in values:
        repository.replace_links(session, CourseLanguage, course.id, "language_tag", values["languages"])
    if "countries" in values:
        repository.replace_links(session, CourseCountry, course.id, "country_code", values["countries"])


def _check_slug(session: Session, slug: str, except_id: uuid.UUID | None = None) -> None:
    if repository.slug_taken(session, slug, except_id):
        raise Conflict(f"The slug {slug!r} is taken.", errors=[field_error(["body", "slug"], "taken")])


def create_course(session: Session, principal: Principal, data: CourseCreate) -> Course:
    if principal.role not in (Role.admin, Role.instructor):
        raise Forbidden("Only admins and instructors create courses.")
    _check_slug(session, data.slug)
    try:
        institution = data.owner_institution_id
        if institution is not None:
            reference_service.get_institution(session, institution)
    except NotFound:
        raise ValidationFailed("Unknown institution.", errors=[field_error(["body", "owner_institution_id"], "unknown")]) from None
    linked = _validate_references(
        session,
        areas=data.thematic_areas,
        languages=data.languages,
        countries=data.countries if not data.available_to_all else [],
    )
    course = Course(
        slug=data.slug,
        title=data.title,
        summary=data.summary,
        description=data.description,
        level=data.level,
        estimated_minutes=data.estimated_minutes,
        owner_institution_id=data.owner_institution_id,
        owner_id=principal.user_id,
        available_to_all=data.available_to_all,
        status=CourseStatus.draft,
    )
    course.search_text = _search_text(course)
    repository.add(session, course)
    _store_links(session, course, linked)
    return course


def update_course(session: Session, principal: Principal, course_id: uuid.UUID, data: CourseUpdate) -> Course:
    course = get_editable_course(session, principal, course_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("slug"):
        _check_slug(session, changes["slug"], course.id)
    if changes.get("owner_institution_id") is not None:
        try:
            reference_service.get_institution(session, changes["owner_institution_id"])
        except NotFound:
            raise ValidationFailed("Unknown institution.", errors=[field_error(["body", "owner_institution_id"], "unknown")]) from None
    linked = _validate_references(
        session,
        areas=changes.pop("thematic_areas", None),
        languages=changes.pop("languages", None),
        countries=changes.pop("countries", None),
    )
    apply_changes(course, changes, nullable=frozenset({"estimated_minutes", "owner_institution_id"}))
    if not course.available_to_all and "countries" not in linked and not links(session, [course.id])["countries"][course.id]:
        raise ValidationFailed(
            "A course not open to all countries needs `countries`.",
            errors=[field_error(["body", "countries"], "required when available_to_all is false")],
        )
    if course.available_to_all:
        linked["countries"] = []
    _store_links(session, course, linked)
    course.search_text = _search_text(course)
    course.updated_at = utcnow()
    session.flush()
    return course


def publish(session: Session, principal: Principal, course_id: uuid.UUID) -> Course:
    course = get_editable_course(session, principal, course_id)
    if course.status is CourseStatus.published:
        return course
    if not repository.modules_of(session, course.id):
        raise CourseNotPublishable("A course needs at least one module before it can be published.")
    course.status = CourseStatus.published
    course.published_at = course.published_at or utcnow()
    course.archived_at = None
    session.flush()
    return course


def archive(session: Session, principal: Principal, course_id: uuid.UUID) -> Course:
    course = get_editable_course(session, principal, course_id)
    if course.status is CourseStatus.draft:
        raise InvalidStatusChange("A draft course is not archived; publish it first, or leave it as a draft.")
    if course.status is CourseStatus.published:
        course.status = CourseStatus.archived
        course.archived_at = utcnow()
        session.flush()
    return course


def delete_course(session: Session, storage: Storage, principal: Principal, course_id: uuid.UUID) -> None:
    course = get_editable_course(session, principal, course_id)
    if course.status is not CourseStatus.draft:
        raise InvalidStatusChange("Only draft courses are deleted; archive a published course instead.")
    prefix = f"courses/{course.id}/"
    session.delete(course)
    session.flush()
    after_commit(session, lambda: storage.delete_prefix(prefix))


def assign_instructors(session: Session, principal: Principal, course_id: uuid.UUID, user_ids: list[uuid.UUID]) -> Course:
    course = get_editable_course(session, principal, course_id)
    for user_id in dict.fromkeys(user_ids):
        user = users_service.get_by_id(session, user_id)
        if user is None or user.role not in (Role.instructor, Role.admin) or not user.is_active:
            raise ValidationFailed(
                f"{user_id} is not an active instructor.",
                errors=[field_error(["body", "user_ids"], f"{user_id} is not an active instructor")],
            )
    repository.replace_links(session, CourseInstructor, course.id, "user_id", list(dict.fromkeys(user_ids)))
    return course


# Cover image ------------------------------------------------------------------------------


def set_cover(session: Session, storage: Storage, principal: Principal, course_id: uuid.UUID, upload: SpooledUpload, max_bytes: int) -> Course:
    course = get_editable_course(session, principal, course_id)
    if upload.size > max_bytes:
        raise PayloadTooLarge(f"A cover image is at most {max_bytes} bytes.")
    signatures = COVER_TYPES.get(upload.content_type or "")
    if signatures is None:
        raise UnsupportedMediaType(f"Cover images are {', '.join(COVER_TYPES)}; got {upload.content_type!r}.")
    head = upload.head(16)
    if not any(head.startswith(sig) for sig in signatures) or (upload.content_type == "image/webp" and head[8:12] != b"WEBP"):
        raise UnsupportedMediaType(f"The body is not a {upload.content_type} image.")
    old_key = course.cover_key
    key = f"courses/{course.id}/cover-{upload.sha256[:16]}"
    storage.put_file(key, upload.file, content_type=upload.content_type)
    course.cover_key = key
    course.cover_content_type = upload.content_type
    course.updated_at = utcnow()
    session.flush()
    if old_key and old_key != key:
        after_commit(session, lambda: storage.delete(old_key))
    return course


def cover(session: Session, storage: Storage, principal: Principal, course_id: uuid.UUID) -> tuple[ObjectInfo, Iterator[bytes]]:
    course = get_course(session, principal, course_id)
    info = storage.stat(course.cover_key) if course.cover_key else None
    if info is None:
        raise NotFound("This course has no cover image.")
    return info, storage.iter_range(course.cover_key)


# Modules ----------------------------------------------------------------------------------


def add_module(session: Session, principal: Principal, course_id: uuid.UUID, data: ModuleCreate) -> Module:
    course = get_editable_course(session, principal, course_id)
    existing = repository.modules_of(session, course.id)
    rule = data.completion_rule or DEFAULT_RULES[data.kind]
    if rule is CompletionRule.score and data.min_score is None:
        raise ValidationFailed("The `score` rule needs `min_score`.", errors=[field_error(["body", "min_score"], "required")])
    module = Module(
        course_id=course.id,
        position=(existing[-1].position + 1) if existing else 1,
        title=data.title,
        kind=data.kind,
        required=data.required,
        completion_rule=rule,
        min_score=data.min_score,
        resource_url=str(data.resource_url) if data.resource_url else None,
        resource_mime=data.resource_mime,
    )
    repository.add(session, module)
    course.updated_at = utcnow()
    return module


def update_module(session: Session, principal: Principal, module_id: uuid.UUID, data: ModuleUpdate) -> Module:
    module, course = _editable_module(session, principal, module_id)
    changes = data.model_dump(exclude_unset=True)
    if "resource_url" in changes:
        if module.kind is not ModuleKind.resource:
            raise ValidationFailed("`resource_url` is for resource modules.", errors=[field_error(["body", "resource_url"], "not a resource module")])
        changes["resource_url"] = str(changes["resource_url"]) if changes["resource_url"] else None
    apply_changes(module, changes, nullable=frozenset({"min_score", "resource_url", "resource_mime"}))
    if module.completion_rule is CompletionRule.score and module.min_score is None:
        raise ValidationFailed("The `score` rule needs `min_score`.", errors=[field_error(["body", "min_score"], "required")])
    course.updated_at = utcnow()
    session.flush()
    return module


def _renumber(session: Session, course_id: uuid.UUID, ordered: list[Module]) -> None:
    # Two passes: positions are unique per course, so move everything out of the way first.
    session.execute(update(Module).where(Module.course_id == course_id).values(position=-Module.position - 100000))
    session.flush()
    for position, module in enumerate(ordered, start=1):
        session.execute(update(Module).where(Module.id == module.id).values(position=position))
        module.position = position
    session.flush()
    for module in ordered:
        session.refresh(module)


def reorder_modules(session: Session, principal: Principal, course_id: uuid.UUID, data: ModuleOrder) -> list[Module]:
    course = get_editable_course(session, principal, course_id)
    modules = repository.modules_of(session, course.id)
    by_id = {m.id: m for m in modules}
    if len(data.module_ids) != len(set(data.module_ids)) or set(data.module_ids) != set(by_id):
        raise ValidationFailed(
            "`module_ids` must list every module of the course exactly once.",
            errors=[field_error(["body", "module_ids"], "not a permutation of the course's modules")],
        )
    ordered = [by_id[i] for i in data.module_ids]
    _renumber(session, course.id, ordered)
    course.updated_at = utcnow()
    return ordered


def delete_module(session: Session, storage: Storage, principal: Principal, module_id: uuid.UUID) -> None:
    module, course = _editable_module(session, principal, module_id)
    if repository.module_has_progress(session, module.id):
        raise Conflict("Learners have progress on this module; make it optional instead of deleting it.")
    remaining = [m for m in repository.modules_of(session, course.id) if m.id != module.id]
    if not remaining and course.status is not CourseStatus.draft:
        raise Conflict("A published course keeps at least one module.")
    key = module.resource_key
    session.delete(module)
    session.flush()
    _renumber(session, course.id, remaining)
    course.updated_at = utcnow()
    if key:
        after_commit(session, lambda: storage.delete(key))


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def set_resource_file(
    session: Session, storage: Storage, principal: Principal, module_id: uuid.UUID, upload: SpooledUpload, filename: str
) -> Module:
    module, course = _editable_module(session, principal, module_id)
    if module.kind is not ModuleKind.resource:
        raise ValidationFailed("Files are attached to resource modules only.", errors=[field_error(["path", "module_id"], "not a resource module")])
    if upload.size == 0:
        raise ValidationFailed("The file is empty.", errors=[field_error(["body"], "empty")])
    safe = _SAFE_NAME.sub("_", unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()).strip("._") or "file"
    key = f"courses/{course.id}/modules/{module.id}/{upload.sha256[:16]}/{safe[:100]}"
    storage.put_file(key, upload.file, content_type=upload.content_type or "application/octet-stream")
    old_key = module.resource_key
    module.resource_key = key
    module.resource_filename = filename[:255]
    module.resource_mime = upload.content_type or "application/octet-stream"
    module.resource_size = upload.size
    module.resource_url = None
    course.updated_at = utcnow()
    session.flush()
    if old_key and old_key != key:
        after_commit(session, lambda: storage.delete(old_key))
    return module


def resource_file(
    session: Session, storage: Storage, principal: Principal, module_id: uuid.UUID
) -> tuple[Module, ObjectInfo, Iterator[bytes]]:
    module, course = get_module(session, principal, module_id)
    if principal.role is Role.learner and not repository.is_enrolled(session, principal.user_id, course.id):
        raise NotFound(f"No module {module_id}.")
    info = storage.stat(module.resource_key) if module.resource_key else None
    if info is None:
        raise NotFound("This module has no stored file.")
    return module, info, storage.iter_range(module.resource_key)


def modules_for(session: Session, course_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Module]]:
    return repository.modules_for(session, course_ids)


def courses_by_id(session: Session, course_ids: list[uuid.UUID]) -> dict[uuid.UUID, Course]:
    return repository.get_many(session, course_ids)


def module_by_id(session: Session, module_id: uuid.UUID) -> Module | None:
    """Unscoped lookup for producers of progress (runtime, assessments) that checked access."""
    return repository.get_module(session, module_id)
