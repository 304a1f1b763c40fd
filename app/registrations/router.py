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
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from app.auth.dependencies import CurrentPrincipal
from app.core.db import utcnow
from app.core.deps import RuntimeDep, SessionDep, WriteSessionDep
from app.core.openapi import problems
from app.packages.models import Standard
from app.registrations import cmi5, repository, runtime, service, tincan
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
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {}, {"unit": "item_2"}, {"new_attempt": True},
        {"unit": "https://rmtc.example/aus/intro", "return_url": "https://learn.rmtc.example/courses/42"}]})
    unit: str | None = Field(default=None, max_length=500, description="identifier of the unit (SCO/AU) to start; default: where the learner left off")
    new_attempt: bool = Field(default=False, description="start a new attempt (within the module's attempt limit; not for cmi5)")
    browse: bool = Field(default=False, description="cmi5: launch in Browse mode (the AU records no completion or score)")
    return_url: HttpUrl | None = Field(default=None, description="cmi5: where the AU sends the learner when it ends (returnURL)")


class WaiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"unit": "https://rmtc.example/aus/intro", "reason": "Tested Out"}]})
    unit: str = Field(max_length=500, description="the AU's id from the course structure")
    reason: str = Field(default="Administrative", min_length=1, max_length=200,
                        description="cmi5 suggests: Tested Out, Equivalent AU, Equivalent Outside Activity, Administrative")


class LaunchOut(BaseModel):
    launch_url: str = Field(description="open in a browser or web view; valid for a few minutes")
    expires_at: dt.datetime
    registration_id: uuid.UUID
    attempt_id: uuid.UUID
    attempt_number: int
    unit: str
    mode: str = Field(description="normal, or review when no new attempt is allowed; cmi5 also browse")
    runtime_url: str | None = Field(default=None, description=(
        "SCORM: the session's run-time base for a frontend with its own SCORM runtime (e.g. scorm-again): "
        "GET {runtime_url}/cmi for the initial data, POST {runtime_url}/commit as lmsCommitUrl"))
    content_url: str | None = Field(default=None, description="SCORM: the SCO's URL, to frame next to such a runtime")


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
                     mode=launch.mode, runtime_url=launch.runtime_url, content_url=launch.content_url)


