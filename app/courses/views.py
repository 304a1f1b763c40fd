"""Turning courses and modules into responses in the caller's language."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.core.i18n import pick
from app.courses import service
from app.courses.models import Course, Module
from app.courses.schemas import CourseDetail, CourseSummary, ModuleOut, ResourceOut, Translations


def _language(course_languages: list[str], preferred: list[str], title: dict[str, str]) -> str:
    """One language for the whole course response: the best match for the caller that the title
    has, falling back to English (the programme's common language), then the course's languages."""
    chosen = pick(title, preferred, fallback=("en", *course_languages))
    return chosen[0] if chosen else "en"


def _text(value: dict[str, str], language: str, fallback: list[str]) -> str | None:
    chosen = pick(value, [language], fallback=("en", *fallback))
    return chosen[1] if chosen else None


def module_out(module: Module, preferred: list[str], base_url: str, *, translations: bool, fallback: list[str] | None = None) -> ModuleOut:
    fallback = fallback or []
    chosen = pick(module.title, preferred, fallback=("en", *fallback))
    resource = None
    if module.resource_url or module.resource_key:
        resource = ResourceOut(
            url=module.resource_url or f"{base_url}/api/v1/modules/{module.id}/file",
            external=module.resource_url is not None,
            mime_type=module.resource_mime,
            filename=module.resource_filename,
            size=module.resource_size,
        )
    return ModuleOut(
        id=module.id,
        course_id=module.course_id,
        position=module.position,
        title=chosen[1] if chosen else "",
        language=chosen[0] if chosen else "en",
        kind=module.kind,
        required=module.required,
        completion_rule=module.completion_rule,
        min_score=module.min_score,
        resource=resource,
        translations=Translations(title=module.title) if translations else None,
    )


def summaries(
    session: Session, courses: list[Course], preferred: list[str], base_url: str, *, translations: bool
) -> list[CourseSummary]:
    ids = [c.id for c in courses]
    linked = service.links(session, ids)
    counts = service.module_counts(session, ids)
    return [_summary(c, linked, counts.get(c.id, 0), preferred, base_url, translations) for c in courses]


def _summary_fields(course: Course, linked: dict, module_count: int, preferred: list[str], base_url: str, translations: bool) -> dict:
    languages = linked["languages"][course.id]
    language = _language(languages, preferred, course.title)
    return {
        "id": course.id,
        "slug": course.slug,
        "status": course.status,
        "language": language,
        "title": _text(course.title, language, languages) or course.slug,
        "summary": _text(course.summary, language, languages),
        "level": course.level,
        "estimated_minutes": course.estimated_minutes,
        "thematic_areas": linked["thematic_areas"][course.id],
        "languages": languages,
        "available_to_all": course.available_to_all,
        "countries": linked["countries"][course.id],
        "owner_institution_id": course.owner_institution_id,
        "cover_url": f"{base_url}/api/v1/courses/{course.id}/cover" if course.cover_key else None,
        "module_count": module_count,
        "published_at": course.published_at,
        "updated_at": course.updated_at,
        "translations": Translations(title=course.title, summary=course.summary, description=course.description)
        if translations
        else None,
    }


def _summary(course: Course, linked: dict, module_count: int, preferred: list[str], base_url: str, translations: bool) -> CourseSummary:
    return CourseSummary(**_summary_fields(course, linked, module_count, preferred, base_url, translations))


def detail(session: Session, course: Course, preferred: list[str], base_url: str, *, translations: bool) -> CourseDetail:
    linked = service.links(session, [course.id])
    modules = service.modules_of(session, course.id)
    fields = _summary_fields(course, linked, len(modules), preferred, base_url, translations)
    languages = linked["languages"][course.id]
    return CourseDetail(
        **fields,
        description=_text(course.description, fields["language"], languages),
        owner_id=course.owner_id,
        instructor_ids=service.instructor_ids(session, course.id),
        modules=[module_out(m, [fields["language"], *preferred], base_url, translations=translations, fallback=languages) for m in modules],
    )

