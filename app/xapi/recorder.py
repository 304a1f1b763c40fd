"""Statements the platform itself records (progress, SCORM run-time, assessments).

Other domains call `record(...)` inside their own transaction: the statements are validated like
any client's, stored with the platform as authority, and indexed for the same queries. A failure
raises like a client's write would (BadRequest/Conflict), so a broken producer is caught by tests.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.orm import Session

from app.xapi import statements
from app.xapi.auth import LrsAuth

PLATFORM_NAME = "RMTC Learning Platform"
_LAST_STORED = statements.LAST_STORED

# ADL verbs the platform uses.
VERBS = {
    name: f"http://adlnet.gov/expapi/verbs/{name}"
    for name in ("attempted", "initialized", "resumed", "suspended", "terminated", "completed", "passed", "failed",
                 "scored", "responded", "answered", "experienced", "registered", "launched", "satisfied", "waived",
                 "abandoned", "progressed", "voided")
}


def platform_authority(base_url: str) -> dict[str, Any]:
    return {"objectType": "Agent", "name": PLATFORM_NAME, "account": {"homePage": base_url, "name": "rmtc-platform"}}


def platform_auth(base_url: str) -> LrsAuth:
    return LrsAuth(credential="platform", authority=platform_authority(base_url), scopes={"all"})


def learner_actor(base_url: str, user_id: uuid.UUID, name: str | None = None) -> dict[str, Any]:
    """The actor the platform uses for a learner: an account on this platform (no e-mail address in the LRS)."""
    actor: dict[str, Any] = {"objectType": "Agent", "account": {"homePage": base_url, "name": str(user_id)}}
    if name:
        actor["name"] = name
    return actor


def verb(name: str, language: str = "en-US") -> dict[str, Any]:
    return {"id": VERBS[name], "display": {language: name}}


def timestamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record(session: Session, batch: list[dict[str, Any]], *, base_url: str, now: dt.datetime) -> list[str]:
    """Validate and store statements as the platform; returns their ids (in order)."""
    if not batch:
        return []
    auth = platform_auth(base_url)
    # Several records in one transaction (a module, then its course) keep their order in `stored`.
    last = session.info.get(_LAST_STORED)
    stored = now if last is None or now > last else last + dt.timedelta(microseconds=1)
    session.info[_LAST_STORED] = stored + dt.timedelta(microseconds=len(batch) - 1)
    prepared = statements.prepare(batch, auth, version="1.0.3")
    return statements.store(session, auth, prepared, base_url=base_url, now=stored)
