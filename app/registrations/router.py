"""Registrations and launches (API origin), the player page and the SCORM run-time (content origin)."""

from __future__ import annotations

import datetime as dt
import html
import json
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.auth.dependencies import CurrentPrincipal
from app.core.db import utcnow
from app.core.deps import RuntimeDep, SessionDep
from app.core.openapi import problems
from app.registrations import repository, runtime, service
from app.registrations.models import Attempt, Registration
from app.scorm import datamodel

router = APIRouter(prefix="/api/v1", tags=["registrations"], responses=problems(401, 404))
player_router = APIRouter(tags=["player"])


class AttemptOut(BaseModel):
    id: uuid.UUID
    number: int
    completion_status: str
    success_status: str
    score_scaled: float | None
    total_time_seconds: float
    started_at: dt.datetime
    finished_at: dt.datetime | None


class RegistrationOut(BaseModel):
    id: uuid.UUID = Field(description="also the xAPI registration of the learner's statements")
    user_id: uuid.UUID
    module_id: uuid.UUID
    package_id: uuid.UUID
    version_id: uuid.UUID
    status: str
    score_scaled: float | None
    attempt_count: int
    created_at: dt.datetime
    updated_at: dt.datetime
    attempts: list[AttemptOut] = []


class LaunchIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}, {"unit": "item_2"}, {"new_attempt": True}]})
    unit: str | None = Field(default=None, max_length=500, description="identifier of the unit (SCO/AU) to start; default: where the learner left off")
    new_attempt: bool = Field(default=False, description="start a new attempt (within the module's attempt limit)")


class LaunchOut(BaseModel):
    launch_url: str = Field(description="open in a browser or web view; valid for a few minutes")
    expires_at: dt.datetime
    registration_id: uuid.UUID
    attempt_id: uuid.UUID
    attempt_number: int
    unit: str
    mode: str = Field(description="normal, or review when no new attempt is allowed")


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"version": 2}]})
    version: int = Field(ge=1)


def _attempt_out(a: Attempt) -> AttemptOut:
    return AttemptOut(id=a.id, number=a.number, completion_status=a.completion_status, success_status=a.success_status,
                      score_scaled=a.score_scaled, total_time_seconds=a.total_time_cs / 100, started_at=a.started_at,
                      finished_at=a.finished_at)


def _registration_out(session, r: Registration, with_attempts: bool = True) -> RegistrationOut:
    attempts = [_attempt_out(a) for a in repository.attempts_of(session, r.id)] if with_attempts else []
    return RegistrationOut(id=r.id, user_id=r.user_id, module_id=r.module_id, package_id=r.package_id, version_id=r.version_id,
                           status=r.status, score_scaled=r.score_scaled, attempt_count=r.attempt_count, created_at=r.created_at,
                           updated_at=r.updated_at, attempts=attempts)


def _launch_out(launch: service.Launch) -> LaunchOut:
    return LaunchOut(launch_url=launch.url, expires_at=launch.expires_at, registration_id=launch.registration.id,
                     attempt_id=launch.attempt.id, attempt_number=launch.attempt.number, unit=launch.unit.identifier,
                     mode=launch.mode)


