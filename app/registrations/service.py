"""Registrations, attempts and launches.

A learner enrolled in a course gets one registration per package module (created at the first
launch); it keeps its package version when a new one is uploaded, until an instructor moves it.
Attempts: a new one starts when the last is finished and the module allows it (attempt limit,
`new_attempt_after_completion`); otherwise a finished attempt is reopened in review mode. The
module's score is graded across attempts (highest / average / first / last).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.auth.principal import Principal
from app.core.config import Settings
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.core.signing import Signer
from app.courses import service as courses_service
from app.courses.models import ModuleKind
from app.enrolments import repository as enrolments_repository
from app.enrolments.models import EnrolmentStatus
from app.packages import service as packages_service
from app.packages.models import LaunchUnit, ModulePackage, Package, PackageVersion, Standard, VersionStatus
from app.registrations import repository, sequencing
from app.registrations.models import Attempt, GradingMethod, Registration, RuntimeSession, UnitState
from app.users.models import Role, User

LAUNCH_TTL_SECONDS = 300
RUNTIME_TTL_SECONDS = 12 * 3600
LAUNCHABLE = {"sco", "asset", "au", "activity"}


class AttemptsExhausted(Conflict):
    code = "attempts-exhausted"
    title = "No attempts left"


def launch_signer(settings: Settings) -> Signer:
    return Signer(settings.secret_key, "player-launch")


def runtime_signer(settings: Settings) -> Signer:
    return Signer(settings.secret_key, "player-runtime")


def _play_settings(session: Session, module_id: uuid.UUID) -> ModulePackage:
    link = session.get(ModulePackage, module_id)
    if link is None:
        raise Conflict("This module has no package yet.")
    return link


def open_registration(session: Session, principal: Principal, module_id: uuid.UUID, *, now: dt.datetime) -> Registration:
    """The learner's registration for a package module, created on first use."""
    module, course = courses_service.get_module(session, principal, module_id)
    if module.kind is not ModuleKind.package:
        raise NotFound(f"Module {module_id} does not play a package.")
    existing = repository.find(session, principal.user_id, module.id)
    if existing is not None:
        return existing
    enrolment = enrolments_repository.find(session, course.id, principal.user_id)
    if enrolment is None or enrolment.status is EnrolmentStatus.withdrawn:
        raise Forbidden("Enrol in the course to play its modules.")
    link = _play_settings(session, module.id)
    package = session.get(Package, link.package_id)
    if not package.latest_ready_version:
        raise Conflict("The package has no ready version yet.")
    version = _version(session, package.id, package.latest_ready_version)
    registration = Registration(user_id=principal.user_id, module_id=module.id, package_id=package.id,
                                version_id=version.id, created_at=now, updated_at=now)
    session.add(registration)
    session.flush()
    return registration


def _version(session: Session, package_id: uuid.UUID, number: int) -> PackageVersion:
    from sqlalchemy import select

    version = session.scalars(select(PackageVersion).where(PackageVersion.package_id == package_id,
                                                           PackageVersion.number == number)).first()
    if version is None or version.status is not VersionStatus.ready:
        raise NotFound(f"No ready version {number}.")
    return version


def get_registration(session: Session, principal: Principal, registration_id: uuid.UUID) -> Registration:
    registration = repository.get_visible(session, principal, registration_id)
    if registration is None:
        raise NotFound(f"No registration {registration_id}.")
    return registration


def list_registrations(session: Session, principal: Principal, *, module_id: uuid.UUID | None,
                       user_id: uuid.UUID | None, limit: int = 200) -> list[Registration]:
    return repository.list_visible(session, principal, module_id=module_id, user_id=user_id, limit=limit)


def move_registration(session: Session, principal: Principal, registration_id: uuid.UUID, version_number: int,
                      *, now: dt.datetime) -> Registration:
    """Move a learner to another version of the module's package (instructors of the course, admins).
    Their finished attempts keep the version they were played on; the next attempt uses the new one."""
    registration = get_registration(session, principal, registration_id)
    if principal.role not in (Role.admin, Role.instructor):
        raise Forbidden("Only instructors and admins move learners between versions.")
    module, course = courses_service.get_module(session, principal, registration.module_id)
    courses_service.get_editable_course(session, principal, course.id)
    version = _version(session, registration.package_id, version_number)
    registration.version_id = version.id
    registration.updated_at = now
    latest = repository.latest_attempt(session, registration.id)
    if latest is not None and latest.finished_at is None and latest.version_id != version.id:
        latest.finished_at = now  # an open attempt on the old version is closed as it stands
    session.flush()
    return registration


def units_of(session: Session, version_id: uuid.UUID) -> list[LaunchUnit]:
    return [u for u in packages_service.units_of(session, version_id) if u.kind in LAUNCHABLE]


