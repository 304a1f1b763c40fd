"""Content packages: uploads, import jobs, versions, delivery tokens, modules that play them.

Admins and instructors manage packages (others do not see them: 404). An upload is validated at
once from the zip's directory and manifest (hostile or broken packages are refused with a report
and nothing is stored); extraction runs as a job (the version's status resource). Each version
lives under its own immutable storage prefix; a new upload never overwrites an old version.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import uuid
from typing import IO

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.auth.principal import Principal
from app.core.config import Settings
from app.core.db import after_commit, after_rollback, utcnow
from app.core.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from app.core.signing import BadSignature, Signer
from app.core.storage import Storage
from app.courses import service as courses_service
from app.courses.models import ModuleKind
from app.packages import importer
from app.packages.models import LaunchUnit, ModulePackage, Package, PackageVersion, Standard, VersionStatus
from app.packages.safezip import ZipLimits, ZipRefused
from app.users.models import Role

log = logging.getLogger("rmtc.packages")
STALE_PROCESSING = dt.timedelta(minutes=30)


class PackageRefused(ValidationFailed):
    code = "package-refused"
    title = "Package refused"


def limits(settings: Settings) -> ZipLimits:
    return ZipLimits(
        max_files=settings.package_max_files,
        max_total_bytes=settings.package_max_uncompressed_bytes,
        max_file_bytes=min(settings.package_max_uncompressed_bytes, 2 * 1024**3),
        max_ratio=settings.package_max_ratio,
    )


def content_signer(settings: Settings) -> Signer:
    return Signer(settings.secret_key, "content")


# Access -----------------------------------------------------------------------------------


def _require_staff(principal: Principal) -> None:
    if principal.role not in (Role.admin, Role.instructor):
        raise NotFound("No such package.")


def get_package(session: Session, principal: Principal, package_id: uuid.UUID) -> Package:
    _require_staff(principal)
    package = session.get(Package, package_id)
    if package is None:
        raise NotFound(f"No package {package_id}.")
    return package


def _managed(session: Session, principal: Principal, package_id: uuid.UUID) -> Package:
    package = get_package(session, principal, package_id)
    if principal.role is not Role.admin and package.owner_id != principal.user_id:
        raise Forbidden("Only the package's owner or an admin changes it.")
    return package


def list_packages(session: Session, principal: Principal) -> list[Package]:
    _require_staff(principal)
    return list(session.scalars(select(Package).order_by(Package.created_at.desc())))


def versions_of(session: Session, package_id: uuid.UUID) -> list[PackageVersion]:
    stmt = select(PackageVersion).where(PackageVersion.package_id == package_id).order_by(PackageVersion.number)
    return list(session.scalars(stmt))


def get_version(session: Session, principal: Principal, package_id: uuid.UUID, number: int) -> PackageVersion:
    get_package(session, principal, package_id)
    stmt = select(PackageVersion).where(PackageVersion.package_id == package_id, PackageVersion.number == number)
    version = session.scalars(stmt).first()
    if version is None:
        raise NotFound(f"No version {number} of package {package_id}.")
    return version


def units_of(session: Session, version_id: uuid.UUID) -> list[LaunchUnit]:
    stmt = select(LaunchUnit).where(LaunchUnit.version_id == version_id).order_by(LaunchUnit.position)
    return list(session.scalars(stmt))


# Uploads ----------------------------------------------------------------------------------


def _new_version(session: Session, principal: Principal, package_id: uuid.UUID | None, filename: str | None) -> tuple[Package, PackageVersion]:
    if principal.role not in (Role.admin, Role.instructor):
        raise Forbidden("Only admins and instructors upload packages.")
    if package_id is None:
        package = Package(owner_id=principal.user_id, title={})
        session.add(package)
        session.flush()
    else:
        package = _managed(session, principal, package_id)
    number = (session.scalar(select(func.max(PackageVersion.number)).where(PackageVersion.package_id == package.id)) or 0) + 1
    version = PackageVersion(
        package_id=package.id,
        number=number,
        status=VersionStatus.awaiting_upload,
        storage_prefix=f"packages/{package.id}/v{number}/",
        source_filename=(filename or "")[:255] or None,
        created_by_id=principal.user_id,
    )
    session.add(version)
    session.flush()
    return package, version


def upload(
    session: Session,
    storage: Storage,
    settings: Settings,
    principal: Principal,
    fileobj: IO[bytes],
    *,
    size: int,
    sha256: str | None,
    filename: str | None,
    package_id: uuid.UUID | None,
) -> PackageVersion:
    """Validate the file at once (directory + manifest), store it, queue the import."""
    if size > settings.package_max_bytes:
        raise PayloadTooLarge(f"A package is at most {settings.package_max_bytes} bytes.")
    if size == 0:
        raise PackageRefused("The upload is empty.", errors=[{"code": "empty", "message": "empty body"}])
    validation = importer.validate(fileobj, limits(settings))
    if not validation.ok:
        raise PackageRefused("The package was refused; see `report`.", report=validation.report(), errors=validation.errors)
    _, version = _new_version(session, principal, package_id, filename)
    version.source_kind = validation.source_kind
    version.size_bytes = size
    version.sha256 = sha256
    version.upload_key = f"uploads/{version.id}"
    fileobj.seek(0)
    storage.put_file(version.upload_key, fileobj, content_type="application/octet-stream")
    key = version.upload_key
    after_rollback(session, lambda: storage.delete(key))
    version.status = VersionStatus.queued
    session.flush()
    return version


def request_direct_upload(
    session: Session, storage: Storage, settings: Settings, principal: Principal, *, filename: str | None,
    package_id: uuid.UUID | None, expires_in: int = 3600,
) -> tuple[PackageVersion, str | None]:
    """A version awaiting its file, and a presigned PUT URL on S3 (None on local storage, where
    the file goes to `PUT /api/v1/packages/uploads/{version}`)."""
    _, version = _new_version(session, principal, package_id, filename)
    version.upload_key = f"uploads/{version.id}"
    session.flush()
    return version, storage.presigned_put_url(version.upload_key, expires_in=expires_in, content_type="application/zip")


def _awaiting(session: Session, principal: Principal, version_id: uuid.UUID) -> PackageVersion:
    version = session.get(PackageVersion, version_id)
    if version is None:
        raise NotFound(f"No upload {version_id}.")
    _managed(session, principal, version.package_id)
    if version.status is not VersionStatus.awaiting_upload:
        raise Conflict(f"This version is {version.status.value}; it takes no upload.")
    return version


def receive_direct_upload(
    session: Session, storage: Storage, settings: Settings, principal: Principal, version_id: uuid.UUID,
    fileobj: IO[bytes], size: int,
) -> PackageVersion:
    version = _awaiting(session, principal, version_id)
    if size > settings.package_max_bytes:
        raise PayloadTooLarge(f"A package is at most {settings.package_max_bytes} bytes.")
    storage.put_file(version.upload_key, fileobj, content_type="application/octet-stream")
    return version


def start_import(session: Session, storage: Storage, settings: Settings, principal: Principal, package_id: uuid.UUID) -> PackageVersion:
    package = _managed(session, principal, package_id)
    stmt = select(PackageVersion).where(
        PackageVersion.package_id == package.id, PackageVersion.status == VersionStatus.awaiting_upload
    ).order_by(PackageVersion.number.desc())
    version = session.scalars(stmt).first()
    if version is None:
        raise Conflict("No upload is waiting to be imported for this package.")
    info = storage.stat(version.upload_key)
    if info is None:
        raise Conflict("The file has not been uploaded yet.")
    if info.size > settings.package_max_bytes:
        key = version.upload_key
        after_commit(session, lambda: storage.delete(key))
        version.status = VersionStatus.failed
        version.error = f"The upload is {info.size} bytes; the limit is {settings.package_max_bytes}."
        raise PayloadTooLarge(version.error)
    version.size_bytes = info.size
    version.status = VersionStatus.queued
    session.flush()
    return version


# The import job ---------------------------------------------------------------------------


def claim_next(session_factory: sessionmaker, now: dt.datetime) -> uuid.UUID | None:
    """Atomically take one queued (or abandoned) version; safe with many workers."""
    with session_factory() as session, session.begin():
        candidates = session.scalars(
            select(PackageVersion.id)
            .where(
                (PackageVersion.status == VersionStatus.queued)
                | ((PackageVersion.status == VersionStatus.processing) & (PackageVersion.started_at < now - STALE_PROCESSING))
            )
            .order_by(PackageVersion.created_at)
            .limit(5)
        ).all()
        for version_id in candidates:
            claimed = session.execute(
                update(PackageVersion)
                .where(PackageVersion.id == version_id, PackageVersion.status.in_([VersionStatus.queued, VersionStatus.processing]))
                .where((PackageVersion.status == VersionStatus.queued) | (PackageVersion.started_at < now - STALE_PROCESSING))
                .values(status=VersionStatus.processing, started_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount == 1:
                return version_id
    return None


def claim(session_factory: sessionmaker, version_id: uuid.UUID, now: dt.datetime) -> bool:
    """Take one specific queued version (the CLI imports its own upload at once)."""
    with session_factory() as session, session.begin():
        result = session.execute(
            update(PackageVersion)
            .where(PackageVersion.id == version_id, PackageVersion.status == VersionStatus.queued)
            .values(status=VersionStatus.processing, started_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def _finish_failed(session_factory: sessionmaker, version_id: uuid.UUID, report: dict, message: str) -> None:
    with session_factory() as session, session.begin():
        version = session.get(PackageVersion, version_id)
        version.status = VersionStatus.failed
        version.report = report
        version.error = message
        version.finished_at = utcnow()


def process(session_factory: sessionmaker, storage: Storage, settings: Settings, version_id: uuid.UUID, *, progress=None) -> VersionStatus:
    """Extract a claimed version into storage and record its units; on any failure nothing of
    it stays in storage and the version is `failed` with a report."""
    with session_factory() as session:
        version = session.get(PackageVersion, version_id)
        if version is None or version.status is not VersionStatus.processing:
            return version.status if version else VersionStatus.failed
        prefix, upload_key = version.storage_prefix, version.upload_key
    zip_limits = limits(settings)
    try:
        with tempfile.TemporaryFile() as tmp:
            for chunk in storage.iter_range(upload_key):
                tmp.write(chunk)
            tmp.seek(0)
            validation = importer.validate(tmp, zip_limits)
            if not validation.ok:
                _finish_failed(session_factory, version_id, validation.report(), "The package was refused; see the report.")
                storage.delete(upload_key)
                return VersionStatus.failed
            if validation.source_kind == "zip":
                files, total = importer.extract(tmp, validation, storage, prefix, zip_limits, progress=progress)
            else:
                files, total = 1, version_size(tmp)
                tmp.seek(0)
                storage.put_file(prefix + "cmi5.xml", tmp, content_type="application/xml")
    except ZipRefused as exc:
        storage.delete_prefix(prefix)
        _finish_failed(session_factory, version_id, {"errors": [i.as_dict() for i in exc.issues], "warnings": []}, str(exc))
        storage.delete(upload_key)
        return VersionStatus.failed
    except Exception as exc:  # storage or unexpected failure: leave nothing half-imported
        log.exception("package import failed", extra={"version_id": str(version_id)})
        storage.delete_prefix(prefix)
        _finish_failed(session_factory, version_id, {"errors": [{"code": "import-failed", "message": str(exc)[:500], "entry": None}], "warnings": []},
                       "The import failed; it can be retried by uploading again.")
        return VersionStatus.failed
    parsed = validation.parsed
    try:
        with session_factory() as session, session.begin():
            version = session.get(PackageVersion, version_id)
            package = session.get(Package, version.package_id)
            version.standard = Standard(parsed.standard)
            version.edition = parsed.edition
            version.title = parsed.title
            version.description = parsed.description
            version.structure = {"identifier": parsed.identifier, "tree": parsed.tree, **parsed.extra}
            version.report = validation.report()
            version.file_count = files
            version.uncompressed_bytes = total
            for position, unit in enumerate(parsed.units, start=1):
                data = {k: v for k, v in {
                    "mastery_score": unit.mastery_score, "data_from_lms": unit.data_from_lms,
                    "max_time_allowed": unit.max_time_allowed, "time_limit_action": unit.time_limit_action,
                    "completion_threshold": unit.completion_threshold, "scaled_passing_score": unit.scaled_passing_score,
                    "launch_method": unit.launch_method, "move_on": unit.move_on, "activity_type": unit.activity_type,
                    "entitlement_key": unit.entitlement_key, "objectives": unit.objectives or None,
                    "resource_id": unit.resource_id, "description": unit.description or None,
                    "shared_data": unit.shared_data or None,
                }.items() if v is not None}
                session.add(LaunchUnit(version_id=version.id, position=position, identifier=unit.id[:500], kind=unit.kind,
                                       title=unit.title, launch=unit.launch[:2000], parameters=unit.parameters, data=data))
            version.status = VersionStatus.ready
            version.finished_at = utcnow()
            version.error = None
            package.title = parsed.title
            package.standard = Standard(parsed.standard)
            package.identifier = parsed.identifier[:500] or None
            package.latest_ready_version = max(package.latest_ready_version or 0, version.number)
            package.updated_at = utcnow()
    except Exception:
        log.exception("recording the import failed", extra={"version_id": str(version_id)})
        storage.delete_prefix(prefix)
        _finish_failed(session_factory, version_id, {"errors": [{"code": "import-failed", "message": "could not record the import", "entry": None}], "warnings": []},
                       "The import failed while recording it.")
        return VersionStatus.failed
    storage.delete(upload_key)
    return VersionStatus.ready


def version_size(fileobj: IO[bytes]) -> int:
    fileobj.seek(0, 2)
    return fileobj.tell()


# Deleting, attaching, delivering -----------------------------------------------------------


def delete_package(session: Session, storage: Storage, principal: Principal, package_id: uuid.UUID) -> None:
    """Delete a package and, once that is committed, every stored object of it."""
    package = _managed(session, principal, package_id)
    in_use = session.scalars(select(ModulePackage.module_id).where(ModulePackage.package_id == package.id).limit(1)).first()
    if in_use is not None:
        raise Conflict("A course module plays this package; detach it first.")
    uploads = [v.upload_key for v in versions_of(session, package.id) if v.upload_key]
    prefix = f"packages/{package.id}/"
    session.delete(package)
    session.flush()

    def cleanup() -> None:
        storage.delete_prefix(prefix)
        for key in uploads:
            storage.delete(key)

    after_commit(session, cleanup)


def attach_to_module(session: Session, principal: Principal, module_id: uuid.UUID, package_id: uuid.UUID, *,
                     max_attempts: int | None = None, new_attempt_after_completion: bool = True,
                     grading_method: str = "highest") -> ModulePackage:
    module, course = courses_service.get_module(session, principal, module_id)
    courses_service.get_editable_course(session, principal, course.id)
    if module.kind is not ModuleKind.package:
        raise ValidationFailed("Only modules of kind `package` play packages.", errors=[{"loc": ["path", "module_id"], "msg": "not a package module", "type": "value_error"}])
    package = get_package(session, principal, package_id)
    if not package.latest_ready_version:
        raise Conflict("The package has no ready version yet.")
    link = session.get(ModulePackage, module.id)
    if link is None:
        link = ModulePackage(module_id=module.id, package_id=package.id)
        session.add(link)
    else:
        link.package_id = package.id
    link.max_attempts = max_attempts
    link.new_attempt_after_completion = new_attempt_after_completion
    link.grading_method = grading_method
    session.flush()
    return link


def package_of_module(session: Session, module_id: uuid.UUID) -> Package | None:
    link = session.get(ModulePackage, module_id)
    return session.get(Package, link.package_id) if link else None


def content_url(settings: Settings, version: PackageVersion, *, user_id: uuid.UUID, attempt_id: uuid.UUID | None, path: str) -> str:
    token = content_signer(settings).sign(
        {"v": str(version.id), "u": str(user_id), "a": str(attempt_id) if attempt_id else None},
        ttl_seconds=settings.content_token_ttl_seconds,
    )
    return f"{settings.content_origin}/content/{token}/{path}"


def resolve_content(session: Session, settings: Settings, token: str, path: str) -> tuple[PackageVersion, str]:
    """The version and storage key a content URL points at; anything wrong is simply not found."""
    try:
        payload = content_signer(settings).verify(token)
        version_id = uuid.UUID(payload["v"])
    except (BadSignature, KeyError, ValueError, TypeError):
        raise NotFound("No such content.") from None
    version = session.get(PackageVersion, version_id)
    if version is None or version.status is not VersionStatus.ready:
        raise NotFound("No such content.")
    from app.core.storage import InvalidKey, validate_key

    try:
        key = validate_key(version.storage_prefix + path)
    except InvalidKey:
        raise NotFound("No such content.") from None
    if not key.startswith(version.storage_prefix):
        raise NotFound("No such content.")
    return version, key
