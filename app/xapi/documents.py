"""State, Activity Profile and Agent Profile documents: ETags, concurrency, JSON merge."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.core.errors import BadRequest, Conflict, NotFound, PreconditionFailed
from app.xapi.models import Document

JSON_TYPE = "application/json"


@dataclass(frozen=True)
class DocKey:
    kind: str  # state | activity_profile | agent_profile
    activity_id: str = ""
    agent_ifi: str = ""
    registration: str = ""

    def where(self):
        return (
            Document.kind == self.kind,
            Document.activity_id == self.activity_id,
            Document.agent_ifi == self.agent_ifi,
            Document.registration == self.registration,
        )


class ConcurrencyRequired(Conflict):
    code = "concurrency-required"
    title = "Conditional request required"


def etag_of(content: bytes) -> str:
    return hashlib.sha1(content).hexdigest()


def _is_json_type(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == JSON_TYPE


def get(session: Session, key: DocKey, doc_id: str) -> Document | None:
    return session.scalars(select(Document).where(*key.where(), Document.doc_id == doc_id)).first()


def list_ids(session: Session, key: DocKey, since: dt.datetime | None) -> list[str]:
    stmt = select(Document.doc_id).where(*key.where())
    if since is not None:
        stmt = stmt.where(Document.updated_at > since)
    return list(session.scalars(stmt.order_by(Document.doc_id)))


def _check_preconditions(existing: Document | None, if_match: str | None, if_none_match: str | None) -> None:
    if if_match is not None:
        tags = {t.strip().strip('"') for t in if_match.split(",")}
        if existing is None or ("*" not in tags and existing.etag not in tags):
            raise PreconditionFailed("If-Match does not match the current document.")
    if if_none_match is not None:
        tags = {t.strip().strip('"') for t in if_none_match.split(",")}
        if existing is not None and ("*" in tags or existing.etag in tags):
            raise PreconditionFailed("If-None-Match: the document exists.")


def put(
    session: Session, key: DocKey, doc_id: str, content: bytes, content_type: str | None, *, now: dt.datetime,
    if_match: str | None, if_none_match: str | None, concurrency: str,
) -> Document:
    """`concurrency` says what a PUT without If-Match/If-None-Match gets: "optional" (1.0.3 State),
    "existing" (409 over an existing document: 2.0 State), "required" (409 over an existing
    document, 400 for a new one: the profile resources)."""
    existing = get(session, key, doc_id)
    _check_preconditions(existing, if_match, if_none_match)
    if concurrency != "optional" and if_match is None and if_none_match is None:
        if existing is not None:
            raise ConcurrencyRequired("The document exists: send If-Match with its ETag to overwrite it.")
        if concurrency == "required":
            raise BadRequest("Send If-None-Match: * to create this document (or If-Match to replace one).")
    return _write(session, key, doc_id, existing, content, content_type or "application/octet-stream", now)


def post(
    session: Session, key: DocKey, doc_id: str, content: bytes, content_type: str | None, *, now: dt.datetime,
    if_match: str | None, if_none_match: str | None,
) -> Document:
    """Merge JSON objects (top-level properties of the new one win); anything else is 400
    when a document exists."""
    existing = get(session, key, doc_id)
    _check_preconditions(existing, if_match, if_none_match)
    if existing is None:
        if _is_json_type(content_type):
            _json_object(content, "the posted document")
        return _write(session, key, doc_id, None, content, content_type or "application/octet-stream", now)
    if not (_is_json_type(content_type) and _is_json_type(existing.content_type)):
        raise BadRequest("POST merges JSON documents only; both the stored and the posted document must be application/json.")
    merged = {**_json_object(existing.content, "the stored document"), **_json_object(content, "the posted document")}
    return _write(session, key, doc_id, existing, json.dumps(merged, ensure_ascii=False).encode(), JSON_TYPE, now)


def _json_object(content: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(f"{what} is not valid JSON.") from None
    if not isinstance(value, dict):
        raise BadRequest(f"{what} is not a JSON object.")
    return value


def _write(session: Session, key: DocKey, doc_id: str, existing: Document | None, content: bytes, content_type: str, now: dt.datetime) -> Document:
    if existing is None:
        existing = Document(kind=key.kind, activity_id=key.activity_id, agent_ifi=key.agent_ifi,
                            registration=key.registration, doc_id=doc_id, content=content, content_type=content_type,
                            etag=etag_of(content), updated_at=now)
        session.add(existing)
    else:
        existing.content = content
        existing.content_type = content_type
        existing.etag = etag_of(content)
        existing.updated_at = now
    session.flush()
    return existing


def remove(session: Session, key: DocKey, doc_id: str | None, *, if_match: str | None, keep_prefix: str | None = None) -> None:
    """Delete one document, or all under the key (except those whose id starts with `keep_prefix`)."""
    if doc_id is None:
        stmt = delete(Document).where(*key.where())
        if keep_prefix:
            stmt = stmt.where(~Document.doc_id.startswith(keep_prefix, autoescape=True))
        session.execute(stmt)
        return
    existing = get(session, key, doc_id)
    if if_match is not None:
        _check_preconditions(existing, if_match, None)
    if existing is None:
        return  # deleting a missing document is not an error (204)
    session.delete(existing)
    session.flush()


def require(doc: Document | None, what: str) -> Document:
    if doc is None:
        raise NotFound(f"No such {what}.")
    return doc
