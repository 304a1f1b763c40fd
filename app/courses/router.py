from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from app.auth.dependencies import CurrentPrincipal
from app.core.deps import PreferredLanguages, RuntimeDep, SessionDep
from app.core.http_cache import json_with_etag
from app.core.openapi import problems
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.uploads import SpooledUpload, spooled_body
from app.courses import service, views
from app.courses.schemas import (
    CourseCreate,
    CourseDetail,
    CourseFilters,
    CoursePage,
    CourseUpdate,
    InstructorAssignment,
    ModuleCreate,
    ModuleOrder,
    ModuleOut,
    ModuleUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["courses"], responses=problems(401))
Translations = Annotated[bool, Query(description="Also return every language of the texts")]
EDIT_ERRORS = problems(403, 404, 409, 422)
UploadBody = Annotated[SpooledUpload, Depends(spooled_body)]
CACHE_304 = {304: {"description": "Not modified (If-None-Match matched the ETag)"}}


def _detail(request: Request, rt, session, course, lang, translations: bool) -> CourseDetail:
    return views.detail(session, course, lang, rt.settings.public_base_url, translations=translations)


@router.get("/courses", response_model=CoursePage, responses={**problems(400, 422), **CACHE_304})
def list_courses(
    request: Request,
    session: SessionDep,
    rt: RuntimeDep,
    principal: CurrentPrincipal,
    lang: PreferredLanguages,
    filters: Annotated[CourseFilters, Depends()],
    translations: Translations = False,
    cursor: str | None = Query(default=None, max_length=500),
    limit: int = Query(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Response:
    """The catalogue: courses the caller may see, newest first, searchable in any language.
    Supports `If-None-Match` (304) for the mobile app's cache."""
    rows, next_cursor = service.list_courses(session, principal, filters, cursor=cursor, limit=limit)
    page = CoursePage(
        items=views.summaries(session, rows, lang, rt.settings.public_base_url, translations=translations),
        next_cursor=next_cursor,
        next=str(request.url.include_query_params(cursor=next_cursor)) if next_cursor else None,
    )
    return json_with_etag(request, page)


@router.post("/courses", response_model=CourseDetail, status_code=status.HTTP_201_CREATED, responses=EDIT_ERRORS)
def create_course(
    data: CourseCreate, request: Request, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal, lang: PreferredLanguages
) -> CourseDetail:
    """Create a draft course (admins, instructors). Its creator owns it."""
    course = service.create_course(session, principal, data)
    return _detail(request, rt, session, course, lang, True)


@router.get("/courses/by-slug/{slug}", response_model=CourseDetail, responses={**problems(404), **CACHE_304})
def get_course_by_slug(
    slug: str, request: Request, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal,
    lang: PreferredLanguages, translations: Translations = False,
) -> Response:
    course = service.get_course_by_slug(session, principal, slug)
    return json_with_etag(request, _detail(request, rt, session, course, lang, translations))


@router.get("/courses/{course_id}", response_model=CourseDetail, responses={**problems(404), **CACHE_304})
def get_course(
    course_id: uuid.UUID, request: Request, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal,
    lang: PreferredLanguages, translations: Translations = False,
) -> Response:
    """A course with its modules, in the negotiated language."""
    course = service.get_course(session, principal, course_id)
    return json_with_etag(request, _detail(request, rt, session, course, lang, translations))


@router.patch("/courses/{course_id}", response_model=CourseDetail, responses=EDIT_ERRORS)
def update_course(
    course_id: uuid.UUID, data: CourseUpdate, request: Request, session: SessionDep, rt: RuntimeDep,
    principal: CurrentPrincipal, lang: PreferredLanguages,
) -> CourseDetail:
    course = service.update_course(session, principal, course_id, data)
    return _detail(request, rt, session, course, lang, True)


@router.delete("/courses/{course_id}", status_code=status.HTTP_204_NO_CONTENT, responses=EDIT_ERRORS)
def delete_course(course_id: uuid.UUID, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal) -> None:
    """Delete a draft course (published courses are archived instead)."""
    service.delete_course(session, rt.storage, principal, course_id)


@router.post("/courses/{course_id}/publish", response_model=CourseDetail, responses=EDIT_ERRORS)
def publish_course(
    course_id: uuid.UUID, request: Request, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal, lang: PreferredLanguages
) -> CourseDetail:
    """draft -> published; needs at least one module (409 otherwise)."""
    return _detail(request, rt, session, service.publish(session, principal, course_id), lang, False)


@router.post("/courses/{course_id}/archive", response_model=CourseDetail, responses=EDIT_ERRORS)
def archive_course(
    course_id: uuid.UUID, request: Request, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal, lang: PreferredLanguages
) -> CourseDetail:
    """published -> archived: no new enrolments; enrolled learners and reports keep it."""
    return _detail(request, rt, session, service.archive(session, principal, course_id), lang, False)


@router.put("/courses/{course_id}/instructors", response_model=CourseDetail, responses=EDIT_ERRORS)
def assign_instructors(
    course_id: uuid.UUID, data: InstructorAssignment, request: Request, session: SessionDep, rt: RuntimeDep,
    principal: CurrentPrincipal, lang: PreferredLanguages,
) -> CourseDetail:
    """Set the instructors who may edit the course (besides its owner and admins)."""
    course = service.assign_instructors(session, principal, course_id, data.user_ids)
    return _detail(request, rt, session, course, lang, False)


@router.put(
    "/courses/{course_id}/cover",
    response_model=CourseDetail,
    responses={**EDIT_ERRORS, **problems(413, 415)},
    openapi_extra={"requestBody": {"required": True, "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in ("image/png", "image/jpeg", "image/webp", "image/gif")}}},
)
def put_cover(
    course_id: uuid.UUID, upload: UploadBody, request: Request, session: SessionDep, rt: RuntimeDep,
    principal: CurrentPrincipal, lang: PreferredLanguages,
) -> CourseDetail:
    """Upload the cover image as the raw request body (PNG, JPEG, WebP or GIF)."""
    course = service.set_cover(session, rt.storage, principal, course_id, upload, rt.settings.max_cover_bytes)
    return _detail(request, rt, session, course, lang, False)


@router.get("/courses/{course_id}/cover", response_class=Response, responses={**problems(404), 200: {"content": {"image/*": {}}}})
def get_cover(course_id: uuid.UUID, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal) -> Response:
    info, chunks = service.cover(session, rt.storage, principal, course_id)
    return StreamingResponse(
        chunks,
        media_type=info.content_type or "application/octet-stream",
        headers={"Content-Length": str(info.size), "ETag": f'"{info.etag}"', "Cache-Control": "private, max-age=3600",
                 "X-Content-Type-Options": "nosniff"},
    )


@router.post("/courses/{course_id}/modules", response_model=ModuleOut, status_code=status.HTTP_201_CREATED, responses=EDIT_ERRORS)
def add_module(
    course_id: uuid.UUID, data: ModuleCreate, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal, lang: PreferredLanguages
) -> ModuleOut:
    """Append a module. Kinds: `resource` (file or link), `package`, `assessment`."""
    module = service.add_module(session, principal, course_id, data)
    return views.module_out(module, lang, rt.settings.public_base_url, translations=True)


@router.put("/courses/{course_id}/modules/order", response_model=list[ModuleOut], responses=EDIT_ERRORS)
def reorder_modules(
    course_id: uuid.UUID, data: ModuleOrder, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal, lang: PreferredLanguages
) -> list[ModuleOut]:
    """Reorder: send every module id of the course in the new order."""
    modules = service.reorder_modules(session, principal, course_id, data)
    return [views.module_out(m, lang, rt.settings.public_base_url, translations=False) for m in modules]


@router.get("/modules/{module_id}", response_model=ModuleOut, responses=problems(404))
def get_module(
    module_id: uuid.UUID, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal, lang: PreferredLanguages,
    translations: Translations = False,
) -> ModuleOut:
    module, _ = service.get_module(session, principal, module_id)
    return views.module_out(module, lang, rt.settings.public_base_url, translations=translations)


@router.patch("/modules/{module_id}", response_model=ModuleOut, responses=EDIT_ERRORS)
def update_module(
    module_id: uuid.UUID, data: ModuleUpdate, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal, lang: PreferredLanguages
) -> ModuleOut:
    module = service.update_module(session, principal, module_id, data)
    return views.module_out(module, lang, rt.settings.public_base_url, translations=True)


@router.delete("/modules/{module_id}", status_code=status.HTTP_204_NO_CONTENT, responses=EDIT_ERRORS)
def delete_module(module_id: uuid.UUID, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal) -> None:
    """Delete a module nobody has progress on (409 otherwise: make it optional instead)."""
    service.delete_module(session, rt.storage, principal, module_id)


@router.put(
    "/modules/{module_id}/file",
    response_model=ModuleOut,
    responses={**EDIT_ERRORS, **problems(413)},
    openapi_extra={"requestBody": {"required": True, "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}},
)
def put_resource_file(
    module_id: uuid.UUID, upload: UploadBody, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal,
    lang: PreferredLanguages,
    filename: Annotated[str, Query(min_length=1, max_length=255, description="File name shown to learners")] = "file",
) -> ModuleOut:
    """Upload a resource module's file as the raw body; its Content-Type is kept."""
    module = service.set_resource_file(session, rt.storage, principal, module_id, upload, filename)
    return views.module_out(module, lang, rt.settings.public_base_url, translations=False)


@router.get("/modules/{module_id}/file", response_class=Response, responses=problems(404))
def get_resource_file(module_id: uuid.UUID, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal) -> Response:
    """Download a resource module's file (staff, or learners enrolled in the course)."""
    module, info, chunks = service.resource_file(session, rt.storage, principal, module_id)
    name = module.resource_filename or "file"
    return StreamingResponse(
        chunks,
        media_type=module.resource_mime or "application/octet-stream",
        headers={
            "Content-Length": str(info.size),
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-cache",
        },
    )
