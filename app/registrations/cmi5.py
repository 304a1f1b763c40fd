"""The cmi5 LMS: launching AUs, the one-time fetch URL, the AU statement rules, moveOn and
satisfaction, waivers and abandoned sessions (cmi5 specification, sections 8-11).

- A launch opens a run-time session whose id is the cmi5 session id; before the AU starts, the
  LMS abandons any other open session of the registration, writes the `LMS.LaunchData` state
  document and the learner preferences, and records `launched`.
- Opening the launch URL redirects to the AU with endpoint, fetch, actor, registration and
  activityId. The fetch URL answers once with a temporary LRS credential limited to the learner,
  the registration and this session.
- Statements written with that credential go through `Cmi5Rules` inside the LRS transaction:
  anything the cmi5 rules forbid is refused (400, or 403 for voiding) and nothing is stored; the
  accepted ones update the AU (completed, passed/failed with score, session time), and moveOn is
  evaluated for the AU, its blocks and the course (`satisfied` statements), then progress.

Activity ids: the LMS generates ids for AUs, blocks and the course (never the publisher's ids,
which go into `contextActivities.grouping`), stable for a package across versions and learners.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import public_base_url
from app.core.errors import BadRequest, Conflict, Forbidden, NotFound
from app.core.i18n import is_language_tag
from app.core.signing import BadSignature, Signer
from app.packages.models import LaunchUnit, ModulePackage, PackageVersion, Standard
from app.registrations import repository, runtime, scorm_xapi
from app.registrations.models import Attempt, Registration, RuntimeSession, UnitState
from app.registrations.scorm_xapi import duration
from app.scorm import timeutil
from app.users.models import User
from app.xapi import auth as lrs_auth
from app.xapi import documents, recorder
from app.xapi.auth import LrsAuth
from app.xapi.models import LrsClient
from app.xapi.validation import ifi_of

CATEGORY = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
MOVEON_CATEGORY = "https://w3id.org/xapi/cmi5/context/categories/moveon"
EXT = "https://w3id.org/xapi/cmi5/context/extensions/"
SESSION_EXT = EXT + "sessionid"
REASON_EXT = "https://w3id.org/xapi/cmi5/result/extensions/reason"
BLOCK_TYPE = "https://w3id.org/xapi/cmi5/activitytype/block"
COURSE_TYPE = "https://w3id.org/xapi/cmi5/activitytype/course"
ADL = "http://adlnet.gov/expapi/verbs/"
VERBS = {
    "launched": ADL + "launched", "initialized": ADL + "initialized", "completed": ADL + "completed",
    "passed": ADL + "passed", "failed": ADL + "failed", "terminated": ADL + "terminated",
    "abandoned": "https://w3id.org/xapi/adl/verbs/abandoned", "waived": "https://w3id.org/xapi/adl/verbs/waived",
    "satisfied": "https://w3id.org/xapi/adl/verbs/satisfied",
}
VERB_NAMES = {v: k for k, v in VERBS.items()}
AU_VERBS = {"initialized", "completed", "passed", "failed", "terminated"}
VOIDED = ADL + "voided"
LAUNCH_DATA = "LMS.LaunchData"
PREFERENCES = "cmi5LearnerPreferences"
FETCH_TTL_SECONDS = 12 * 3600
TERMINATED_GRACE = dt.timedelta(minutes=10)  # the AU may still read/write its state after terminated
MOVE_ON = {"Passed", "Completed", "CompletedAndPassed", "CompletedOrPassed", "NotApplicable"}
WAIVE_REASONS = ("Tested Out", "Equivalent AU", "Equivalent Outside Activity", "Administrative")
LAUNCH_MODES = {"normal": "Normal", "browse": "Browse", "review": "Review"}
# AU flags kept with the unit's state (the flat `cmi` map of UnitState).
SATISFIED, WAIVED, FAILED_IN = "cmi5.satisfied", "cmi5.waived", "cmi5.failed_in_session"


def fetch_signer(settings: Settings) -> Signer:
    return Signer(settings.secret_key, "cmi5-fetch")


# Activity ids ------------------------------------------------------------------------------


def au_activity_id(base_url: str, package_id: uuid.UUID, identifier: str) -> str:
    return scorm_xapi.sco_activity_id(base_url, package_id, identifier)


def block_activity_id(base_url: str, package_id: uuid.UUID, identifier: str) -> str:
    return f"{base_url}/xapi/activities/packages/{package_id}/blocks/{quote(identifier, safe='')}"


def course_activity_id(base_url: str, package_id: uuid.UUID) -> str:
    return f"{base_url}/xapi/activities/packages/{package_id}/course"


def _name(title: dict[str, Any] | None, fallback: str) -> dict[str, str]:
    name = {k: v for k, v in (title or {}).items() if isinstance(v, str) and v and is_language_tag(k)}
    return name or {"und": fallback}


# One AU session in context -------------------------------------------------------------------


@dataclass
class AuSession(runtime.Context):
    """A launch session of a cmi5 AU (or an xAPI package's activity), with the platform's base URL."""

    base_url: str = ""

    @property
    def session_id(self) -> str:
        return str(self.runtime_session.id)

    @property
    def activity_id(self) -> str:
        return au_activity_id(self.base_url, self.registration.package_id, self.unit.identifier)

    @property
    def actor(self) -> dict[str, Any]:
        return recorder.learner_actor(self.base_url, self.registration.user_id)

    @property
    def launch_mode(self) -> str:
        return LAUNCH_MODES.get(self.runtime_session.mode, "Normal")

    @property
    def mastery_score(self) -> float | None:
        return (self.unit.data or {}).get("mastery_score")

    @property
    def move_on(self) -> str:
        return (self.unit.data or {}).get("move_on") or "NotApplicable"

    def au_object(self) -> dict[str, Any]:
        definition: dict[str, Any] = {"name": _name(self.unit.title, self.unit.identifier)}
        if (self.unit.data or {}).get("activity_type"):
            definition["type"] = self.unit.data["activity_type"]
        return {"objectType": "Activity", "id": self.activity_id, "definition": definition}

    def context(self, session_id: str | None = None, *, publisher_id: str | None = None,
                moveon: bool = False, extensions: dict[str, Any] | None = None) -> dict[str, Any]:
        categories = [{"objectType": "Activity", "id": CATEGORY}]
        if moveon:
            categories.append({"objectType": "Activity", "id": MOVEON_CATEGORY})
        return {
            "registration": str(self.registration.id),
            "contextActivities": {
                "grouping": [{"objectType": "Activity", "id": publisher_id or self.unit.identifier}],
                "category": categories,
            },
            "extensions": {SESSION_EXT: session_id or self.session_id, **(extensions or {})},
        }

    def statement(self, verb: str, now: dt.datetime, *, obj: dict[str, Any] | None = None,
                  result: dict[str, Any] | None = None, context: dict[str, Any] | None = None) -> dict[str, Any]:
        statement = {
            "id": str(uuid.uuid4()), "actor": self.actor,
            "verb": {"id": VERBS[verb], "display": {"en-US": verb}},
            "object": obj or self.au_object(), "context": context or self.context(),
            "timestamp": recorder.timestamp(now),
        }
        if result:
            statement["result"] = result
        return statement


def au_session(session: Session, runtime_session: RuntimeSession) -> AuSession:
    state = session.get(UnitState, runtime_session.unit_state_id)
    attempt = session.get(Attempt, state.attempt_id)
    registration = session.get(Registration, attempt.registration_id)
    return AuSession(runtime_session, state, attempt, registration, session.get(LaunchUnit, state.unit_id),
                     session.get(PackageVersion, attempt.version_id), session.get(ModulePackage, registration.module_id),
                     public_base_url(session))


def _agent_json(actor: dict[str, Any]) -> str:
    return json.dumps(actor, separators=(",", ":"))


# Launch ----------------------------------------------------------------------------------------


def launch_mode_for(state: UnitState, *, browse: bool) -> str:
    """Review once the AU met its moveOn criteria (nothing more to record), Browse on request."""
    if (state.cmi or {}).get(SATISFIED) == "true":
        return "review"
    return "browse" if browse else "normal"


def prepare_launch(session: Session, settings: Settings, runtime_session: RuntimeSession, *, launch_url: str,
                   return_url: str | None, now: dt.datetime) -> None:
    """Everything the LMS does before the AU starts (sections 9.3.1, 9.3.6, 10, 11)."""
    au = au_session(session, runtime_session)
    abandon_open_sessions(session, au.registration, keep=runtime_session.id, now=now)
    evaluate(session, au, now, session_id=str(uuid.uuid4()), report=False)  # moveOn NotApplicable counts from the start
    data = au.unit.data or {}
    launch_data: dict[str, Any] = {
        "contextTemplate": {
            "contextActivities": {"grouping": [{"objectType": "Activity", "id": au.unit.identifier}]},
            "extensions": {SESSION_EXT: au.session_id},
        },
        "launchMode": au.launch_mode,
        "moveOn": au.move_on,
    }
    if au.mastery_score is not None:
        launch_data["masteryScore"] = au.mastery_score
    if au.unit.parameters:
        launch_data["launchParameters"] = au.unit.parameters
    if data.get("entitlement_key"):
        launch_data["entitlementKey"] = {"courseStructure": data["entitlement_key"]}
    if return_url:
        launch_data["returnURL"] = return_url
    ifi = ifi_of(au.actor)
    key = documents.DocKey("state", activity_id=au.activity_id, agent_ifi=ifi, registration=str(au.registration.id))
    documents.put(session, key, LAUNCH_DATA, json.dumps(launch_data).encode(), documents.JSON_TYPE, now=now,
                  if_match=None, if_none_match=None, concurrency="optional")
    prefs_key = documents.DocKey("agent_profile", agent_ifi=ifi)
    if documents.get(session, prefs_key, PREFERENCES) is None:
        user = session.get(User, au.registration.user_id)
        prefs = {"languagePreference": user.preferred_language or "en"}
        documents.put(session, prefs_key, PREFERENCES, json.dumps(prefs).encode(), documents.JSON_TYPE, now=now,
                      if_match=None, if_none_match=None, concurrency="optional")
    extensions: dict[str, Any] = {EXT + "launchmode": au.launch_mode, EXT + "launchurl": launch_url,
                                  EXT + "moveon": au.move_on}
    if au.mastery_score is not None:
        extensions[EXT + "masteryscore"] = au.mastery_score
    if au.unit.parameters:
        extensions[EXT + "launchparameters"] = au.unit.parameters
    recorder.record(session, [au.statement("launched", now, context=au.context(extensions=extensions))],
                    base_url=au.base_url, now=now)


def abandon_open_sessions(session: Session, registration: Registration, *, keep: uuid.UUID | None,
                          now: dt.datetime) -> int:
    """A new launch in the registration abandons the sessions still open (section 9.3.6)."""
    batch = []
    for rs in repository.open_sessions(session, registration.id):
        if rs.id == keep:
            continue
        au = au_session(session, rs)
        if au.version.standard is not Standard.cmi5:
            continue
        last = rs.last_commit_at or rs.started_at
        elapsed_cs = max(0, int((last - rs.started_at).total_seconds() * 100))
        batch.append(au.statement("abandoned", now, result={"duration": duration(elapsed_cs)}))
        rs.abandoned = True
        rs.terminated = True
        _end_credential(session, rs, now)
    if batch:
        recorder.record(session, batch, base_url=public_base_url(session), now=now)
    return len(batch)


def _end_credential(session: Session, rs: RuntimeSession, now: dt.datetime, grace: dt.timedelta = dt.timedelta(0)) -> None:
    if rs.lrs_client_id is not None:
        client = session.get(LrsClient, rs.lrs_client_id)
        if client is not None:
            client.expires_at = min(client.expires_at or now + grace, now + grace)


def au_launch_url(session: Session, settings: Settings, runtime_session: RuntimeSession, content_url: str) -> str:
    """The AU's URL with the cmi5 launch parameters (section 8.1)."""
    au = au_session(session, runtime_session)
    fetch_token = fetch_signer(settings).sign({"s": au.session_id}, ttl_seconds=FETCH_TTL_SECONDS)
    params = {
        "endpoint": f"{au.base_url}/xapi/",
        "fetch": f"{au.base_url}/cmi5/fetch/{fetch_token}",
        "actor": _agent_json(au.actor),
        "registration": str(au.registration.id),
        "activityId": au.activity_id,
    }
    return content_url + ("&" if "?" in content_url else "?") + urlencode(params)


def fetch(session: Session, settings: Settings, token: str, *, now: dt.datetime) -> dict[str, str]:
    """The one-time fetch URL: an auth token the first time, cmi5 error codes afterwards (8.2)."""
    try:
        session_id = uuid.UUID(fetch_signer(settings).verify(token)["s"])
    except BadSignature as exc:
        expired = "expired" in str(exc).lower()
        return {"error-code": "1" if expired else "2",
                "error-text": "The launch has expired." if expired else "This fetch URL is not valid."}
    except (KeyError, ValueError, TypeError):
        return {"error-code": "2", "error-text": "This fetch URL is not valid."}
    rs = repository.runtime_session(session, session_id, for_update=True)
    if rs is None:
        return {"error-code": "2", "error-text": "This fetch URL is not valid."}
    if rs.fetched_at is not None or rs.terminated:
        return {"error-code": "1", "error-text": "The authorization token has already been returned."}
    au = au_session(session, rs)
    client, secret = lrs_auth.issue_temporary(
        session, settings.secret_key, name=f"cmi5 session {au.session_id}",
        scopes=["statements/write", "statements/read/mine", "state", "profile"],
        actor_ifi=ifi_of(au.actor), registration=str(au.registration.id),
        expires_at=now + dt.timedelta(seconds=FETCH_TTL_SECONDS),
    )
    rs.lrs_client_id = client.id
    rs.fetched_at = now
    session.flush()
    return {"auth-token": base64.b64encode(f"{client.key}:{secret}".encode()).decode()}


# The AU's statements -------------------------------------------------------------------------


class Cmi5Refused(BadRequest):
    code = "cmi5-statement-refused"
    title = "Statement refused by the cmi5 rules"


@dataclass
class _Sim:
    """What the session and the AU's record would be after each statement of a batch."""

    initialized: bool
    terminated: bool
    completed: bool
    passed: bool
    failed_here: bool
    passed_here: bool = False
    verbs_here: set[str] = field(default_factory=set)


def _ids(items: Any) -> set[str]:
    if isinstance(items, dict):
        items = [items]
    return {a.get("id") for a in items or [] if isinstance(a, dict)}


def session_of_client(session: Session, auth: LrsAuth) -> RuntimeSession | None:
    # Launched content writes with a temporary client credential limited to its learner.
    if not auth.own_ifis or not auth.credential.startswith("client:"):
        return None
    client_id = uuid.UUID(auth.credential.removeprefix("client:"))
    # Locked: two requests of one AU session are checked one after the other (PostgreSQL).
    return session.scalars(select(RuntimeSession).where(RuntimeSession.lrs_client_id == client_id).with_for_update()).first()


def launched_session(session: Session, auth: LrsAuth, standard: Standard) -> AuSession | None:
    """The launch session whose content writes with this credential, for a package of `standard`.
    Looked up (and locked) once per credential and transaction: the hooks' check and after, and
    the cmi5 and xAPI hooks, share it."""
    key = ("launched-session", auth.credential)
    if key not in session.info:
        rs = session_of_client(session, auth)
        session.info[key] = au_session(session, rs) if rs is not None else None
    au = session.info[key]
    return au if au is not None and au.version.standard is standard else None


class Cmi5Rules:
    """The LRS statement hook for AU credentials (cmi5 sections 6.3, 7.1, 9)."""

    def check(self, session: Session, auth: LrsAuth, statements: list[dict[str, Any]], now: dt.datetime) -> None:
        au = launched_session(session, auth, Standard.cmi5)
        if au is None:
            return
        rs = au.runtime_session
        flags = au.state.cmi or {}
        sim = _Sim(initialized=rs.initialized, terminated=rs.terminated, completed=au.state.completion_status == "completed",
                   passed=au.state.success_status == "passed", failed_here=flags.get(FAILED_IN) == au.session_id)
        many = len(statements) > 1
        for index, s in enumerate(statements):
            _check_one(au, rs, sim, s, f"statement {index}: " if many else "")

    def after(self, session: Session, auth: LrsAuth, statements: list[dict[str, Any]], now: dt.datetime) -> None:
        au = launched_session(session, auth, Standard.cmi5)
        if au is not None:
            apply(session, au, statements, now)


def _check_one(au: AuSession, rs: RuntimeSession, sim: _Sim, s: dict[str, Any], where: str) -> None:
    def refuse(message: str) -> None:
        raise Cmi5Refused(f"{where}{message}")

    verb_id = s["verb"]["id"]
    if verb_id == VOIDED:
        raise Forbidden(f"{where}an AU may not void statements (cmi5 6.3).")
    if rs.abandoned:
        refuse("this AU session was abandoned; launch the AU again.")
    if sim.terminated:
        refuse("this AU session is terminated; no statement may follow terminated (cmi5 9.3.8).")
    context = s.get("context") or {}
    extensions = context.get("extensions") or {}
    if extensions.get(SESSION_EXT) != au.session_id:
        refuse(f"context.extensions must carry the session id {au.session_id} ({SESSION_EXT}).")
    activities = context.get("contextActivities") or {}
    if au.unit.identifier not in _ids(activities.get("grouping")):
        refuse("context.contextActivities.grouping must include the AU's publisher id from the contextTemplate.")
    categories = _ids(activities.get("category"))
    defined = CATEGORY in categories
    name = VERB_NAMES.get(verb_id)
    if not sim.initialized and not (defined and name == "initialized"):
        refuse("the first statement of an AU session must be a cmi5 initialized statement (cmi5 7.1.1).")
    result = s.get("result") or {}
    if not defined:
        if MOVEON_CATEGORY in categories:
            refuse("only cmi5 defined statements carry the moveOn category.")
        return
    if name not in AU_VERBS:
        refuse(f"an AU may not send cmi5 defined statements with the verb {verb_id} (AU verbs: "
               f"{', '.join(sorted(AU_VERBS))}).")
    obj = s["object"]
    if obj.get("objectType", "Activity") != "Activity" or obj.get("id") != au.activity_id:
        refuse(f"the object of a cmi5 defined statement must be the AU, {au.activity_id} (the activityId launch parameter).")
    if name in sim.verbs_here or (name == "initialized" and sim.initialized):
        refuse(f"{name} was already sent in this AU session.")
    for prop, allowed in (("score", {"passed", "failed"}), ("success", {"passed", "failed"}), ("completion", {"completed"})):
        if prop in result and name not in allowed:
            refuse(f"a {name} statement must not include result.{prop} (cmi5 9.5).")
    wants_moveon = "success" in result or "completion" in result
    if wants_moveon != (MOVEON_CATEGORY in categories):
        refuse("the moveOn category belongs in exactly the statements whose result has success or completion (cmi5 9.6.2.2).")
    if name in ("completed", "passed", "failed", "terminated") and "duration" not in result:
        refuse(f"a {name} statement must include result.duration (cmi5 9.5.4).")
    if name in ("completed", "passed", "failed") and au.launch_mode != "Normal":
        refuse(f"in {au.launch_mode} mode an AU records no {name} statement (cmi5 10.2.2).")
    scaled = (result.get("score") or {}).get("scaled")
    mastery = au.mastery_score
    if name == "completed":
        if result.get("completion") is not True:
            refuse("a completed statement must have result.completion true.")
        if sim.completed:
            refuse("this AU was already completed in this registration (one completed per registration).")
        sim.completed = True
    elif name == "passed":
        if result.get("success") is not True:
            refuse("a passed statement must have result.success true.")
        if sim.passed:
            refuse("this AU was already passed in this registration (one passed per registration).")
        if sim.failed_here:
            refuse("passed and failed in one AU session.")
        if mastery is not None and scaled is not None and scaled < mastery:
            refuse(f"a passed statement's scaled score {scaled} is below the masteryScore {mastery}.")
        sim.passed = sim.passed_here = True
    elif name == "failed":
        if result.get("success") is not False:
            refuse("a failed statement must have result.success false.")
        if sim.passed:
            refuse("failed must not follow passed in a registration.")
        if sim.failed_here:
            refuse("failed was already sent in this AU session.")
        if mastery is not None and scaled is not None and scaled >= mastery:
            refuse(f"a failed statement's scaled score {scaled} is at or above the masteryScore {mastery}.")
        sim.failed_here = True
    elif name == "initialized":
        sim.initialized = True
    elif name == "terminated":
        sim.terminated = True
    sim.verbs_here.add(name)


def apply(session: Session, au: AuSession, statements: list[dict[str, Any]], now: dt.datetime) -> None:
    """The accepted statements' effect on the session and the AU; then moveOn and progress."""
    rs, state = au.runtime_session, au.state
    flags = dict(state.cmi or {})
    terminated_now = False
    fresh_attempt = au.attempt.completion_status == "not attempted"
    for s in statements:
        rs.last_commit_at = now
        if CATEGORY not in _ids(((s.get("context") or {}).get("contextActivities") or {}).get("category")):
            continue
        name = VERB_NAMES.get(s["verb"]["id"])
        result = s.get("result") or {}
        scaled = (result.get("score") or {}).get("scaled")
        if name == "initialized":
            rs.initialized = True
        elif name == "completed":
            state.completion_status = "completed"
        elif name == "passed":
            state.success_status = "passed"
            state.score_scaled = scaled if scaled is not None else state.score_scaled
        elif name == "failed":
            state.success_status = "failed"
            flags[FAILED_IN] = au.session_id
            state.score_scaled = scaled if scaled is not None else state.score_scaled
        elif name == "terminated":
            rs.terminated = True
            terminated_now = True
            reported = _duration_cs(result.get("duration"))
            elapsed = int((now - rs.started_at).total_seconds() * 100) + 6000
            rs.session_time_cs = max(0, min(reported, elapsed))
            _end_credential(session, rs, now, TERMINATED_GRACE)
    if rs.initialized and state.completion_status == "not attempted":
        state.completion_status = "incomplete"
    state.cmi = flags
    state.updated_at = now
    state.total_time_cs = sum(x.session_time_cs for x in repository.sessions_of(session, state.id))
    evaluate(session, au, now, session_id=au.session_id, report=True,
             attempt_started=fresh_attempt and rs.initialized, time_added_cs=rs.session_time_cs if terminated_now else 0)


def _duration_cs(value: Any) -> int:
    try:
        return timeutil.parse_iso_duration(value) if isinstance(value, str) else 0
    except ValueError:
        return 0


def move_on_met(move_on: str, completion: str, success: str) -> bool:
    completed, passed = completion == "completed", success == "passed"
    return {"Completed": completed, "Passed": passed, "CompletedAndPassed": completed and passed,
            "CompletedOrPassed": completed or passed, "NotApplicable": True}.get(move_on, False)


def evaluate(session: Session, au: AuSession, now: dt.datetime, *, session_id: str, report: bool,
             attempt_started: bool = False, time_added_cs: int = 0) -> None:
    """moveOn for every AU of the attempt, `satisfied` for blocks and the course that became
    satisfied (once each per registration), the attempt's outcome, then module progress (when
    `report`, or when something became satisfied)."""
    from app.registrations.service import units_of

    units = units_of(session, au.attempt.version_id)
    states = {s.unit_id: s for s in repository.unit_states(session, au.attempt.id)}
    satisfied_units: set[str] = set()
    for unit in units:
        state = states.get(unit.id)
        flags = (state.cmi or {}) if state else {}
        met = (flags.get(WAIVED) is not None or move_on_met((unit.data or {}).get("move_on") or "NotApplicable",
                                                             state.completion_status if state else "not attempted",
                                                             state.success_status if state else "unknown"))
        if met:
            satisfied_units.add(unit.identifier)
            if state is not None and flags.get(SATISFIED) != "true":
                state.cmi = {**flags, SATISFIED: "true"}
    tree_state = dict(au.attempt.tree_state or {})
    done = set(tree_state.get("satisfied") or [])
    tree = (au.version.structure or {}).get("tree") or {}
    batch: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> bool:
        if node.get("kind") == "au":
            return node.get("unit") in satisfied_units
        results = [walk(child) for child in node.get("children") or []]
        met = all(results) and bool(results)
        kind = node.get("kind")
        if met and kind in ("block", "course"):
            activity = (course_activity_id(au.base_url, au.registration.package_id) if kind == "course"
                        else block_activity_id(au.base_url, au.registration.package_id, node.get("id") or ""))
            if activity not in done:
                done.add(activity)
                obj = {"objectType": "Activity", "id": activity,
                       "definition": {"type": COURSE_TYPE if kind == "course" else BLOCK_TYPE,
                                      "name": _name(node.get("title"), node.get("id") or kind)}}
                batch.append(au.statement("satisfied", now, obj=obj,
                                          context=au.context(session_id, publisher_id=node.get("id") or au.unit.identifier)))
        return met

    course_met = walk(tree) if tree else bool(units) and all(u.identifier in satisfied_units for u in units)
    tree_state["satisfied"] = sorted(done)
    tree_state["course_satisfied"] = course_met
    au.attempt.tree_state = tree_state
    if batch:
        recorder.record(session, batch, base_url=au.base_url, now=now)
    _attempt_outcome(au, list(states.values()), course_met, now)
    if report or batch:
        runtime.report_progress(session, au, now, attempt_started=attempt_started, added_seconds=round(time_added_cs / 100))


def _attempt_outcome(au: AuSession, states: list[UnitState], course_met: bool, now: dt.datetime) -> None:
    attempt = au.attempt
    played = [s for s in states if s.completion_status != "not attempted" or s.success_status != "unknown"]
    attempt.completion_status = "completed" if course_met else "incomplete" if played else "not attempted"
    if any(s.success_status == "failed" for s in states) and not course_met:
        attempt.success_status = "failed"
    elif course_met and any(s.success_status == "passed" for s in states):
        attempt.success_status = "passed"
    else:
        attempt.success_status = "unknown"
    scores = [s.score_scaled for s in states if s.score_scaled is not None]
    attempt.score_scaled = sum(scores) / len(scores) if scores else None
    attempt.total_time_cs = sum(s.total_time_cs for s in states)
    if course_met and attempt.finished_at is None:
        attempt.finished_at = now


# Waivers ---------------------------------------------------------------------------------------


def waive(session: Session, registration: Registration, unit: LaunchUnit, reason: str, *, now: dt.datetime) -> None:
    """The LMS waives an AU (section 9.3.7): a `waived` statement under a session id of its own,
    then satisfaction as for any AU that met its moveOn criteria."""
    attempt = repository.latest_attempt(session, registration.id)
    if attempt is None:
        from app.registrations.service import start_attempt

        attempt = start_attempt(session, registration, now)
    state = repository.unit_state(session, attempt.id, unit.id)
    if state is None:
        state = UnitState(attempt_id=attempt.id, unit_id=unit.id, cmi={}, updated_at=now)
        session.add(state)
        session.flush()
    flags = state.cmi or {}
    if flags.get(WAIVED) is not None:
        raise Conflict(f"The AU {unit.identifier} is already waived in this registration.")
    if flags.get(SATISFIED) == "true":
        raise Conflict(f"The AU {unit.identifier} already met its moveOn criteria.")
    waiver_session = RuntimeSession(unit_state_id=state.id, entry="", mode="normal", started_at=now, terminated=True,
                                    initialized=True)
    session.add(waiver_session)
    session.flush()
    au = au_session(session, waiver_session)
    state.cmi = {**flags, WAIVED: reason}
    recorder.record(session, [au.statement(
        "waived", now, result={"success": True, "completion": True, "extensions": {REASON_EXT: reason}},
        context=au.context(moveon=True))], base_url=au.base_url, now=now)
    evaluate(session, au, now, session_id=au.session_id, report=True)


def require_au(session: Session, version_id: uuid.UUID, identifier: str) -> LaunchUnit:
    from app.registrations.service import units_of

    unit = next((u for u in units_of(session, version_id) if u.identifier == identifier and u.kind == "au"), None)
    if unit is None:
        raise NotFound(f"No AU {identifier!r} in this package.")
    return unit