@router.post("/modules/{module_id}/registration", response_model=RegistrationOut, responses=problems(403, 409))
def open_registration(module_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> RegistrationOut:
    """The signed-in learner's registration for a package module (created on first call)."""
    return _registration_out(session, service.open_registration(session, principal, module_id, now=utcnow()))


@router.post("/modules/{module_id}/launch", response_model=LaunchOut, responses=problems(403, 409, 422))
def launch_module(module_id: uuid.UUID, data: LaunchIn, session: SessionDep, rt: RuntimeDep, principal: CurrentPrincipal) -> LaunchOut:
    """Open (or reuse) the learner's registration and launch it."""
    now = utcnow()
    registration = service.open_registration(session, principal, module_id, now=now)
    return _launch_out(_launch(session, rt, principal, registration.id, data, now))


def _launch(session, rt, principal, registration_id: uuid.UUID, data: LaunchIn, now: dt.datetime) -> service.Launch:
    return service.launch(session, rt.settings, principal, registration_id, unit_identifier=data.unit,
                          new_attempt=data.new_attempt, browse=data.browse,
                          return_url=str(data.return_url) if data.return_url else None, now=now)


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
    """A short-lived launch URL on the content origin: the player page (SCORM), or a redirect to the
    AU (cmi5) or the activity (xAPI package) with their launch parameters."""
    return _launch_out(_launch(session, rt, principal, registration_id, data, utcnow()))


@router.post("/registrations/{registration_id}/move", response_model=RegistrationOut, responses=problems(403, 422))
def move_registration(registration_id: uuid.UUID, data: MoveIn, session: SessionDep, principal: CurrentPrincipal) -> RegistrationOut:
    """Move a learner to another version of the package (instructors of the course, admins)."""
    return _registration_out(session, service.move_registration(session, principal, registration_id, data.version, now=utcnow()))


@router.post("/registrations/{registration_id}/waive", response_model=RegistrationOut, responses=problems(403, 409))
def waive_au(registration_id: uuid.UUID, data: WaiveIn, session: SessionDep, principal: CurrentPrincipal) -> RegistrationOut:
    """Waive a cmi5 AU for this learner (instructors of the course, admins): a `waived` statement,
    then the blocks and course it satisfies, and the learner's progress."""
    return _registration_out(session, service.waive(session, principal, registration_id, data.unit, data.reason, now=utcnow()))


# Content origin: the player page and the run-time --------------------------------------------


@player_router.post("/cmi5/fetch/{token}", tags=["player"], responses={200: {"content": {"application/json": {"examples": {
    "token": {"value": {"auth-token": "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}},
    "used": {"value": {"error-code": "1", "error-text": "The authorization token has already been returned."}}}}}}})
def cmi5_fetch(token: str, session: SessionDep, rt: RuntimeDep) -> JSONResponse:
    """The cmi5 fetch URL (one use per AU session): `{"auth-token": ...}`, a Basic credential for
    `/xapi` limited to the learner, the registration and the session; afterwards (and for a bad
    or expired URL) a cmi5 error object, always with status 200 as cmi5 8.2 requires."""
    return JSONResponse(cmi5.fetch(session, rt.settings, token, now=utcnow()), headers=_scorm_headers())


@lru_cache(maxsize=1)
def _player_assets() -> tuple[str, str]:
    here = Path(__file__).parent / "player"
    page = (here / "player.html").read_text("utf-8").replace("{{DATAMODEL}}", (here / "datamodel.js").read_text("utf-8"))
    return page, (here / "player.js").read_text("utf-8")


def _scorm_headers() -> dict[str, str]:
    return {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


@player_router.get("/play/{token}", include_in_schema=False)
def player_page(token: str, session: WriteSessionDep, rt: RuntimeDep) -> Response:
    """The player: frames the unit and provides the SCORM API to it."""
    ctx = runtime.resolve(session, rt.settings, token, launch=True, scorm_only=False)
    if ctx.version.standard in (Standard.cmi5, Standard.xapi):
        content = service.unit_url(rt.settings, ctx.version, ctx.registration, ctx.attempt, ctx.unit)
        if ctx.version.standard is Standard.cmi5:  # the AU in this window, with the cmi5 launch parameters
            target = cmi5.au_launch_url(session, rt.settings, ctx.runtime_session, content)
        else:
            target = tincan.launch_url(session, rt.settings, ctx.runtime_session, content, now=utcnow())
        return RedirectResponse(target, status_code=303, headers=_scorm_headers())
    ctx = runtime.open_player(session, ctx, now=utcnow())
    content = service.unit_url(rt.settings, ctx.version, ctx.registration, ctx.attempt, ctx.unit)
    runtime_token = service.runtime_token(rt.settings, ctx.runtime_session)
    units = service.units_of(session, ctx.attempt.version_id)
    flags = service.item_flags(session, ctx.attempt, ctx.version)
    items = [{"id": u.identifier, "title": _title(u.title), "hidden": bool(flags.get(u.identifier, {}).get("hidden")),
              "disabled": bool(flags.get(u.identifier, {}).get("disabled"))} for u in units]
    unit = ctx.unit
    config = {
        "scorm": runtime.scorm_version(ctx.version),
        "runtime": f"/runtime/{runtime_token}",
        "content": content,
        "unit": unit.identifier,
        "title": _title(unit.title),
        "items": items,
        "rules": datamodel.export_rules(runtime.scorm_version(ctx.version)),
    }
    config["hidden"], config["locked"] = runtime.shared_access(ctx)  # adl.data buckets it may not read/write
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
    runtime.await_previous_session(lambda: rt.session_factory(bind=rt.engine), rt.settings, token)  # reads only
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