def grade(method: str, attempts: list[Attempt]) -> float | None:
    scored = [a.score_scaled for a in attempts if a.score_scaled is not None]
    if not scored:
        return None
    if method == GradingMethod.first.value:
        return scored[0]
    if method == GradingMethod.last.value:
        return scored[-1]
    if method == GradingMethod.average.value:
        return sum(scored) / len(scored)
    return max(scored)


@dataclass
class Launch:
    url: str
    expires_at: dt.datetime
    registration: Registration
    attempt: Attempt
    unit: LaunchUnit
    runtime_session: RuntimeSession
    mode: str
    runtime_url: str | None = None
    content_url: str | None = None


def start_attempt(session: Session, registration: Registration, now: dt.datetime, *,
                  previous: Attempt | None = None) -> Attempt:
    attempt = Attempt(registration_id=registration.id, number=(previous.number + 1) if previous else 1,
                      version_id=registration.version_id, started_at=now)
    session.add(attempt)
    registration.attempt_count += 1
    session.flush()
    return attempt


def _attempt_for_launch(session: Session, registration: Registration, link: ModulePackage, now: dt.datetime,
                        new_attempt: bool) -> tuple[Attempt, str]:
    latest = repository.latest_attempt(session, registration.id)
    if latest is not None and latest.finished_at is None and not new_attempt:
        return latest, "normal"
    if latest is not None and latest.finished_at is None and new_attempt:
        latest.finished_at = now
    allowed = link.max_attempts is None or registration.attempt_count < link.max_attempts
    if latest is None or (allowed and (link.new_attempt_after_completion or new_attempt)):
        if not allowed:
            raise AttemptsExhausted(f"All {link.max_attempts} attempts are used.")
        return start_attempt(session, registration, now, previous=latest), "normal"
    if new_attempt:
        raise AttemptsExhausted(f"All {link.max_attempts} attempts are used." if not allowed
                                else "This module does not allow a new attempt after completion.")
    return latest, "review"


def launch(session: Session, settings: Settings, principal: Principal, registration_id: uuid.UUID, *,
           unit_identifier: str | None, new_attempt: bool, now: dt.datetime, browse: bool = False,
           return_url: str | None = None) -> Launch:
    registration = get_registration(session, principal, registration_id)
    if registration.user_id != principal.user_id:
        raise Forbidden("Only the learner launches their registration.")
    enrolment = enrolments_repository.find(session, courses_service.module_by_id(session, registration.module_id).course_id,
                                           principal.user_id)
    if enrolment is None or enrolment.status is EnrolmentStatus.withdrawn:
        raise Forbidden("The enrolment was withdrawn.")
    link = _play_settings(session, registration.module_id)
    cmi5_package = standard_of(session, registration.version_id) is Standard.cmi5
    if cmi5_package:
        # A cmi5 registration is one course enrolment: its AUs are relaunched, never re-attempted.
        if new_attempt:
            raise Conflict("A cmi5 course has no new attempts: relaunch its AUs.")
        attempt, mode = repository.latest_attempt(session, registration.id) or start_attempt(session, registration, now), "normal"
    else:
        attempt, mode = _attempt_for_launch(session, registration, link, now, new_attempt)
    units = units_of(session, attempt.version_id)
    if not units:
        raise Conflict("The package has nothing to launch.")
    if unit_identifier is not None:
        unit = next((u for u in units if u.identifier == unit_identifier), None)
        if unit is None:
            raise ValidationFailed(f"No launchable unit {unit_identifier!r} in this package.",
                                   errors=[{"loc": ["body", "unit"], "msg": "unknown unit", "type": "value_error"}])
    flags = {} if cmi5_package else item_flags(session, attempt, attempt_version(attempt))
    if unit_identifier is None:
        unit = next((u for u in units if u.id == attempt.current_unit_id), units[0])
        if flags.get(unit.identifier, {}).get("disabled"):  # e.g. its attempt limit is reached: the next one
            unit = next((u for u in units if not flags.get(u.identifier, {}).get("disabled")), unit)
    if flags.get(unit.identifier, {}).get("disabled") and mode == "normal":
        raise Forbidden(f"The item {unit.identifier} is not available now (disabled by its sequencing rules or attempt limit).")
    from app.registrations import cmi5, runtime

    if cmi5_package:
        state = repository.unit_state(session, attempt.id, unit.id)
        mode = cmi5.launch_mode_for(state, browse=browse) if state is not None else ("browse" if browse else "normal")
    runtime_session = runtime.start_session(session, registration, attempt, unit, mode=mode, now=now)
    if cmi5_package:
        version = session.get(PackageVersion, attempt.version_id)
        cmi5.prepare_launch(session, settings, runtime_session, return_url=return_url, now=now,
                            launch_url=unit_url(settings, version, registration, attempt, unit))
    return _launch(settings, runtime_session, registration, attempt, unit, mode, now)