@router.post("/modules/{module_id}/registration", response_model=RegistrationOut, responses=problems(403, 409))
def open_registration(module_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> RegistrationOut:
    """The signed-in learner's registration for a package module (created on first call)."""
    return _registration_out(session, service.open_registration(session, principal, module_id, now=utcnow()))


@router.post("/modules/{module_id}/launch", response_model=LaunchOut, responses=problems(403, 409, 422))
def launch_module(module_id: uuid.UUID, data: LaunchIn, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal) -> LaunchOut:
    """Open (or reuse) the learner's registration and launch it."""
    now = utcnow()
    registration = service.open_registration(session, principal, module_id, now=now)
    return _launch_out(service.launch(session, rt.settings, principal, registration.id, unit_identifier=data.unit,
                                      new_attempt=data.new_attempt, now=now))


@router.get("/registrations", response_model=list[RegistrationOut])
def list_registrations(session: SessionDep, principal: CurrentPrincipal,
                       module_id: Annotated[uuid.UUID | None, Query()] = None,
                       user_id: Annotated[uuid.UUID | None, Query()] = None) -> list[RegistrationOut]:
    """Registrations in the caller's scope (learners: their own)."""
    rows = service.list_registrations(session, principal, module_id=module_id, user_id=user_id)
    return [_registration_out(session, r, with_attempts=False) for r in rows]


@router.get("/registrations/{registration_id}", response_model=RegistrationOut)
def get_registration(registration_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> RegistrationOut:
    return _registration_out(session, service.get_registration(session, principal, registration_id))


@router.post("/registrations/{registration_id}/launch", response_model=LaunchOut, responses=problems(403, 409, 422))
def launch_registration(registration_id: uuid.UUID, data: LaunchIn, session: SessionDep, rt: RuntimeDep,
                        principal: CurrentPrincipal) -> LaunchOut:
    """A short-lived launch URL on the content origin for the player page."""
    return _launch_out(service.launch(session, rt.settings, principal, registration_id, unit_identifier=data.unit,
                                      new_attempt=data.new_attempt, now=utcnow()))


@router.post("/registrations/{registration_id}/move", response_model=RegistrationOut, responses=problems(403, 422))
def move_registration(registration_id: uuid.UUID, data: MoveIn, session: SessionDep, principal: CurrentPrincipal) -> RegistrationOut:
    """Move a learner to another version of the package (instructors of the course, admins)."""
    return _registration_out(session, service.move_registration(session, principal, registration_id, data.version, now=utcnow()))


# Content origin: the player page and the run-time --------------------------------------------


@lru_cache(maxsize=1)
def _player_assets() -> tuple[str, str]:
    here = Path(__file__).parent / "player"
    page = (here / "player.html").read_text("utf-8").replace("{{DATAMODEL}}", (here / "datamodel.js").read_text("utf-8"))
    return page, (here / "player.js").read_text("utf-8")


def _scorm_headers() -> dict[str, str]:
    return {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


@player_router.get("/play/{token}", include_in_schema=False)
def player_page(token: str, session: SessionDep, rt: RuntimeDep) -> Response:
    """The player: frames the unit and provides the SCORM API to it."""
    ctx = runtime.open_player(session, rt.settings, token, now=utcnow())
    from app.packages import service as packages_service

    runtime_token = service.runtime_signer(rt.settings).sign({"s": str(ctx.runtime_session.id)},
                                                             ttl_seconds=service.RUNTIME_TTL_SECONDS)
    units = service.units_of(session, ctx.attempt.version_id)
    flags = service.item_flags(session, ctx.attempt, ctx.version)
    items = [{"id": u.identifier, "title": _title(u.title), "hidden": bool(flags.get(u.identifier, {}).get("hidden")),
              "disabled": bool(flags.get(u.identifier, {}).get("disabled"))} for u in units]
    unit = ctx.unit
    path = unit.launch + (("&" if "?" in unit.launch else "?") + unit.parameters.lstrip("?&") if unit.parameters else "")
    content = packages_service.content_url(rt.settings, ctx.version, user_id=ctx.registration.user_id,
                                           attempt_id=ctx.attempt.id, path=path)
    config = {
        "scorm": runtime.scorm_version(ctx.version),
        "runtime": f"/runtime/{runtime_token}",
        "content": content,
        "unit": unit.identifier,
        "title": _title(unit.title),
        "items": items,
        "rules": datamodel.export_rules(runtime.scorm_version(ctx.version)),
    }
    page, script = _player_assets()
    body = page.replace("{{TITLE}}", html.escape(config["title"] or "Course")).replace(
        "{{CONFIG}}", json.dumps(config).replace("<", "\\u003c")).replace("{{SCRIPT}}", script)
    return Response(body, media_type="text/html; charset=utf-8", headers=_scorm_headers())


def _title(texts: dict[str, Any] | None) -> str:
    texts = texts or {}
    return texts.get("en") or next((v for v in texts.values() if isinstance(v, str)), "")


@player_router.get("/runtime/{token}/cmi", include_in_schema=False)
def runtime_cmi(token: str, session: SessionDep, rt: RuntimeDep) -> dict[str, Any]:
    """The session's initial CMI data (flat element -> value)."""
    ctx = runtime.resolve(session, rt.settings, token)
    return {"scorm": ctx.scorm, "mode": "review" if ctx.review else "normal", "cmi": runtime.initial_data(session, ctx)
            if not ctx.runtime_session.initialized else {**runtime.initial_data(session, ctx), **(ctx.state.cmi or {})}}


async def _commit(token: str, request: Request, rt) -> Response:
    from starlette.concurrency import run_in_threadpool

    body = await request.body()  # raw: JSON or a text/plain beacon
    terminate = request.query_params.get("terminate", request.query_params.get("final", "")).lower() == "true"

    def in_transaction() -> None:  # one transaction, as for every request
        with rt.session_factory() as session, session.begin():
            runtime.commit(session, rt.settings, token, body, terminate_param=terminate, now=utcnow())

    await run_in_threadpool(in_transaction)
    return Response(json.dumps({"result": True, "errorCode": 0}), media_type="application/json", headers=_scorm_headers())


@player_router.post("/runtime/{token}/commit", include_in_schema=True, tags=["player"],
                    responses=problems(400, 404, 409, 413))
async def runtime_commit(token: str, request: Request, rt: RuntimeDep) -> Response:
    """Commit CMI data (this project's player, or scorm-again's `lmsCommitUrl`: JSON, flattened,
    common commit fields, or a `text/plain` beacon). Answers `{"result": true, "errorCode": 0}`."""
    return await _commit(token, request, rt)


@player_router.put("/runtime/{token}/commit", include_in_schema=False)
async def runtime_commit_put(token: str, request: Request, rt: RuntimeDep) -> Response:
    return await _commit(token, request, rt)


class NavigateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit: str = Field(max_length=500)
    request: Literal["choice", "continue", "previous"] = "choice"


@player_router.post("/runtime/{token}/navigate", include_in_schema=False)
def runtime_navigate(token: str, data: NavigateIn, session: SessionDep, rt: RuntimeDep) -> dict[str, Any]:
    """Choice/flow navigation from the player: a launch URL for another unit of the same attempt."""
    launch = service.navigate(session, rt.settings, token, data.unit, request=data.request, now=utcnow())
    return {"launch_url": launch.url, "unit": launch.unit.identifier}
