from __future__ import annotations

import hashlib
import re
import tempfile
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from app.auth.dependencies import CurrentPrincipal
from app.core.deps import RuntimeDep, SessionDep
from app.core.errors import BadRequest, UnsupportedMediaType
from app.core.openapi import problems
from app.core.uploads import SpooledUpload, spooled_body
from app.packages import service
from app.packages.schemas import (
    AttachPackage,
    DirectUpload,
    DirectUploadRequest,
    PackageOut,
    PreviewOut,
    UnitOut,
    VersionDetail,
    VersionOut,
)

router = APIRouter(prefix="/api/v1", tags=["packages"], responses=problems(401))
content_router = APIRouter(tags=["content"])
ERRORS = problems(403, 404, 409, 422)
ZIP_TYPES = {"application/zip", "application/x-zip-compressed", "application/octet-stream", "application/x-zip"}
XML_TYPES = {"application/xml", "text/xml"}
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _Body:
    def __init__(self, file, size: int, sha256: str, filename: str | None):
        self.file, self.size, self.sha256, self.filename = file, size, sha256, filename


async def package_body(request: Request):
    """The uploaded package: a raw body (zip, or a bare cmi5.xml) or a multipart `file` field;
    spooled to a temporary file while it streams in, never held in memory whole."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=5)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise BadRequest("Send the package in a multipart field named `file`.")
        digest = hashlib.sha256()
        spool = tempfile.TemporaryFile()
        size = 0
        while chunk := await upload.read(1024 * 1024):
            spool.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        await upload.close()
        spool.seek(0)
        try:
            yield _Body(spool, size, digest.hexdigest(), upload.filename)
        finally:
            spool.close()
        return
    if content_type not in ZIP_TYPES | XML_TYPES:
        raise UnsupportedMediaType("Send a zip (application/zip), a cmi5.xml (application/xml) or multipart/form-data.")
    async for raw in spooled_body(request):
        yield _Body(raw.file, raw.size, raw.sha256, request.query_params.get("filename"))


PackageBody = Annotated[_Body, Depends(package_body)]


def _version_out(version) -> VersionOut:
    return VersionOut.model_validate(version)


def _package_out(session, package) -> PackageOut:
    out = PackageOut.model_validate(package)
    out.versions = [_version_out(v) for v in service.versions_of(session, package.id)]
    return out


@router.post(
    "/packages",
    response_model=VersionOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={**ERRORS, **problems(413, 415)},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/zip": {"schema": {"type": "string", "format": "binary"}},
        "application/xml": {"schema": {"type": "string"}, "description": "a bare cmi5.xml (AUs hosted elsewhere)"},
        "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}},
    }}},
)
def upload_package(
    body: PackageBody,
    response: Response,
    session: SessionDep,
    rt: RuntimeDep,
    principal: CurrentPrincipal,
    package_id: Annotated[uuid.UUID | None, Query(description="Upload a new version of this package")] = None,
    filename: Annotated[str | None, Query(max_length=255)] = None,
) -> VersionOut:
    """Upload a SCORM 1.2, SCORM 2004, cmi5 or xAPI package (or a bare cmi5.xml). The file is
    checked at once (unsafe or broken packages: 422 with a report; nothing is stored), then
    imported by a job: poll the returned version until `ready` or `failed`."""
    version = service.upload(
        session, rt.storage, rt.settings, principal, body.file, size=body.size, sha256=body.sha256,
        filename=filename or body.filename, package_id=package_id,
    )
    response.headers["Location"] = f"/api/v1/packages/{version.package_id}/versions/{version.number}"
    _wake_worker(rt)
    return _version_out(version)


def _wake_worker(rt) -> None:
    worker = getattr(rt, "import_worker", None)
    if worker is not None:
        worker.wake()


@router.post("/packages/uploads", response_model=DirectUpload, status_code=status.HTTP_201_CREATED, responses=ERRORS)
def request_upload(data: DirectUploadRequest, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal) -> DirectUpload:
    """Start a direct upload for a large package: PUT the zip to `upload_url` (straight to S3
    when the storage is S3), then POST `import_url`."""
    version, url = service.request_direct_upload(
        session, rt.storage, rt.settings, principal, filename=data.filename, package_id=data.package_id
    )
    base = rt.settings.public_base_url
    return DirectUpload(
        version=_version_out(version),
        upload_url=url or f"{base}/api/v1/packages/uploads/{version.id}",
        authenticated=url is None,
        import_url=f"{base}/api/v1/packages/{version.package_id}/import",
    )


@router.put(
    "/packages/uploads/{version_id}",
    response_model=VersionOut,
    responses={**ERRORS, **problems(413)},
    openapi_extra={"requestBody": {"required": True, "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}},
)
def receive_upload(
    version_id: uuid.UUID, upload: Annotated[SpooledUpload, Depends(spooled_body)], session: SessionDep, rt: RuntimeDep,
    principal: CurrentPrincipal,
) -> VersionOut:
    """The direct-upload target when storage is local (S3 deployments PUT to the presigned URL)."""
    return _version_out(service.receive_direct_upload(session, rt.storage, rt.settings, principal, version_id, upload.file, upload.size))


@router.post("/packages/{package_id}/import", response_model=VersionOut, status_code=status.HTTP_202_ACCEPTED, responses={**ERRORS, **problems(413)})
def start_import(package_id: uuid.UUID, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal) -> VersionOut:
    """Queue the import of a directly uploaded file."""
    version = service.start_import(session, rt.storage, rt.settings, principal, package_id)
    _wake_worker(rt)
    return _version_out(version)


@router.get("/packages", response_model=list[PackageOut], responses=problems(404))
def list_packages(session: SessionDep, principal: CurrentPrincipal) -> list[PackageOut]:
    """Packages (admins and instructors)."""
    return [_package_out(session, p) for p in service.list_packages(session, principal)]


@router.get("/packages/{package_id}", response_model=PackageOut, responses=problems(404))
def get_package(package_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> PackageOut:
    return _package_out(session, service.get_package(session, principal, package_id))


@router.get("/packages/{package_id}/versions/{number}", response_model=VersionDetail, responses=problems(404))
def get_version(package_id: uuid.UUID, number: int, session: SessionDep, principal: CurrentPrincipal) -> VersionDetail:
    """A version: the import job's status and report, its launchable units and activity tree."""
    version = service.get_version(session, principal, package_id, number)
    return VersionDetail(
        **_version_out(version).model_dump(),
        units=[UnitOut.model_validate(u) for u in service.units_of(session, version.id)],
        structure=version.structure,
    )