def _launch(settings: Settings, runtime_session: RuntimeSession, registration: Registration, attempt: Attempt,
            unit: LaunchUnit, mode: str, now: dt.datetime) -> Launch:
    token = launch_signer(settings).sign({"s": str(runtime_session.id)}, ttl_seconds=LAUNCH_TTL_SECONDS, now=now.timestamp())
    launch = Launch(url=f"{settings.content_origin}/play/{token}", expires_at=now + dt.timedelta(seconds=LAUNCH_TTL_SECONDS),
                    registration=registration, attempt=attempt, unit=unit, runtime_session=runtime_session, mode=mode)
    version = attempt_version(attempt)
    if version.standard in (Standard.scorm12, Standard.scorm2004):
        # For a frontend that runs its own SCORM runtime (e.g. scorm-again) instead of the player page.
        launch.runtime_url = f"{settings.content_origin}/runtime/{runtime_token(settings, runtime_session)}"
        launch.content_url = unit_url(settings, version, registration, attempt, unit)
    return launch


def runtime_token(settings: Settings, runtime_session: RuntimeSession) -> str:
    return runtime_signer(settings).sign({"s": str(runtime_session.id)}, ttl_seconds=RUNTIME_TTL_SECONDS)


def attempt_version(attempt: Attempt) -> PackageVersion:
    from sqlalchemy.orm import object_session

    return object_session(attempt).get(PackageVersion, attempt.version_id)


def unit_url(settings: Settings, version: PackageVersion, registration: Registration, attempt: Attempt,
             unit: LaunchUnit) -> str:
    """Where the unit's content is: a signed content URL for a file of the package (SCORM
    parameters appended to its query), or the AU's own absolute URL (cmi5 AUs hosted elsewhere)."""
    if "://" in unit.launch.split("?", 1)[0]:
        return unit.launch
    path = unit.launch
    if unit.parameters and version.standard in (Standard.scorm12, Standard.scorm2004):
        path += ("&" if "?" in path else "?") + unit.parameters.lstrip("?&")
    return packages_service.content_url(settings, version, user_id=registration.user_id, attempt_id=attempt.id, path=path)


def navigate(session: Session, settings: Settings, runtime_token: str, unit_identifier: str, *, request: str = "choice",
             now: dt.datetime) -> Launch:
    """From a running (or just ended) session to another unit of the same attempt. Disabled items
    (pre-condition rules) cannot be delivered; hidden ones (isvisible="false", hiddenFromChoice)
    cannot be chosen from the menu but are reached by flow (continue/previous)."""
    from app.registrations import runtime

    ctx = runtime.resolve(session, settings, runtime_token)
    unit = next((u for u in units_of(session, ctx.attempt.version_id) if u.identifier == unit_identifier), None)
    if unit is None:
        raise NotFound(f"No unit {unit_identifier!r} in this package.")
    flags = item_flags(session, ctx.attempt, ctx.version).get(unit_identifier) or {}
    if flags.get("disabled") or (request == "choice" and flags.get("hidden")):
        raise Forbidden("That item is not available now.")
    mode = "review" if ctx.review else "normal"
    runtime_session = runtime.start_session(session, ctx.registration, ctx.attempt, unit, mode=mode, now=now)
    return _launch(settings, runtime_session, ctx.registration, ctx.attempt, unit, mode, now)


def waive(session: Session, principal: Principal, registration_id: uuid.UUID, au_identifier: str, reason: str, *,
          now: dt.datetime) -> Registration:
    registration = get_registration(session, principal, registration_id)
    if principal.role not in (Role.admin, Role.instructor):
        raise Forbidden("Only instructors and admins waive AUs.")
    module, course = courses_service.get_module(session, principal, registration.module_id)
    courses_service.get_editable_course(session, principal, course.id)
    if standard_of(session, registration.version_id) is not Standard.cmi5:
        raise Conflict("Only AUs of cmi5 courses are waived.")
    from app.registrations import cmi5

    cmi5.waive(session, registration, cmi5.require_au(session, registration.version_id, au_identifier), reason, now=now)
    session.flush()
    return registration


def item_flags(session: Session, attempt: Attempt, version: PackageVersion) -> dict[str, dict]:
    """Per item identifier: "hidden" (from choice) and "disabled", as the attempt's last rollup left
    them; an attempt nothing was committed to yet gets them from the manifest and its rules now."""
    items = (attempt.tree_state or {}).get("items")
    if items is None:
        states = {s.unit_id: s for s in repository.unit_states(session, attempt.id)}
        items = sequencing.roll_up(version.structure or {}, units_of(session, version.id), states).tree_state["items"]
    return items


def learner_of(session: Session, registration: Registration) -> User:
    return session.get(User, registration.user_id)


def standard_of(session: Session, version_id: uuid.UUID) -> Standard:
    return session.get(PackageVersion, version_id).standard


def unit_state_rows(session: Session, attempt_id: uuid.UUID) -> list[UnitState]:
    return repository.unit_states(session, attempt_id)
