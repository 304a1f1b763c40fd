"""xAPI ("Tin Can") packages: the launch that authoring tools expect, and progress from the
package's own statements.

Opening the launch URL redirects to the activity's launch file with `endpoint`, `auth` (a
temporary Basic credential limited to the learner and the registration), `actor`, `registration`
and `activity_id` as query parameters (the Rustici/ADL launch convention). The statements the
content writes with that credential about its own activity (completed, passed, failed, or a
result with completion/success/score) update the unit, the attempt and the module's progress;
the session's time is the time from launch to the latest statement.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.packages.models import Standard
from app.registrations import cmi5, runtime
from app.registrations.models import RuntimeSession
from app.users.models import User
from app.xapi import auth as lrs_auth
from app.xapi import recorder
from app.xapi.auth import LrsAuth
from app.xapi.validation import ifi_of

CREDENTIAL_TTL = dt.timedelta(hours=12)
MAX_SESSION_CS = 12 * 3600 * 100
ADL = "http://adlnet.gov/expapi/verbs/"
ENDING_VERBS = {ADL + "terminated", ADL + "exited", ADL + "suspended"}


def launch_url(session: Session, settings: Settings, rs: RuntimeSession, content_url: str, *, now: dt.datetime) -> str:
    au = cmi5.au_session(session, rs)
    user = session.get(User, au.registration.user_id)
    actor = recorder.learner_actor(au.base_url, au.registration.user_id, user.full_name)
    client, secret = lrs_auth.issue_temporary(
        session, settings.secret_key, name=f"xAPI launch {au.session_id}",
        scopes=["statements/write", "statements/read/mine", "state", "profile"],
        actor_ifi=ifi_of(actor), registration=str(au.registration.id), expires_at=now + CREDENTIAL_TTL,
    )
    if rs.lrs_client_id is not None:  # the launch URL was opened again: the earlier credential ends
        previous = session.get(lrs_auth.LrsClient, rs.lrs_client_id)
        if previous is not None:
            previous.revoked_at = now
    rs.lrs_client_id = client.id
    rs.fetched_at = now
    session.flush()
    params = {
        "endpoint": f"{au.base_url}/xapi/",
        "auth": "Basic " + base64.b64encode(f"{client.key}:{secret}".encode()).decode(),
        "actor": json.dumps(actor, separators=(",", ":")),
        "registration": str(au.registration.id),
        "activity_id": au.unit.identifier,
    }
    return content_url + ("&" if "?" in content_url else "?") + urlencode(params)


class TinCanTracking:
    """The LRS statement hook for xAPI package credentials: progress from the content's statements."""

    def check(self, session: Session, auth: LrsAuth, statements: list[dict[str, Any]], now: dt.datetime) -> None:
        return None  # any valid statement about the learner and registration is accepted

    def after(self, session: Session, auth: LrsAuth, statements: list[dict[str, Any]], now: dt.datetime) -> None:
        au = cmi5.launched_session(session, auth, Standard.xapi)
        if au is None:
            return
        rs, state = au.runtime_session, au.state
        fresh_attempt = au.attempt.completion_status == "not attempted"
        ended = False
        for s in statements:
            if s["object"].get("id") != au.unit.identifier:
                continue
            verb = s["verb"]["id"]
            result = s.get("result") or {}
            if state.completion_status == "not attempted":
                state.completion_status = "incomplete"
            if verb == ADL + "completed" or result.get("completion") is True:
                state.completion_status = "completed"
            if verb == ADL + "passed" or result.get("success") is True:
                state.success_status = "passed"
            elif (verb == ADL + "failed" or result.get("success") is False) and state.success_status != "passed":
                state.success_status = "failed"
            scaled = (result.get("score") or {}).get("scaled")
            if isinstance(scaled, int | float):
                state.score_scaled = float(scaled)
            ended = ended or verb in ENDING_VERBS
        rs.initialized = True
        rs.last_commit_at = now
        rs.session_time_cs = max(rs.session_time_cs, min(MAX_SESSION_CS, int((now - rs.started_at).total_seconds() * 100)))
        state.total_time_cs = sum(x.session_time_cs for x in runtime.repository.sessions_of(session, state.id))
        state.updated_at = now
        runtime.roll_up(session, au, now, terminated=ended)
        added = rs.session_time_cs - rs.reported_time_cs
        rs.reported_time_cs = rs.session_time_cs
        runtime.report_progress(session, au, now, attempt_started=fresh_attempt, added_seconds=max(0, round(added / 100)))