@router.delete("/packages/{package_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
def delete_package(package_id: uuid.UUID, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal) -> None:
    """Delete a package with all its versions; stored files go once the deletion is committed."""
    service.delete_package(session, rt.storage, principal, package_id)


@router.post("/packages/{package_id}/versions/{number}/preview", response_model=PreviewOut, responses=ERRORS)
def preview(package_id: uuid.UUID, number: int, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal) -> PreviewOut:
    """Short-lived content URLs of a ready version's units, for staff to look at the content."""
    version = service.get_version(session, principal, package_id, number)
    if version.status.value != "ready":
        from app.core.errors import Conflict

        raise Conflict(f"Version {number} is {version.status.value}.")
    units = []
    for unit in service.units_of(session, version.id):
        url = unit.launch if "://" in unit.launch else service.content_url(
            rt.settings, version, user_id=principal.user_id, attempt_id=None, path=unit.launch
        )
        units.append({"identifier": unit.identifier, "kind": unit.kind, "title": unit.title, "url": url})
    return PreviewOut(version=version.number, units=units)


@router.put("/modules/{module_id}/package", responses=ERRORS, tags=["courses"])
def attach_package(module_id: uuid.UUID, data: AttachPackage, session: SessionDep, principal: CurrentPrincipal) -> dict:
    """Make a `package` module play this package (its newest ready version for new learners)."""
    link = service.attach_to_module(session, principal, module_id, data.package_id, max_attempts=data.max_attempts,
                                    new_attempt_after_completion=data.new_attempt_after_completion,
                                    grading_method=data.grading_method)
    return {"module_id": str(link.module_id), "package_id": str(link.package_id), "max_attempts": link.max_attempts,
            "new_attempt_after_completion": link.new_attempt_after_completion, "grading_method": link.grading_method}


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    if not header:
        return None
    match = RANGE.match(header.strip())
    if not match or (match.group(1) == "" and match.group(2) == ""):
        raise _Unsatisfiable()
    start_s, end_s = match.groups()
    if start_s == "":
        length = int(end_s)
        if length == 0:
            raise _Unsatisfiable()
        return max(0, size - length), size - 1
    start = int(start_s)
    end = min(int(end_s), size - 1) if end_s else size - 1
    if start >= size or end < start:
        raise _Unsatisfiable()
    return start, end


class _Unsatisfiable(Exception):
    pass


@content_router.head("/content/{token}/{path:path}", include_in_schema=False)
@content_router.get("/content/{token}/{path:path}", responses={404: {"description": "Unknown, expired or foreign token, or no such file"},
                                                               206: {"description": "Partial content (Range)"}})
def content(token: str, path: str, request: Request, session: SessionDep, rt: RuntimeDep) -> Response:
    """Package files for the learner's browser. The signed token in the path names the version
    (and learner/attempt); relative URLs inside the package keep working under it."""
    version, key = service.resolve_content(session, rt.settings, token, path)
    info = rt.storage.stat(key)
    if info is None:
        return Response(status_code=404, content=b"Not found", media_type="text/plain")
    headers = {
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=3600",
        "ETag": f'"{info.etag}"',
        "Content-Type": info.content_type or "application/octet-stream",
    }
    try:
        wanted = _byte_range(request.headers.get("range"), info.size)
    except _Unsatisfiable:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{info.size}"})
    if request.headers.get("if-none-match") == headers["ETag"] and wanted is None:
        return Response(status_code=304, headers=headers)
    if wanted is None:
        headers["Content-Length"] = str(info.size)
        body = rt.storage.iter_range(key) if request.method == "GET" else iter(())
        return StreamingResponse(body, status_code=200, headers=headers)
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
    headers["Content-Length"] = str(end - start + 1)
    body = rt.storage.iter_range(key, start, end) if request.method == "GET" else iter(())
    return StreamingResponse(body, status_code=206, headers=headers)
