"""The SCORM run-time on the server: sessions, initial CMI data, commits.

Each launch opens a run-time session (its token authorises the player's calls, never the user's
JWT). Commits merge into the unit's stored CMI data after validation against the data model;
a commit sequence makes repeats and out-of-order arrivals harmless; a session's time is its
latest reported `session_time` (a snapshot, never added twice), and `total_time` is the sum over
sessions. Status rules, rollup over the attempt's units, grading across attempts, progress and
the LRS statements all follow from each accepted commit, in the same transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import public_base_url
from app.core.errors import AppError, Conflict, NotFound
from app.core.signing import BadSignature
from app.courses import service as courses_service
from app.courses.models import Course
from app.enrolments import service as enrolments_service
from app.enrolments.models import ModuleStatus
from app.enrolments.schemas import ProgressReport
from app.packages.models import LaunchUnit, ModulePackage, PackageVersion, Standard
from app.registrations import repository
from app.registrations.models import Attempt, Registration, RuntimeSession, UnitState
from app.registrations.scorm_xapi import StatementBuilder
from app.scorm import commits, datamodel, status, timeutil
from app.users.models import User
from app.xapi import recorder

# Elements that belong to one session and are not carried into the next.
SESSION_ONLY = {"cmi.core.exit", "cmi.core.session_time", "cmi.exit", "cmi.session_time", "adl.nav.request"}
# Elements the server computes (a client's value is ignored, not refused: scorm-again sends them).
SERVER_COMPUTED = {"cmi.core.total_time", "cmi.total_time", "cmi.core.entry", "cmi.entry"}
# adl.nav.request_valid.* follow the activity tree, which other sessions' commits may change while
# this one runs: also the server's, whatever the client sends.
SERVER_COMPUTED_PREFIX = "adl.nav.request_valid."


class CommitRefused(AppError):
    status = 400
    code = "commit-refused"
    title = "Commit refused"

    def __init__(self, detail: str, scorm_error: int):
        super().__init__(detail, errorCode=scorm_error, result=False)


class SessionEnded(Conflict):
    code = "session-ended"
    title = "The run-time session has ended"


def scorm_version(version: PackageVersion) -> str:
    return "1.2" if version.standard is Standard.scorm12 else "2004"


def _now_iso(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def start_session(session: Session, registration: Registration, attempt: Attempt, unit: LaunchUnit, *, mode: str,
                  now: dt.datetime) -> RuntimeSession:
    state = repository.unit_state(session, attempt.id, unit.id)
    if state is None:
        state = UnitState(attempt_id=attempt.id, unit_id=unit.id, cmi={}, updated_at=now)
        session.add(state)
        session.flush()
    state.sessions += 1
    entry = _entry(state, mode)
    if mode == "normal" and entry != "resume":
        state.activity_attempts += 1  # a new attempt on this item (limit conditions)
    attempt.current_unit_id = unit.id
    runtime_session = RuntimeSession(unit_state_id=state.id, entry=entry, mode=mode, started_at=now)
    session.add(runtime_session)
    session.flush()
    return runtime_session


def _entry(state: UnitState, mode: str) -> str:
    """cmi.entry of the unit's latest session (counted in `state.sessions`): ab-initio for the first,
    resume when the one before it ended suspended."""
    if mode != "normal":
        return ""
    if state.sessions <= 1:
        return "ab-initio"
    return "resume" if state.exit == "suspend" else ""


@dataclass
class Context:
    runtime_session: RuntimeSession
    state: UnitState
    attempt: Attempt
    registration: Registration
    unit: LaunchUnit
    version: PackageVersion
    link: ModulePackage

    @property
    def scorm(self) -> str:
        return scorm_version(self.version)

    @property
    def review(self) -> bool:
        return self.runtime_session.mode == "review"


SCORM = (Standard.scorm12, Standard.scorm2004)


def resolve(session: Session, settings: Settings, token: str, *, launch: bool = False, for_update: bool = False,
            scorm_only: bool = True) -> Context:
    from app.registrations.service import launch_signer, runtime_signer

    signer = launch_signer(settings) if launch else runtime_signer(settings)
    try:
        session_id = uuid.UUID(signer.verify(token)["s"])
    except (BadSignature, KeyError, ValueError, TypeError):
        raise NotFound("No such run-time session (the link is wrong or has expired).") from None
    runtime_session = repository.runtime_session(session, session_id, for_update=for_update)
    if runtime_session is None:
        raise NotFound("No such run-time session.")
    state = session.get(UnitState, runtime_session.unit_state_id)
    attempt = session.get(Attempt, state.attempt_id)
    registration = session.get(Registration, attempt.registration_id)
    version = session.get(PackageVersion, attempt.version_id)
    if scorm_only and version.standard not in SCORM:
        raise NotFound("No such SCORM run-time session.")
    return Context(runtime_session, state, attempt, registration, session.get(LaunchUnit, state.unit_id),
                   version, session.get(ModulePackage, registration.module_id))


def open_player(session: Session, ctx: Context, *, now: dt.datetime) -> Context:
    """The run-time session a player page serves (`ctx`: the launch's, resolved from its token): the
    launch's own, or, once that one has been used (the page is reloaded), a new session of the same
    unit. The reloaded page's commits start their sequence again: on the old session they would be
    taken for repeats and dropped, and the old page's closing beacon may have ended it."""
    rs = ctx.runtime_session
    if rs.initialized or rs.terminated or rs.last_sequence >= 0:
        fresh = start_session(session, ctx.registration, ctx.attempt, ctx.unit, mode=rs.mode, now=now)
        ctx = dataclasses.replace(ctx, runtime_session=fresh)
    return ctx


PREVIOUS_SESSION_WAIT_SECONDS = 3.0


def await_previous_session(session_factory, settings: Settings, token: str, *,
                           timeout: float = PREVIOUS_SESSION_WAIT_SECONDS) -> None:
    """Before a session's first read: wait (briefly) for an earlier session of the same unit that is
    still open, whose last data may be on its way (a reloaded page's closing beacon races the new
    page's first request). Each check is its own short transaction, so it sees the beacon's commit."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        with session_factory() as session:
            try:
                ctx = resolve(session, settings, token)
            except AppError:
                return  # the caller answers for a bad token
            rs = ctx.runtime_session
            if rs.initialized or not any(
                    other.id != rs.id and other.initialized and not other.terminated and other.started_at <= rs.started_at
                    for other in repository.sessions_of(session, ctx.state.id)):
                return
        if time.monotonic() >= deadline:
            return
        time.sleep(0.05)


def _total_cs(session: Session, state: UnitState) -> int:
    return sum(s.session_time_cs for s in repository.sessions_of(session, state.id))


def initial_data(session: Session, ctx: Context) -> dict[str, str]:
    """The CMI data the player starts the session with."""
    user = session.get(User, ctx.registration.user_id)
    data = ctx.unit.data or {}
    review = ctx.review
    kwargs: dict[str, Any] = dict(
        learner_id=str(user.id), learner_name=_learner_name(user.full_name, ctx.scorm),
        # Until the first commit the entry follows the unit's state: the previous session's closing
        # beacon may arrive after this session was opened (a reloaded page).
        entry=ctx.runtime_session.entry if ctx.runtime_session.initialized else _entry(ctx.state, ctx.runtime_session.mode),
        credit="no-credit" if review else "credit",
        mode="review" if review else "normal", launch_data=data.get("data_from_lms"),
        max_time_allowed=data.get("max_time_allowed"), time_limit_action=data.get("time_limit_action"),
        total_time=_total_cs(session, ctx.state) - ctx.runtime_session.session_time_cs,
        previous={k: v for k, v in (ctx.state.cmi or {}).items() if k not in SESSION_ONLY},
    )
    if ctx.scorm == "1.2":
        kwargs["mastery_score"] = data.get("mastery_score")
    else:
        kwargs["completion_threshold"] = data.get("completion_threshold")
        kwargs["scaled_passing_score"] = data.get("scaled_passing_score")
        kwargs["nav_request_valid"] = _nav_request_valid(session, ctx)
        store = ctx.registration.shared_data or {}
        kwargs["shared_data"] = [(m["id"], store.get(m["id"], "") if m.get("read", True) else None)
                                 for m in shared_maps(ctx)]
    return datamodel.initial_cmi(ctx.scorm, **kwargs)


def shared_maps(ctx: Context) -> list[dict[str, Any]]:
    """The SCO's shared data buckets (adl.data), in manifest order (SCORM 2004 only)."""
    return list((ctx.unit.data or {}).get("shared_data") or []) if ctx.scorm == "2004" else []


def shared_access(ctx: Context) -> tuple[list[str], list[str]]:
    """adl.data stores the SCO may not read (readSharedData="false") and may not write."""
    maps = shared_maps(ctx)
    hidden = [f"adl.data.{i}.store" for i, m in enumerate(maps) if not m.get("read", True)]
    locked = [f"adl.data.{i}.store" for i, m in enumerate(maps) if not m.get("write", True)]
    return hidden, locked


def _save_shared(ctx: Context, cmi: dict[str, str]) -> None:
    """Writable buckets the SCO changed go to the registration's store (read by the other SCOs)."""
    store = dict(ctx.registration.shared_data or {})
    for i, m in enumerate(shared_maps(ctx)):
        value = cmi.get(f"adl.data.{i}.store")
        if m.get("write", True) and value is not None and cmi.get(f"adl.data.{i}.id") == m["id"]:
            store[m["id"]] = value
    if store != (ctx.registration.shared_data or {}):
        ctx.registration.shared_data = store


_TARGET = re.compile(f"(?:{datamodel.IDC})+")


def _nav_request_valid(session: Session, ctx: Context) -> dict[str, str]:
    """What the player will deliver (SCORM 2004 adl.nav.request_valid): continue/previous to the
    next/previous unit, choice of any unit neither hidden from choice nor disabled."""
    from app.registrations.service import item_flags, units_of

    units = units_of(session, ctx.attempt.version_id)
    flags = item_flags(session, ctx.attempt, ctx.version)
    deliverable = {u.identifier: not (flags.get(u.identifier) or {}).get("disabled") for u in units}
    choosable = {u.identifier: deliverable[u.identifier] and not (flags.get(u.identifier) or {}).get("hidden") for u in units}
    ids = [u.identifier for u in units]
    here = ids.index(ctx.unit.identifier)
    valid = {"continue": here + 1 < len(ids) and deliverable[ids[here + 1]], "previous": here > 0 and deliverable[ids[here - 1]]}
    valid.update({f"choice.{{target={i}}}": choosable[i] for i in ids if _TARGET.fullmatch(i)})
    return {name: "true" if ok else "false" for name, ok in valid.items()}


def _learner_name(full_name: str, scorm: str) -> str:
    # SCORM 1.2 expects "Last, First"; keep the name as registered when it has no space.
    if scorm == "1.2" and " " in full_name.strip():
        first, last = full_name.strip().rsplit(" ", 1)
        return f"{last}, {first}"
    return full_name


@dataclass
class CommitResult:
    accepted: bool  # False: an already-seen sequence (nothing changed)
    outcome: status.Outcome | None = None


def commit(session: Session, settings: Settings, token: str, body: bytes, *, terminate_param: bool, now: dt.datetime) -> CommitResult:
    ctx = resolve(session, settings, token, for_update=True)
    rs = ctx.runtime_session
    try:
        parsed = commits.parse(body, terminate_param=terminate_param)
    except commits.CommitFormatError as exc:
        raise CommitRefused(f"The commit body is not understood: {exc}.", 201 if ctx.scorm == "1.2" else 351) from None
    if parsed.sequence is not None and parsed.sequence <= rs.last_sequence:
        return CommitResult(accepted=False)
    if rs.terminated:
        raise SessionEnded("This session has ended; launch again to continue.")
    incoming = {k: v for k, v in parsed.data.items() if k not in SERVER_COMPUTED and not k.startswith(SERVER_COMPUTED_PREFIX)}
    before = initial_data(session, ctx) if not rs.initialized else {**ctx.state.cmi}
    after = {**before, **incoming}
    try:
        cleaned = datamodel.validate_commit(ctx.scorm, before, after, locked=shared_access(ctx)[1])
    except datamodel.ScormError as exc:
        raise CommitRefused(f"{exc.message}", exc.code) from None
    review = ctx.review
    session_key = "cmi.core.session_time" if ctx.scorm == "1.2" else "cmi.session_time"
    session_cs = rs.session_time_cs
    if cleaned.get(session_key):
        parse_time = timeutil.parse_cmitimespan if ctx.scorm == "1.2" else timeutil.parse_iso_duration
        reported = parse_time(cleaned[session_key])
        elapsed = int((now - rs.started_at).total_seconds() * 100) + 6000  # a minute of clock skew
        session_cs = max(0, min(reported, elapsed))
    builder = _builder(session, ctx, cleaned)
    batch: list[dict[str, Any]] = []
    first_commit = not rs.initialized
    if first_commit:
        rs.initialized = True
        rs.entry = before["cmi.core.entry" if ctx.scorm == "1.2" else "cmi.entry"]
        batch.append(builder.statement("resumed" if rs.entry == "resume" else "initialized", now))
    previous = _outcome(ctx, ctx.state.cmi or {})
    rs.session_time_cs = session_cs
    rs.last_commit_at = now
    if parsed.sequence is not None:
        rs.last_sequence = parsed.sequence
    if review:
        # Review mode: nothing the SCO reports changes the record (credit is no-credit).
        if parsed.terminate:
            rs.terminated = True
        return CommitResult(accepted=True)
    ctx.state.cmi = cleaned
    _save_shared(ctx, cleaned)
    exit_key = "cmi.core.exit" if ctx.scorm == "1.2" else "cmi.exit"
    ctx.state.exit = cleaned.get(exit_key, "")
    ctx.state.total_time_cs = _total_cs(session, ctx.state)
    outcome = _outcome(ctx, cleaned)
    ctx.state.completion_status, ctx.state.success_status = outcome.completion, outcome.success
    ctx.state.score_scaled = outcome.score_scaled
    ctx.state.updated_at = now
    batch.extend(_interaction_statements(builder, ctx, cleaned, now))
    for verb, changed in (("completed", outcome.completion == "completed" and previous.completion != "completed"),
                          ("passed", outcome.success == "passed" and previous.success != "passed"),
                          ("failed", outcome.success == "failed" and previous.success != "failed")):
        if changed:
            batch.append(builder.statement(verb, now, result=builder.outcome_result(outcome)))
    if outcome.score_scaled is not None and outcome.score_scaled != previous.score_scaled:
        batch.append(builder.statement("scored", now, result=builder.outcome_result(outcome)))
    if parsed.terminate:
        rs.terminated = True
        suspended = ctx.state.exit == "suspend"
        batch.append(builder.statement("suspended" if suspended else "terminated", now,
                                       result=builder.outcome_result(outcome, session_cs=session_cs)))
    states = roll_up(session, ctx, now, terminated=parsed.terminate)
    recorder.record(session, batch, base_url=public_base_url(session), now=now)
    attempt_started = first_commit and not any(s.id != ctx.state.id and s.sessions for s in states)
    added_cs = session_cs - rs.reported_time_cs
    rs.reported_time_cs = session_cs
    report_progress(session, ctx, now, attempt_started=attempt_started and ctx.state.sessions == 1,
                     added_seconds=max(0, round(added_cs / 100)))
    session.flush()
    return CommitResult(accepted=True, outcome=outcome)


def _outcome(ctx: Context, cmi: dict[str, str]) -> status.Outcome:
    data = ctx.unit.data or {}
    if ctx.scorm == "1.2":
        return status.outcome_12(cmi, mastery_score=data.get("mastery_score"))
    return status.outcome_2004(cmi, completion_threshold=data.get("completion_threshold"),
                               scaled_passing_score=data.get("scaled_passing_score"))


def _builder(session: Session, ctx: Context, cmi: dict[str, str]) -> StatementBuilder:
    module = courses_service.module_by_id(session, ctx.registration.module_id)
    course = session.get(Course, module.course_id)
    language = cmi.get("cmi.learner_preference.language") or cmi.get("cmi.student_preference.language") or ""
    from app.core.i18n import is_language_tag

    return StatementBuilder(
        base_url=public_base_url(session), user_id=ctx.registration.user_id, registration_id=ctx.registration.id,
        attempt_id=ctx.attempt.id, package_id=ctx.registration.package_id, unit_identifier=ctx.unit.identifier,
        unit_title=ctx.unit.title, course=course, module=module,
        language=language if language and is_language_tag(language) else "",
    )


def _interaction_statements(builder: StatementBuilder, ctx: Context, cmi: dict[str, str], now: dt.datetime) -> list[dict[str, Any]]:
    out = []
    index = ctx.state.interactions_recorded
    response_key = "student_response" if ctx.scorm == "1.2" else "learner_response"
    while f"cmi.interactions.{index}.id" in cmi:
        if f"cmi.interactions.{index}.{response_key}" not in cmi and f"cmi.interactions.{index}.result" not in cmi:
            break  # recorded once it has a response or a result
        statement = builder.interaction(cmi, index, ctx.scorm == "1.2", now)
        if statement is not None:
            out.append(statement)
        index += 1
    ctx.state.interactions_recorded = index
    return out


def roll_up(session: Session, ctx: Context, now: dt.datetime, *, terminated: bool) -> list[UnitState]:
    """The attempt's outcome from its units (all launchable units count; unplayed ones are not
    attempted); the attempt ends when it is done and the learner leaves without suspending."""
    from app.registrations import sequencing

    from app.registrations.service import units_of

    units = units_of(session, ctx.attempt.version_id)
    states = {s.unit_id: s for s in repository.unit_states(session, ctx.attempt.id)}
    rolled = sequencing.roll_up(ctx.version.structure or {}, units, states)
    ctx.attempt.completion_status = rolled.completion
    ctx.attempt.success_status = rolled.success
    ctx.attempt.score_scaled = rolled.score_scaled
    ctx.attempt.total_time_cs = sum(s.total_time_cs for s in states.values())
    ctx.attempt.tree_state = rolled.tree_state
    if terminated and rolled.done and ctx.state.exit != "suspend" and ctx.attempt.finished_at is None:
        ctx.attempt.finished_at = now
    return list(states.values())


def report_progress(session: Session, ctx: Context, now: dt.datetime, *, attempt_started: bool, added_seconds: int) -> None:
    from app.registrations.service import grade

    attempts = repository.attempts_of(session, ctx.registration.id)
    graded = grade(ctx.link.grading_method, attempts)
    best = status.Outcome(ctx.attempt.completion_status, ctx.attempt.success_status, graded)
    module_status = status.module_status(best)
    if any(a.success_status == "passed" for a in attempts):
        module_status = "passed"
    ctx.registration.status = module_status
    ctx.registration.score_scaled = graded
    ctx.registration.updated_at = now
    enrolments_service.record_progress(
        session, user_id=ctx.registration.user_id, module_id=ctx.registration.module_id, kind="package",
        report=ProgressReport(status=ModuleStatus(module_status),
                              score_scaled=None if graded is None else max(0.0, min(1.0, graded)),
                              time_spent_seconds=added_seconds, attempt_started=attempt_started),
        now=now,
    )
